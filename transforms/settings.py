"""Destination settings (docs/mapping.md, section 1) and their validation.

The pipeline builds one ``Settings`` at launch with ``load_settings``; a bad
value stops it there with one readable line. The API key is a ``SecretStr``:
it is shown nowhere (repr, str, errors) except in ``authorization()``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from transforms.limits import BATCH_PATH, CUSTOMERS_PATH, SEGMENTS_PATH

HOSTS = {"US": "https://track.customer.io", "EU": "https://track-eu.customer.io"}


class SettingsError(ValueError):
    """Invalid settings; ``str(err)`` is one line naming every bad setting."""


def _upper(value):
    return value.strip().upper() if isinstance(value, str) else value


def _lower(value):
    return value.strip().lower() if isinstance(value, str) else value


@dataclass(slots=True, frozen=True)
class EventOptions:
    """The settings every track, page and screen event reads (``Settings.event_options``)."""

    device_token_event: str | None
    dedup_ids: bool
    convert_timestamps: bool


@dataclass(slots=True, frozen=True)
class Urls:
    """Where the requests of one ``Settings`` go: all the renderers read of them (``Settings.urls``)."""

    base: str  # Settings.base_url
    customers: str  # Settings.customers_url, the start of every v1 person path
    batch: str  # Settings.batch_url
    segment_add: str  # Settings.segment_url(False)
    segment_remove: str  # Settings.segment_url(True)


class Settings(BaseModel):
    """Where and how to send: one Customer.io workspace."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    site_id: str = Field(min_length=1)
    api_key: SecretStr = Field(min_length=1)
    datacenter: Literal["US", "EU"] = "US"
    api_version: Literal["v1", "v2"] = "v1"
    device_token_event: Optional[str] = None
    record_object: Literal["person", "event"] = "person"
    dedup_ids: bool = True
    # ISO-8601 date-times in traits and properties to Unix seconds (transforms/timestamps.py).
    convert_timestamps: bool = False
    endpoint: Optional[str] = None
    # Manual segment sync: records add/remove people to/from this segment.
    audience_id: Optional[str] = None
    id_type: Literal["id", "email", "cio_id"] = "id"

    _datacenter = field_validator("datacenter", mode="before")(_upper)
    _lowercase = field_validator("api_version", "record_object", "id_type", mode="before")(_lower)

    @field_validator("audience_id", mode="before")
    @classmethod
    def _audience(cls, value):
        # Customer.io segment ids are whole numbers (the path parameter is an int32).
        if value is None or value == "":
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip().isdecimal() or not value.strip().isascii():
            raise ValueError("must be a segment id, a whole number")
        return value.strip()

    @field_validator("site_id", mode="before")
    @classmethod
    def _strip(cls, value):
        return value.strip() if isinstance(value, str) else value

    @field_validator("device_token_event", mode="before")
    @classmethod
    def _empty_is_none(cls, value):
        return None if value == "" else value

    @field_validator("endpoint", mode="before")
    @classmethod
    def _endpoint(cls, value):
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not value.lower().startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        if len(value.rstrip("/")) <= len("https://") and value.lower().startswith("https"):
            raise ValueError("must name a host")
        return value.rstrip("/")

    # The URLs are read once per event: cached_property computes each once and
    # stores it in the instance __dict__, where later reads find it like a
    # field (a plain property recomputes the URL at every read; see
    # bench/bench_mapping.py). The fields
    # are frozen, so the cached value cannot go stale, except through
    # model_copy(update=...), which drops it (below). Pydantic ignores these
    # in validation, equality, dumps and repr.
    @cached_property
    def base_url(self) -> str:
        return self.endpoint or HOSTS[self.datacenter]

    # Reading a field of a pydantic model goes through its __getattr__ hook,
    # several times the cost of reading a slot: map_events reads this once
    # per event instead of three fields.
    @cached_property
    def event_options(self) -> EventOptions:
        return EventOptions(self.device_token_event, self.dedup_ids, self.convert_timestamps)

    # The renderers read a URL per event: one slotted object holds them all,
    # and the dispatch (transforms/mapping.py) fetches it once per Settings.
    @cached_property
    def urls(self) -> Urls:
        return Urls(self.base_url, self.customers_url, self.batch_url, self.segment_url(False),
                    self.segment_url(True))

    def segment_url(self, remove: bool) -> str:
        """``POST`` URL adding to (or removing from) the manual segment ``audience_id``."""
        verb = "remove_customers" if remove else "add_customers"
        return f"{self.base_url}{SEGMENTS_PATH}/{self.audience_id}/{verb}?id_type={self.id_type}"

    @cached_property
    def batch_url(self) -> str:
        return self.base_url + BATCH_PATH

    @cached_property
    def customers_url(self) -> str:
        """``{base_url}/api/v1/customers/``, the start of every v1 person path."""
        return self.base_url + CUSTOMERS_PATH

    def model_copy(self, *, update=None, deep: bool = False) -> "Settings":
        # The copy starts from this instance's __dict__, cached values included:
        # drop them, so that a copy with another endpoint, datacenter or
        # option computes its own.
        copy = super().model_copy(update=update, deep=deep)
        for name in _CACHED:
            copy.__dict__.pop(name, None)
        return copy

    def authorization(self, api_key: str | None = None) -> str:
        """The ``Authorization`` header value: ``Basic base64(site_id:api_key)``.

        ``api_key`` overrides the key held here (a worker that fetched it
        from Secret Manager itself).
        """
        key = self.api_key.get_secret_value() if api_key is None else api_key
        pair = f"{self.site_id}:{key}"
        return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")

    def without_key(self) -> "Settings":
        """A copy without the API key, for steps that do not send anything.

        DoFns are pickled into the job graph; only the delivery step needs
        the key (and not even it when the key comes from Secret Manager).
        """
        return self.model_copy(update={"api_key": SecretStr("")})


_CACHED = ("base_url", "batch_url", "customers_url", "event_options", "urls")

_CHOICES = {
    "datacenter": "must be US or EU",
    "api_version": "must be v1 or v2",
    "record_object": "must be person or event",
    "id_type": "must be id, email or cio_id",
}


def _reason(error: Mapping[str, Any]) -> str:
    name = ".".join(str(part) for part in error["loc"]) or "settings"
    kind = error["type"]
    value = error.get("input")
    if kind == "missing" or (name in ("site_id", "api_key") and value in ("", None)):
        return f"{name} is required"
    if kind == "extra_forbidden":
        return f"{name} is not a setting"
    if name == "api_key":  # never echo the key, not even a wrong one
        return "api_key must be a non-empty string"
    if name in _CHOICES:
        return f"{name} {_CHOICES[name]} (got {value!r})"
    if kind == "string_type":
        return f"{name} must be a string (got {value!r})"
    if kind.startswith("bool_"):
        return f"{name} must be true or false (got {value!r})"
    return f"{name} {error['msg'].removeprefix('Value error, ')} (got {value!r})"


def load_settings(**values) -> Settings:
    """Validated settings; a ``SettingsError`` naming each bad one otherwise."""
    try:
        return Settings(**values)
    except ValidationError as err:
        reasons = [_reason(e) for e in err.errors(include_url=False)]
        raise SettingsError("invalid settings: " + "; ".join(reasons)) from None

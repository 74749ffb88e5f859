"""``cio_<id>`` user ids: a person named by Customer.io's own identifier.

Customer.io gives every person a ``cio_id``; its SDKs and Segment's
destination send a user id of the form ``cio_<cio_id>`` to mean "the person
with this cio_id", which is how a person whose ``id`` or ``email`` changes is
addressed. The two API versions spell it differently:

- v1: the path identifier is the value itself, ``/api/v1/customers/cio_<id>``
  (Customer.io's OpenAPI document: "when you reference people by cio_id, you
  must prefix the value with cio_"; it tells the kind of identifier from the
  value's shape);
- v2: the identifiers object names it, without the prefix:
  ``{"cio_id": "<id>"}``.

A user id starting with ``cio_`` must be followed by the cio_id itself,
letters and digits only (the document's format ``cio_[a-zA-Z0-9]*``, with at
least one character): Customer.io would read any other value starting with
``cio_`` as a cio_id that cannot exist, so it is a ``MappingError`` here
instead of a call that updates nobody. The prefix is lower-case; ``CIO_x``,
numeric user ids and values with an ``@`` (e-mail addresses such as
``cio_team@x.co``) are ordinary ids.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from transforms.errors import MappingError
from transforms.ids import check_person_id, clip, encode_path, is_email

CIO_PREFIX = "cio_"
_CIO_ID = re.compile(r"[A-Za-z0-9]+")


class PersonRef(NamedTuple):
    """How both API versions name one person given by a user id."""

    identifiers: dict  # v2 ``identifiers``: {"cio_id": "<id>"} or {"id": user_id}
    path: str  # v1 path segment after /api/v1/customers/, percent-encoded
    key: str  # the ordering key: "cio_id:<id>" or "id:<user id>"


def cio_id_of(user_id: str | int) -> str | None:
    """The cio_id a ``cio_<id>`` user id names; None for any other user id.

    A user id starting with ``cio_`` that is not ``cio_`` + letters and
    digits is a MappingError.
    """
    if type(user_id) is not str or not user_id.startswith(CIO_PREFIX) or "@" in user_id:
        return None  # "cio_team@x.co" is an e-mail address, not a cio_id
    cio_id = user_id[len(CIO_PREFIX):]
    if _CIO_ID.fullmatch(cio_id) is None:  # [A-Za-z0-9] is ASCII only
        raise MappingError(f"user id {clip(user_id)!r} starts with cio_ but is not cio_ followed by a "
                           "Customer.io cio_id (letters and digits)")
    return cio_id


def person_identifiers_for(user_id: str | int) -> PersonRef:
    """v2 identifiers, v1 path segment and ordering key of the person ``user_id`` names.

    ``cio_<id>`` → ``({"cio_id": "<id>"}, "cio_<id>", "cio_id:<id>")``;
    any other user id → ``({"id": user_id}, encode_path(user_id), "id:<user_id>")``
    (a numeric id stays a number in v2, as ``transforms.v2.person_identifiers``
    keeps it). Ids over Customer.io's 150 bytes are a MappingError.
    """
    check_person_id(user_id, "user id")
    cio_id = cio_id_of(user_id)
    if cio_id is not None:
        return PersonRef({"cio_id": cio_id}, user_id, f"cio_id:{cio_id}")
    return PersonRef({"id": user_id}, encode_path(user_id), f"id:{user_id}")


def relationship_identifiers(value: str | int) -> dict:
    """A person in ``cio_relationships`` (group calls): cio_id, email or id.

    Like ``transforms.ids.id_or_email`` (an email-looking value is an
    ``email``, anything else an ``id`` as text), with ``cio_<id>`` first.
    """
    cio_id = cio_id_of(value)
    if cio_id is not None:
        return {"cio_id": cio_id}
    return {"email": value} if is_email(value) else {"id": str(value)}

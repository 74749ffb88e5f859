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

from transforms.errors import MappingError
from transforms.ids import clip, is_email

CIO_PREFIX = "cio_"
_CIO_ID = re.compile(r"[A-Za-z0-9]+")


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


def relationship_identifiers(value: str | int) -> dict:
    """A person in ``cio_relationships`` (group calls): cio_id, email or id.

    Like ``transforms.ids.id_or_email`` (an email-looking value is an
    ``email``, anything else an ``id`` as text), with ``cio_<id>`` first.
    """
    # This runs for every group and alias call: the usual id skips both the
    # e-mail pattern (only a text with an @ can match it, and such a text is
    # never a cio_id) and the cio_id check (only a text starting with cio_).
    if type(value) is str:
        if "@" in value:
            return {"email": value} if is_email(value) else {"id": value}
        if value[:4] == CIO_PREFIX:
            cio_id = cio_id_of(value)
            if cio_id is not None:
                return {"cio_id": cio_id}
        return {"id": value}
    return {"email": value} if is_email(value) else {"id": str(value)}  # a number, or a str subclass

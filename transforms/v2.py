"""Track API v2 items (MAPPING.md section 5b).

In v2 mode every event becomes one item of ``POST /api/v2/batch``. This
module holds what all v2 person items share: who they are about.
"""

from __future__ import annotations

from transforms.errors import MappingError
from transforms.ids import check_person_id


def person_identifiers(
    user_id: str | int | None, email: str | None, anonymous_id: str | None
) -> tuple[dict, str]:
    """``({"id"|"email"|"anonymous_id": value}, person_key)``, first present wins.

    A numeric user id stays a number (Customer.io accepts both).
    """
    if user_id is not None:
        check_person_id(user_id, "user id")
        return {"id": user_id}, f"id:{user_id}"
    if email is not None:
        check_person_id(email, "email")
        return {"email": email}, f"email:{email}"
    if anonymous_id is not None:
        return {"anonymous_id": anonymous_id}, f"anonymous_id:{anonymous_id}"
    raise MappingError("userId, email or anonymousId is required")


def person_item(action: str, identifiers: dict) -> dict:
    """The start of a person item; the caller adds the action's fields (only those present)."""
    return {"type": "person", "action": action, "identifiers": identifiers}

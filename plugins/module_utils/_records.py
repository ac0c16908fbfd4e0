# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Reading Cloud66 records in every shape Cloud66 publishes. Private to this collection.

Cloud66's endpoint examples and its model pages spell the same fields differently (``name`` or
``database_name``, ``action_type`` or ``action``, ...). Each reader here keeps every field the API sent and adds
the names our documentation returns where the API used the other spelling, so that callers and users see one
shape whichever one the API speaks.
"""

from __future__ import annotations

from typing import Any

# For each kind of record: (the name we document, the other spelling Cloud66 publishes).
DATABASE_SPELLINGS = (
    ("name", "database_name"),
    ("charset", "encoding"),
    ("created_at", "created_at_iso"),
    ("updated_at", "updated_at_iso"),
)
ACTION_SPELLINGS = (("action_type", "action"),)
USER_SPELLINGS = (("created_at", "created_at_iso"), ("updated_at", "updated_at_iso"))
PAGINATION_SPELLINGS = (("previous", "prev"),)


def _with_spellings(raw: Any, spellings: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    record = dict(raw) if isinstance(raw, dict) else {}
    for documented, other in spellings:
        if record.get(documented) is None and record.get(other) is not None:
            record[documented] = record[other]
    return record


def text(value: Any) -> str | None:
    """``value`` when it is a string, else None: a field of another type never matches a name."""
    return value if isinstance(value, str) else None


def database_record(raw: Any) -> dict[str, Any]:
    return _with_spellings(raw, DATABASE_SPELLINGS)


def database_names(record: dict[str, Any]) -> set[str]:
    """Every name a listed database answers to (both spellings, when Cloud66 sent both)."""
    return set(
        name for name in (text(record.get("name")), text(record.get("database_name"))) if name
    )


def action_record(raw: Any) -> dict[str, Any]:
    return _with_spellings(raw, ACTION_SPELLINGS)


def action_name(action: dict[str, Any]) -> str:
    """What an action does, for messages: ``database_create`` and the like."""
    return text(action.get("action_type")) or text(action.get("action")) or "action"


def server_group_record(raw: Any) -> dict[str, Any]:
    return _with_spellings(raw, ())


def user_record(raw: Any) -> dict[str, Any]:
    return _with_spellings(raw, USER_SPELLINGS)


def page_info(body: Any) -> dict[str, Any]:
    """The pagination of a list answer in either spelling; an empty dict when the answer has none."""
    pagination = body.get("pagination") if isinstance(body, dict) else None
    return _with_spellings(pagination, PAGINATION_SPELLINGS)


def whole_number(value: Any) -> int | None:
    """``value`` as an int when it is one (or a string of one), else None. Booleans are not numbers here."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        return int(value.strip())
    return None

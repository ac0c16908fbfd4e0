# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Reading Cloud66 records in every shape Cloud66 publishes. Private to this collection.

Cloud66's endpoint examples and its model pages spell the same fields differently (``name`` or
``database_name``, ``action_type`` or ``action``, ...). Each reader here keeps every field the API sent and adds
the names our documentation returns where the API used the other spelling, so that callers and users see one
shape whichever one the API speaks.
"""

from __future__ import annotations

import re
from typing import Any

from ._errors import Cloud66Error

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


# Keys that name a password, a secret or a token: what Cloud66 sends under them never reaches a result unasked.
SECRET_KEY = re.compile(r"passw|secret|token|private_key|api_key|credential", re.IGNORECASE)
PASSWORD_KEY = re.compile(r"passw", re.IGNORECASE)
# Keys of our own that name a flag about a password, not a password.
FLAG_KEYS = frozenset(
    ["password_regenerated", "regenerate_password", "return_password", "show_password"]
)


def is_secret_key(key: Any, keep_passwords: bool = False) -> bool:
    if not isinstance(key, str) or key in FLAG_KEYS or not SECRET_KEY.search(key):
        return False
    return not (keep_passwords and PASSWORD_KEY.search(key) and not _names_other_secret(key))


def _names_other_secret(key: str) -> bool:
    return bool(SECRET_KEY.search(PASSWORD_KEY.sub("", key)))


def without_secrets(value: Any, keep_passwords: bool = False) -> Any:
    """``value`` (a record, an action, a result) without any key, at any depth, that names a password, a secret or
    a token (``password``, ``generated_password``, ``password_hash``, ``secret_key``, ``token``, ...).

    With ``keep_passwords`` the keys that name only a password stay: for a task that asked for the password.
    """
    if isinstance(value, dict):
        return dict(
            (key, without_secrets(item, keep_passwords))
            for key, item in value.items()
            if not is_secret_key(key, keep_passwords)
        )
    if isinstance(value, (list, tuple)):
        return [without_secrets(item, keep_passwords) for item in value]
    return value


def _with_spellings(raw: Any, spellings: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    record = dict(raw) if isinstance(raw, dict) else {}
    for documented, other in spellings:
        if record.get(documented) is None and record.get(other) is not None:
            record[documented] = record[other]
    return record


def text(value: Any) -> str | None:
    """``value`` when it is a string, else None: a field of another type never matches a name."""
    return value if isinstance(value, str) else None


NON_EMPTY_TEXT = "a non-empty string"
TEXT = "a string"
TEXTS = "a list of strings"
IDENTIFIER = "a non-empty string or a number"
FLAG = "a boolean"


def _is(value: Any, expected: str) -> bool:
    if expected == NON_EMPTY_TEXT:
        return isinstance(value, str) and bool(value.strip())
    if expected == TEXT:
        return isinstance(value, str)
    if expected == TEXTS:
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    if expected == IDENTIFIER:
        return _is(value, NON_EMPTY_TEXT) or (
            isinstance(value, int) and not isinstance(value, bool)
        )
    if expected == FLAG:
        return isinstance(value, bool) or (
            isinstance(value, str) and value.strip().lower() in ("true", "false")
        )
    raise AssertionError(expected)


def json_kind(value: Any) -> str:
    """What a JSON value is, in JSON's words, without quoting it (it may be anything a server sent)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value.strip() else "a string"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else "something else"


# What each kind of record must hold: (field, what it must be, whether it must be there). A field the collection
# never reads is not checked; a field it reads is, so that no odd value reaches a path, a comparison or a message.
DATABASE_FIELDS = (
    ("uid", NON_EMPTY_TEXT, True),
    ("name", NON_EMPTY_TEXT, True),
    ("database_name", TEXT, False),
    ("users", TEXTS, False),
)
USER_FIELDS = (
    ("uid", NON_EMPTY_TEXT, True),
    ("username", NON_EMPTY_TEXT, True),
    ("user_type", TEXT, False),
    ("databases", TEXTS, False),
)
ACTION_FIELDS = (
    ("id", IDENTIFIER, True),
    ("status", TEXT, False),
    ("finished_success", FLAG, False),
    ("finished_message", TEXT, False),
    ("action_type", TEXT, False),
)
SERVER_GROUP_FIELDS = (("id", IDENTIFIER, True), ("name", TEXT, False), ("type", TEXT, False))
STACK_FIELDS = (("uid", NON_EMPTY_TEXT, True), ("name", TEXT, True), ("environment", TEXT, False))


def record_problem(record: Any, fields: tuple[tuple[str, str, bool], ...]) -> str | None:
    """What is wrong with a record, naming the first field that is not as ``fields`` say; None when it is fine.

    A field that is optional may be missing or null.
    """
    if not isinstance(record, dict):
        return "it is %s, not an object" % json_kind(record)
    for field, expected, required in fields:
        value = record.get(field)
        if value is None and not required:
            continue
        if not _is(value, expected):
            return "its %r must be %s, not %s" % (
                field,
                expected,
                "missing" if field not in record else json_kind(value),
            )
    return None


def checked(
    raw: Any,
    spellings: tuple[tuple[str, str], ...],
    fields: tuple[tuple[str, str, bool], ...],
    noun: str,
) -> dict[str, Any]:
    """``raw`` with the documented spellings added, when it holds ``fields`` as they must be; else a Cloud66Error
    naming the field."""
    record = _with_spellings(raw, spellings)
    problem = record_problem(raw if not isinstance(raw, dict) else record, fields)
    if problem:
        raise Cloud66Error(
            "Cloud66 sent a %s this collection cannot read: %s (its fields: %s). Cloud66 may have changed "
            "its answers; please report this."
            % (noun, problem, ", ".join(sorted(str(key) for key in record)) or "none")
        )
    return record


def database_record(raw: Any) -> dict[str, Any]:
    """A listed database in the documented shape, checked (see DATABASE_FIELDS)."""
    return checked(raw, DATABASE_SPELLINGS, DATABASE_FIELDS, "database")


def database_names(record: dict[str, Any]) -> set[str]:
    """Every name a listed database answers to (both spellings, when Cloud66 sent both)."""
    return set(
        name for name in (text(record.get("name")), text(record.get("database_name"))) if name
    )


def action_record(raw: Any) -> dict[str, Any]:
    """An action in the documented shape, checked (see ACTION_FIELDS)."""
    return checked(raw, ACTION_SPELLINGS, ACTION_FIELDS, "action")


def action_name(action: dict[str, Any]) -> str:
    """What an action does, for messages: ``database_create`` and the like."""
    return text(action.get("action_type")) or text(action.get("action")) or "action"


def server_group_record(raw: Any) -> dict[str, Any]:
    """A listed server group, checked (see SERVER_GROUP_FIELDS)."""
    return checked(raw, (), SERVER_GROUP_FIELDS, "server group")


def stack_record(raw: Any) -> dict[str, Any]:
    """A listed stack, checked (see STACK_FIELDS)."""
    return checked(raw, (), STACK_FIELDS, "stack")


def user_record(raw: Any) -> dict[str, Any]:
    """A listed database user in the documented shape, checked (see USER_FIELDS)."""
    return checked(raw, USER_SPELLINGS, USER_FIELDS, "database user")


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

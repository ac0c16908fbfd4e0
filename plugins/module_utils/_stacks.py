# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Finding a stack and a server group by name, so that playbooks need no copied ids. Private to this collection."""

from __future__ import annotations

from typing import Any

from ._client import Cloud66Client, api_path
from ._errors import Cloud66Error
from ._records import server_group_record, text

DATABASE_GROUP_TYPES = ("mysql", "postgresql")
STACK_NOT_FOUND = (
    "Stack %s was not found, or the token's account cannot see it "
    "(set account_id to reach another account)."
)


def _describe(records: list[dict[str, Any]], *keys: str) -> str:
    return ", ".join("/".join(str(record.get(key)) for key in keys) for record in records) or "none"


def find_stack_id(client: Cloud66Client, name: str, environment: str | None = None) -> str | int:
    """The uid of the stack called ``name`` (case-insensitive), in ``environment`` when given.

    Fails when no stack or more than one stack matches, naming what there is instead of guessing.
    """
    stacks = [stack for items in client.pages("/stacks") for stack in items]
    matches = [stack for stack in stacks if str(stack.get("name", "")).lower() == name.lower()]
    if environment:
        matches = [
            stack
            for stack in matches
            if str(stack.get("environment", "")).lower() == environment.lower()
        ]
    where = "%r%s" % (name, " in environment %r" % environment if environment else "")
    if not matches:
        raise Cloud66Error(
            "No stack named %s is visible to this token and account. Stacks seen (name/environment): %s."
            % (where, _describe(stacks, "name", "environment"))
        )
    if len(matches) > 1:
        raise Cloud66Error(
            "%d stacks are named %s (name/environment/uid: %s). Give environment or stack_id to pick one."
            % (len(matches), where, _describe(matches, "name", "environment", "uid"))
        )
    return _identifier(matches[0], "uid", "stack %s" % where)


def find_server_group_id(
    client: Cloud66Client,
    stack_id: str | int,
    name: str | None = None,
    group_type: str | None = None,
) -> str:
    """The id of the server group of the stack with this name, or the only one of this type."""
    try:
        groups = [
            group
            for items in client.pages(api_path("stacks", stack_id, "server_groups"))
            for group in items
        ]
    except Cloud66Error as exc:
        if exc.status == 404:
            raise Cloud66Error(
                STACK_NOT_FOUND % stack_id, status=404, error=exc.error, description=exc.description
            ) from exc
        raise
    groups = [server_group_record(group) for group in groups]
    if name:
        matches = [group for group in groups if group.get("name") == name]
        what = "named %r" % name
    elif any(not text(group.get("type")) for group in groups):
        raise Cloud66Error(
            "Cloud66 did not report the type of every server group of stack %s, so server_group_type "
            "cannot pick one. Give server_group_name or server_group_id instead. Its groups (name/id): %s."
            % (stack_id, _describe(groups, "name", "id"))
        )
    else:
        matches = [
            group for group in groups if str(group.get("type", "")).lower() == group_type.lower()
        ]
        what = "of type %r" % group_type
    if not matches:
        raise Cloud66Error(
            "Stack %s has no server group %s. Its groups (name/type/id): %s."
            % (stack_id, what, _describe(groups, "name", "type", "id"))
        )
    if len(matches) > 1:
        raise Cloud66Error(
            "Stack %s has %d server groups %s (name/type/id: %s). Give server_group_name or server_group_id."
            % (stack_id, len(matches), what, _describe(matches, "name", "type", "id"))
        )
    return str(_identifier(matches[0], "id", "server group %s of stack %s" % (what, stack_id)))


def _identifier(record: dict[str, Any], key: str, what: str) -> str | int:
    """The ``key`` of a listed record, which must be a non-empty string or a number."""
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise Cloud66Error(
            "Cloud66 listed the %s without a usable %s (got %r)." % (what, key, value)
        )
    return value

# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Resolving how a playbook names a stack and a server group (ids, names, types, any spelling) to one key, so that
playbooks need no copied ids and two spellings of one group are one group. Private to this collection."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ._client import Cloud66Client, api_path
from ._errors import Cloud66Error
from ._records import server_group_record, stack_record, text

DATABASE_GROUP_TYPES = ("mysql", "postgresql")
STACK_NOT_FOUND = (
    "Stack %s was not found, or the token's account cannot see it "
    "(set account_id to reach another account)."
)


def _describe(records: list[dict[str, Any]], *keys: str) -> str:
    return ", ".join("/".join(str(record.get(key)) for key in keys) for record in records) or "none"


@dataclass(frozen=True)
class Target:
    """A server group as a task names it: a stack by uid or by name (and environment), a group by id, name or
    type. Empty strings count as unset."""

    stack_id: str | None = None
    stack_name: str | None = None
    environment: str | None = None
    server_group_id: str | None = None
    server_group_name: str | None = None
    server_group_type: str | None = None

    @classmethod
    def of(cls, options: dict[str, Any]) -> Target:
        """The target that module options name, their values trimmed (a number as its digits)."""
        values = {}
        for field in cls.__dataclass_fields__:
            value = options.get(field)
            value = "" if value is None else str(value).strip()
            values[field] = value or None
        return cls(**values)

    def names_nothing(self) -> bool:
        return not any(self.__dict__.values())

    def __str__(self) -> str:
        stack = (
            "stack %s" % self.stack_id
            if self.stack_id
            else "stack %r%s"
            % (self.stack_name, " (%s)" % self.environment if self.environment else "")
        )
        if self.server_group_id:
            group = "server group %s" % self.server_group_id
        elif self.server_group_name:
            group = "server group %r" % self.server_group_name
        else:
            group = "the %s server group" % self.server_group_type
        return "%s, %s" % (stack, group)


@dataclass(frozen=True, order=True)
class GroupKey:
    """One server group, as Cloud66 identifies it: the stack's uid and the group's id."""

    stack_id: str
    server_group_id: str

    def __str__(self) -> str:
        return "stack %s, server group %s" % (self.stack_id, self.server_group_id)


class Resolver:
    """Turns targets into group keys, reading the stack list at most once and each stack's groups at most once."""

    client: Cloud66Client

    def __init__(self, client: Cloud66Client) -> None:
        self.client = client
        self._stacks: list[dict[str, Any]] | None = None
        self._groups: dict[str, list[dict[str, Any]]] = {}

    def resolve_all(self, targets: Iterable[Target]) -> list[GroupKey]:
        """The key of each target. Where any target names a stack by name, the stack list is read and every
        given uid is taken in the spelling Cloud66 lists it; likewise a stack's groups and the ids given for them."""
        targets = list(targets)
        if any(target.stack_name for target in targets):
            self.stacks()
        stack_ids = [self.stack_id(target) for target in targets]
        for stack_id, target in zip(stack_ids, targets, strict=True):
            if not target.server_group_id:
                self.groups(stack_id)
        return [
            GroupKey(stack_id, self.server_group_id(stack_id, target))
            for stack_id, target in zip(stack_ids, targets, strict=True)
        ]

    def resolve(self, target: Target) -> GroupKey:
        return self.resolve_all([target])[0]

    def stacks(self) -> list[dict[str, Any]]:
        if self._stacks is None:
            self._stacks = [
                stack_record(stack) for items in self.client.pages("/stacks") for stack in items
            ]
        return self._stacks

    def groups(self, stack_id: str) -> list[dict[str, Any]]:
        if stack_id not in self._groups:
            try:
                groups = [
                    group
                    for items in self.client.pages(api_path("stacks", stack_id, "server_groups"))
                    for group in items
                ]
            except Cloud66Error as exc:
                if exc.status == 404:
                    raise Cloud66Error(
                        STACK_NOT_FOUND % stack_id,
                        status=404,
                        error=exc.error,
                        description=exc.description,
                    ) from exc
                raise
            self._groups[stack_id] = [server_group_record(group) for group in groups]
        return self._groups[stack_id]

    def stack_id(self, target: Target) -> str:
        """The stack's uid: as given (in the list's spelling when the list was read), or found by name."""
        if target.stack_id:
            for stack in self._stacks or []:
                uid = stack.get("uid")
                if isinstance(uid, str) and uid.lower() == target.stack_id.lower():
                    return uid
            return target.stack_id
        return self._stack_named(target.stack_name or "", target.environment)

    def server_group_id(self, stack_id: str, target: Target) -> str:
        """The group's id: as given, with a number in its plain spelling ("042" is 42), else found by name or type."""
        if target.server_group_id:
            given = target.server_group_id
            return str(int(given)) if given.isascii() and given.isdigit() else given
        return self._group_named(stack_id, target.server_group_name, target.server_group_type)

    def _stack_named(self, name: str, environment: str | None) -> str:
        """The uid of the stack called ``name`` (case-insensitive), in ``environment`` when given.

        Fails when no stack or more than one stack matches, naming what there is instead of guessing.
        """
        stacks = self.stacks()
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
        return str(_identifier(matches[0], "uid", "stack %s" % where))

    def _group_named(self, stack_id: str, name: str | None, group_type: str | None) -> str:
        """The id of the server group of the stack with this name, or the only one of this type."""
        groups = self.groups(stack_id)
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
                group
                for group in groups
                if str(group.get("type", "")).lower() == str(group_type).lower()
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

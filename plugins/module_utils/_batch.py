# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Many databases and database users of one or more server groups at once. Private to this collection.

Three steps, each with one job:

- ``merge``: the asks of every source (a host of the play, or the task itself) that name one resolved server group
  become one ask per database and per user; two sources that ask for one item differently are refused.
- ``plan``: pure. From what the group's lists show and what is asked, the writes to send, in an order that lets a
  new database grant a new user and a new user ask for a new database, and every reason to send none.
- ``BatchRun``: sends the writes of every group, then waits for all their actions with one budget.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._actions import (
    FAILED,
    ActionFailed,
    ActionWaiter,
    WaitTimeout,
    action_outcome,
    wait_for_all,
)
from ._backups import DeleteGuard
from ._client import Deadline
from ._databases import users_warning
from ._errors import Cloud66Error
from ._records import action_name
from ._server_group import ServerGroup
from ._stacks import GroupKey
from ._users import user_warning, without_password

PRESENT = "present"
ABSENT = "absent"
DATABASE = "database"
USER = "database user"
# The order of the writes: users whose databases exist and deletes of users, then databases, then the users that
# need databases created in the same run.
FIRST, DATABASES, LAST = 1, 2, 3


class _Ask:
    """What every kind of ask shares: it is read from a task item, its lists as tuples and an unset state as present."""

    @classmethod
    def of(cls, item: dict[str, Any]) -> Any:
        values = {}
        for name in cls.__dataclass_fields__:  # type: ignore[attr-defined]
            value = item.get(name)
            values[name] = tuple(value) if isinstance(value, list) else value
        values["state"] = values["state"] or PRESENT
        return cls(**values)


@dataclass(frozen=True)
class DatabaseAsk(_Ask):
    """One database as a task item asks for it."""

    name: str
    state: str = PRESENT
    database_users: tuple[str, ...] | None = None
    database_user_ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class UserAsk(_Ask):
    """One database user as a task item asks for it. No ``user_type`` means: application for a new user."""

    username: str
    state: str = PRESENT
    user_type: str | None = None
    databases: tuple[str, ...] | None = None
    database_ids: tuple[str, ...] | None = None


@dataclass
class Request:
    """What one source (a host of the play, or None for the task itself) asks of one resolved server group."""

    source: str | None
    key: GroupKey
    databases: list[DatabaseAsk]
    users: list[UserAsk]


@dataclass(frozen=True)
class Wanted:
    """One database or user as asked, with names in place of uids. ``grants`` are the usernames a database grants
    or the database names a user is given; None where the ask says nothing of them (or for a delete)."""

    kind: str
    name: str
    present: bool
    grants: frozenset[str] | None = None
    user_type: str | None = None

    def merged(self, other: Wanted) -> Wanted | None:
        """One ask that says what both say, or None when they contradict each other."""
        if self.present != other.present:
            return None
        grants = _agree(self.grants, other.grants)
        user_type = _agree(self.user_type, other.user_type)
        if grants is _CONFLICT or user_type is _CONFLICT:
            return None
        return Wanted(self.kind, self.name, self.present, grants, user_type)  # type: ignore[arg-type]

    def describe(self) -> str:
        said: dict[str, Any] = {"state": PRESENT if self.present else ABSENT}
        if self.grants is not None:
            said["database_users" if self.kind == DATABASE else "databases"] = sorted(self.grants)
        if self.user_type is not None:
            said["user_type"] = self.user_type
        return json.dumps(said, sort_keys=True)


_CONFLICT = object()


def _agree(one: Any, other: Any) -> Any:
    if one is None:
        return other
    if other is None or one == other:
        return one
    return _CONFLICT


class Refused(Exception):
    """Asks that cannot be carried out; raised before any write."""


def check_asks(databases: list[dict[str, Any]], users: list[dict[str, Any]]) -> str | None:
    """Why one source's task items cannot be sent, or None: each name once, and one way to name grants."""
    seen = set()
    for item in databases:
        if item["name"] in seen:
            return "Database %r is listed more than once in databases." % item["name"]
        if item.get("database_user_ids") is not None and item.get("database_users") is not None:
            return (
                "Database %r gives both database_user_ids and database_users; give one."
                % item["name"]
            )
        seen.add(item["name"])
    seen = set()
    for item in users:
        if item["username"] in seen:
            return "Database user %r is listed more than once in database_users." % item["username"]
        if item.get("databases") is not None and item.get("database_ids") is not None:
            return (
                "Database user %r gives both databases and database_ids; give one."
                % item["username"]
            )
        seen.add(item["username"])
    return None


@dataclass
class GroupAsks:
    """Every request for one resolved server group, with the sources that made them."""

    key: GroupKey
    requests: list[Request] = field(default_factory=list)

    @property
    def sources(self) -> list[str]:
        return sorted(set(request.source for request in self.requests if request.source))


def group_requests(requests: list[Request]) -> list[GroupAsks]:
    """The requests by resolved server group, in the order each group was first named."""
    groups: dict[GroupKey, GroupAsks] = {}
    for request in requests:
        groups.setdefault(request.key, GroupAsks(request.key)).requests.append(request)
    return list(groups.values())


@dataclass
class Entry:
    """The outcome of one database or user of a run, as the module returns it."""

    kind: str
    name: str
    state: str
    changed: bool
    record: dict[str, Any]
    action: dict[str, Any] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    def result(self) -> dict[str, Any]:
        if self.kind == DATABASE:
            result = {"name": self.name, "database": self.record}
        else:
            result = {"username": self.name, "user": without_password(self.record)}
        result.update(state=self.state, changed=self.changed, action=self.action)
        if self.sources:
            result["hosts"] = self.sources
        return result


@dataclass
class Write:
    """One create or delete to send. ``grants`` are the usernames a new database grants, or the names of the
    databases a new user gets; ``uid`` is the uid of what a delete removes."""

    entry: Entry
    phase: int
    uid: str | None = None
    grants: tuple[str, ...] = ()
    user_type: str | None = None
    # The item's record as the run found it, for an action that fails.
    found: dict[str, Any] = field(default_factory=dict)

    @property
    def create(self) -> bool:
        return self.entry.state == PRESENT


@dataclass
class Plan:
    """What one run does in one server group: result entries in the order asked, the writes in the order to send
    them, the warnings to show, and the uids of the listed databases and users that the writes name."""

    key: GroupKey
    databases: list[Entry]
    users: list[Entry]
    writes: list[Write]
    warnings: list[str]
    database_uids: dict[str, str]
    user_uids: dict[str, str]
    sources: list[str] = field(default_factory=list)

    def writes_of(self, phase: int) -> list[Write]:
        return [write for write in self.writes if write.phase == phase]

    @property
    def granted_new_users(self) -> list[Write]:
        """The creates of users that a new database grants: their uids are needed before the databases."""
        granted = set(
            username
            for write in self.writes_of(DATABASES)
            if write.create
            for username in write.grants
        )
        return [
            write for write in self.writes_of(FIRST) if write.create and write.entry.name in granted
        ]

    @property
    def needed_new_databases(self) -> list[Write]:
        """The creates of databases that a user made after them asks for: their uids are needed first."""
        needed = set(name for write in self.writes_of(LAST) for name in write.grants)
        return [
            write
            for write in self.writes_of(DATABASES)
            if write.create and write.entry.name in needed
        ]

    @property
    def waits_between(self) -> bool:
        """True when a write needs the uid of an item created before it, so the run must wait part-way."""
        return bool(self.granted_new_users or self.needed_new_databases)


def wanted_items(
    group: GroupAsks,
    listed_databases: dict[str, list[dict[str, Any]]],
    listed_users: list[dict[str, Any]] | None,
) -> tuple[list[tuple[Wanted, list[str]]], list[tuple[Wanted, list[str]]]]:
    """Every source's asks for ``group``, with uids turned into names, merged into one ask per item (with its
    sources), in the order first asked. Raises Refused for uids the group does not list and for asks that
    contradict each other. Without ``listed_users`` (the list was not read) user uids stay as given."""
    usernames = None
    if listed_users is not None:
        usernames = dict(
            (user["uid"], user["username"])
            for user in listed_users
            if isinstance(user.get("uid"), str) and isinstance(user.get("username"), str)
        )
    database_names = dict(
        (record["uid"], name)
        for name, records in listed_databases.items()
        for record in records
        if isinstance(record.get("uid"), str)
    )
    problems: list[str] = []

    def names_of(
        names: tuple[str, ...] | None,
        uids: tuple[str, ...] | None,
        known: dict[str, str] | None,
        what: str,
    ) -> frozenset[str] | None:
        if names is not None:
            return frozenset(names)
        if uids is None:
            return None
        if known is None:
            return frozenset(uids)
        unknown = [uid for uid in uids if uid not in known]
        if unknown:
            problems.append(
                "%s lists no %s with uid %s." % (_where(group.key), what, ", ".join(unknown))
            )
        return frozenset(known.get(uid, uid) for uid in uids)

    asked: dict[tuple[str, str], list[tuple[str | None, Wanted]]] = {}
    for request in group.requests:
        for ask in request.databases:
            present = ask.state == PRESENT
            grants = names_of(ask.database_users, ask.database_user_ids, usernames, USER)
            wanted = Wanted(DATABASE, ask.name, present, grants if present else None)
            asked.setdefault((DATABASE, ask.name), []).append((request.source, wanted))
        for user_ask in request.users:
            present = user_ask.state == PRESENT
            grants = names_of(user_ask.databases, user_ask.database_ids, database_names, DATABASE)
            wanted = Wanted(
                USER,
                user_ask.username,
                present,
                grants if present else None,
                user_ask.user_type if present else None,
            )
            asked.setdefault((USER, user_ask.username), []).append((request.source, wanted))
    merged: dict[str, list[tuple[Wanted, list[str]]]] = {DATABASE: [], USER: []}
    for (kind, _name), asks in asked.items():
        result: Wanted | None = asks[0][1]
        for _source, wanted in asks[1:]:
            result = result.merged(wanted) if result is not None else None
        if result is None:
            problems.append(
                "%s %r of %s is asked for differently by the hosts of the play, so nothing was sent: %s."
                % (
                    kind.capitalize(),
                    asks[0][1].name,
                    _where(group.key).lower(),
                    "; ".join(
                        "%s asks %s" % (source, wanted.describe()) for source, wanted in asks
                    ),
                )
            )
            continue
        sources = sorted(set(source for source, _wanted in asks if source))
        merged[kind].append((result, sources))
    if problems:
        raise Refused(" ".join(problems))
    return merged[DATABASE], merged[USER]


class _Planner:
    """The state of one ``plan()`` call: the group's lists, what is asked, and the problems found so far."""

    def __init__(
        self,
        group: GroupAsks,
        listed_databases: dict[str, list[dict[str, Any]]],
        listed_users: list[dict[str, Any]] | None,
        guard: DeleteGuard | None = None,
    ) -> None:
        self.key = group.key
        self.guard = guard
        self.where = _where(group.key)
        self.databases, self.users = wanted_items(group, listed_databases, listed_users)
        self.listed_databases = listed_databases
        self.users_read = listed_users is not None
        self.listed_users: dict[str, list[dict[str, Any]]] = {}
        for user in listed_users or []:
            if isinstance(user.get("username"), str):
                self.listed_users.setdefault(user["username"], []).append(user)
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.database_uids: dict[str, str] = {}
        self.user_uids: dict[str, str] = {}
        # Users whose own ask was refused: a database that grants them is not refused a second time for it.
        self.refused_users: set[str] = set()
        self.new_databases = dict(
            (wanted.name, wanted)
            for wanted, _sources in self.databases
            if wanted.present and not self.database(wanted.name)
        )
        self.deleted_databases = set(
            wanted.name
            for wanted, _sources in self.databases
            if not wanted.present and self.database(wanted.name)
        )

    def database(self, name: str) -> dict[str, Any]:
        """The one database listed under ``name``, or {}; two or more are a problem, never a guess."""
        return self._single(self.listed_databases.get(name, []), DATABASE, name, self.database_uids)

    def user(self, username: str) -> dict[str, Any]:
        return self._single(self.listed_users.get(username, []), USER, username, self.user_uids)

    def _single(
        self, records: list[dict[str, Any]], kind: str, name: str, uids: dict[str, str]
    ) -> dict[str, Any]:
        if len(records) > 1:
            problem = "%s lists %d %ss named %r (uids %s); refusing to pick one." % (
                self.where,
                len(records),
                kind,
                name,
                ", ".join(str(record.get("uid", "?")) for record in records),
            )
            if problem not in self.problems:
                self.problems.append(problem)
        if not records:
            return {}
        uid = records[0].get("uid")
        if isinstance(uid, str) and uid.strip():
            uids[name] = uid
        return records[0]

    def uid(self, record: dict[str, Any], kind: str) -> str | None:
        uid = record.get("uid")
        if isinstance(uid, str) and uid.strip():
            return uid
        self.problems.append(
            "%s lists the %s %r without a usable uid (got %r); it cannot be written through the API."
            % (self.where, kind, record.get("name") or record.get("username"), uid)
        )
        return None

    def plan_user(self, wanted: Wanted, sources: list[str]) -> tuple[Entry, Write | None]:
        """The entry of one user and its write, if any. A new user that needs databases this run creates comes
        after them (LAST), unless those databases grant it: then it comes first and they grant it."""
        record = self.user(wanted.name)
        entry = Entry(USER, wanted.name, _state(wanted), False, record, sources=sources)
        if record and wanted.present:
            names = None if wanted.grants is None else wanted.grants | self.granting(wanted.name)
            warning = user_warning(record, _sorted(names), wanted.user_type)
            if warning:
                self.warnings.append(warning)
        if bool(record) == wanted.present:
            return entry, None
        entry.changed = True
        if not wanted.present:
            return entry, Write(entry, FIRST, uid=self.uid(record, USER))
        names = sorted(wanted.grants or ())
        missing = [
            name for name in names if name not in self.new_databases and not self.database(name)
        ]
        if missing:
            self.problems.append(
                "Database user %r asks for %s, which %s does not list and this task does not create."
                % (wanted.name, ", ".join(missing), self.where.lower())
            )
            self.refused_users.add(wanted.name)
            return entry, None
        deleted = [name for name in names if name in self.deleted_databases]
        if deleted:
            self.problems.append(
                "Database user %r asks for %s, which this task deletes."
                % (wanted.name, ", ".join(deleted))
            )
            self.refused_users.add(wanted.name)
            return entry, None
        pending = [name for name in names if name in self.new_databases]
        granting = [
            name for name in pending if wanted.name in (self.new_databases[name].grants or ())
        ]
        if granting and granting != pending:
            self.problems.append(
                "Database user %r asks for the new databases %s, but only %s grant it. Cloud66 cannot add "
                "databases to a user or users to a database later, so let every new database the user needs "
                "grant it in its database_users."
                % (wanted.name, ", ".join(pending), ", ".join(granting))
            )
            self.refused_users.add(wanted.name)
            return entry, None
        if pending and not granting:
            return entry, Write(entry, LAST, grants=tuple(names), user_type=wanted.user_type)
        existing = tuple(name for name in names if name not in pending)
        return entry, Write(entry, FIRST, grants=existing, user_type=wanted.user_type)

    def plan_database(
        self, wanted: Wanted, sources: list[str], user_writes: dict[str, Write]
    ) -> tuple[Entry, Write | None]:
        """The entry of one database and its write, if any. Every user a new database grants must be listed, or
        made by this run before the databases."""
        record = self.database(wanted.name)
        entry = Entry(DATABASE, wanted.name, _state(wanted), False, record, sources=sources)
        if record and wanted.present:
            usernames = None if wanted.grants is None else wanted.grants | self.asking(wanted.name)
            warning = users_warning(record, _sorted(usernames))
            if warning:
                self.warnings.append(warning)
        if bool(record) == wanted.present:
            return entry, None
        entry.changed = True
        if not wanted.present:
            refusal = self.guard.refusal(wanted.name) if self.guard is not None else None
            if refusal:
                self.problems.append("%s: %s" % (self.where, refusal))
                return entry, None
            return entry, Write(entry, DATABASES, uid=self.uid(record, DATABASE))
        grants = tuple(sorted(wanted.grants or ()))
        for username in grants:
            write = user_writes.get(username)
            if username in self.refused_users:
                continue
            if write is None and not self.users_read:
                # A uid given for a new database that no other host asks for: sent as given.
                self.user_uids[username] = username
            elif write is None:
                if not self.user(username):
                    self.problems.append(
                        "%s has no database user named %s. Its users: %s."
                        % (self.where, username, ", ".join(sorted(self.listed_users)) or "none")
                    )
            elif not write.create:
                self.problems.append(
                    "Database %r grants %s, which this task deletes." % (wanted.name, username)
                )
            elif write.phase == LAST:
                self.problems.append(
                    "Database %r grants %s, which asks for databases this task creates and so is made after "
                    "the databases. Let those databases grant the user as well."
                    % (wanted.name, username)
                )
        return entry, Write(entry, DATABASES, grants=grants)

    def granting(self, username: str) -> frozenset[str]:
        """The databases of the run that grant ``username``: they count as asked for from the user's side too."""
        return frozenset(
            wanted.name
            for wanted, _sources in self.databases
            if wanted.present and username in (wanted.grants or ())
        )

    def asking(self, name: str) -> frozenset[str]:
        """The users of the run that ask for database ``name``: they count as granting it too."""
        return frozenset(
            wanted.name
            for wanted, _sources in self.users
            if wanted.present and name in (wanted.grants or ())
        )


def plan(
    group: GroupAsks,
    listed_databases: dict[str, list[dict[str, Any]]],
    listed_users: list[dict[str, Any]] | None,
    guard: DeleteGuard | None = None,
) -> Plan:
    """What to create and delete in one server group, from its lists as read before any write. Pure: no I/O.

    ``listed_databases`` maps every asked-for database name to the records listed under it (on every page);
    ``listed_users`` is the whole user list, or None when it was not needed; ``guard``, when deletes need a recent
    backup, holds the stack's backups as read before planning. Raises Refused for anything that cannot be carried
    out: asks that contradict each other, a name listed twice, a user or database that is neither listed nor
    created by the run, grants that cannot be ordered, a delete of a database without a recent enough backup.
    """
    planner = _Planner(group, listed_databases, listed_users, guard)
    user_entries, user_writes = [], {}
    for wanted, sources in planner.users:
        entry, write = planner.plan_user(wanted, sources)
        user_entries.append(entry)
        if write is not None:
            user_writes[wanted.name] = write
    database_entries, database_writes = [], []
    for wanted, sources in planner.databases:
        entry, write = planner.plan_database(wanted, sources, user_writes)
        database_entries.append(entry)
        if write is not None:
            database_writes.append(write)
    if planner.problems:
        raise Refused(" ".join(planner.problems))
    writes = sorted(list(user_writes.values()) + database_writes, key=lambda write: write.phase)
    return Plan(
        group.key,
        database_entries,
        user_entries,
        writes,
        planner.warnings,
        planner.database_uids,
        planner.user_uids,
        group.sources,
    )


def _state(wanted: Wanted) -> str:
    return PRESENT if wanted.present else ABSENT


def _sorted(names: frozenset[str] | None) -> list[str] | None:
    return None if names is None else sorted(names)


def _where(key: GroupKey) -> str:
    return "Server group %s of stack %s" % (key.server_group_id, key.stack_id)


def listed_deletes(asks: GroupAsks, listed_databases: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The names of the databases the asks delete that the group lists: the deletes a guard has to allow."""
    names = []
    for request in asks.requests:
        for ask in request.databases:
            if ask.state == ABSENT and listed_databases.get(ask.name) and ask.name not in names:
                names.append(ask.name)
    return names


def read_lists(
    group: ServerGroup, asks: GroupAsks
) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]] | None]:
    """One read of each list the asks need: the databases by name (every page), and every user (or None when no
    ask needs them)."""
    requests = asks.requests
    by_uid = any(ask.database_ids for request in requests for ask in request.users)
    if by_uid:
        listed_databases: dict[str, list[dict[str, Any]]] = {}
        for record in group.databases.all():
            listed_databases.setdefault(record["name"], []).append(record)
    else:
        names = set()
        for request in requests:
            names.update(ask.name for ask in request.databases)
            names.update(name for ask in request.users for name in ask.databases or ())
        listed_databases = group.databases.named(names)
    # Users are read when the asks concern them or a new database grants them by name; uids given for a database
    # are compared by name (read the users) when the database exists or several sources ask for it.
    asked = Counter(ask.name for request in requests for ask in request.databases)
    needs_users = any(request.users for request in requests) or any(
        (ask.database_users and ask.state == PRESENT and not listed_databases.get(ask.name))
        or (ask.database_user_ids and (listed_databases.get(ask.name) or asked[ask.name] > 1))
        for request in requests
        for ask in request.databases
    )
    return listed_databases, group.user_records() if needs_users else None


@dataclass
class GroupRun:
    """One server group's part of a run: its plan, the writes started, and what went wrong."""

    group: ServerGroup
    plan: Plan
    database_uids: dict[str, str]
    user_uids: dict[str, str]
    started: list[Write] = field(default_factory=list)
    settled: set[int] = field(default_factory=set)
    problem: str | None = None
    failed: list[Entry] = field(default_factory=list)


class BatchRun:
    """Sends the writes of every planned group and waits for them with one budget.

    The writes go phase by phase over every group; a phase that needs an earlier item's uid waits for it first,
    whatever ``wait`` says, for all groups' actions in the same turns, so N groups wait about as long as one. A group
    whose write is refused starts nothing more, but what it started is reported and, with ``wait``, waited for like
    the other groups' writes. The outcome is written into the plans' entries.
    """

    deadline: Deadline
    wait: bool
    runs: list[GroupRun]

    def __init__(self, deadline: Deadline, wait: bool) -> None:
        self.deadline = deadline
        self.wait = wait
        self.runs = []

    def run(self, groups: list[tuple[ServerGroup, Plan]]) -> None:
        self.runs = [
            GroupRun(group, plan, dict(plan.database_uids), dict(plan.user_uids))
            for group, plan in groups
        ]
        for run in self.runs:
            for write in run.plan.writes:
                write.entry.changed = False
        # Phase by phase over every group: a part-way wait waits for all groups' actions at once.
        self._each(lambda run: self._send(run, run.plan.writes_of(FIRST)))
        self._wait_together(
            lambda run: [
                write
                for write in run.plan.granted_new_users
                if write.entry.changed and id(write) not in run.settled
            ]
        )
        self._each(lambda run: self._settle_users(run, run.plan.granted_new_users))
        self._each(lambda run: self._send(run, run.plan.writes_of(DATABASES)))
        self._wait_together(lambda run: run.plan.needed_new_databases)
        self._each(self._settle_needed)
        self._each(lambda run: self._send(run, run.plan.writes_of(LAST)))
        if self.wait:
            self._wait_all()

    def actions(self) -> list[dict[str, Any]]:
        return [
            write.entry.action for run in self.runs for write in run.started if write.entry.action
        ]

    def timed_out(self, actions: list[dict[str, Any]]) -> None:
        """Keep the actions as last seen before the budget ran out."""
        latest = dict((action.get("id"), action) for action in actions)
        for run in self.runs:
            for write in run.started:
                write.entry.action = latest.get(write.entry.action.get("id"), write.entry.action)

    def problems(self) -> list[str]:
        """Every refusal and failed action of the run, for the message of the failed task."""
        problems = [run.problem for run in self.runs if run.problem]
        failed = [entry for run in self.runs for entry in run.failed]
        if failed:
            problems.append(
                "%d of %d Cloud66 actions failed: %s"
                % (
                    len(failed),
                    len(self.actions()),
                    "; ".join(
                        "%s %s (action %s): %s"
                        % (
                            action_name(entry.action),
                            entry.name,
                            entry.action.get("id"),
                            entry.action.get("finished_message") or "no message given",
                        )
                        for entry in failed
                    ),
                )
            )
        return problems

    def _each(self, step: Callable[[GroupRun], None]) -> None:
        """Run ``step`` for every group that has met no problem yet; what goes wrong ends that group alone."""
        for run in self.runs:
            if run.problem is not None:
                continue
            try:
                step(run)
            except (Cloud66Error, ActionFailed, WaitTimeout) as exc:
                run.problem = _problem(run, exc)

    def _wait_together(self, writes_of: Callable[[GroupRun], list[Write]]) -> None:
        """Wait for the actions of ``writes_of(run)`` of every group still going, all stacks in the same turns.

        Only a shortcut so that N groups' part-way waits take the time of one: each group then waits for its own
        (at once, as they have finished) and meets a failed action, a timeout or an error itself."""
        pairs = [
            (run, write)
            for run in self.runs
            if run.problem is None
            for write in writes_of(run)
            if write.entry.action
        ]
        if len(set(id(run) for run, _write in pairs)) < 2:
            return
        try:
            self._wait_pairs(pairs)
        except (Cloud66Error, WaitTimeout):
            return

    def _wait_pairs(self, pairs: list[tuple[GroupRun, Write]]) -> None:
        """Wait for the actions of ``pairs`` (all stacks together) and note each as it finished."""
        by_stack: dict[str, list[tuple[GroupRun, Write]]] = {}
        for run, write in pairs:
            by_stack.setdefault(str(run.group.stack_id), []).append((run, write))
        batches = [
            (
                ActionWaiter(found[0][0].group.client, stack_id, self.deadline),
                [write.entry.action for _run, write in found],
            )
            for stack_id, found in by_stack.items()
        ]
        finished = wait_for_all(batches, self.deadline)
        for found, actions in zip(by_stack.values(), finished, strict=True):
            for (_run, write), action in zip(found, actions, strict=True):
                write.entry.action = action

    def _settle_needed(self, run: GroupRun) -> None:
        """Wait for the new databases a later write needs the uid of, and note their uids."""
        needed = run.plan.needed_new_databases
        if needed:
            self._wait_actions(run, needed)
            self._settle_databases(run, needed)

    def _send(self, run: GroupRun, writes: list[Write]) -> None:
        for write in writes:
            entry = write.entry
            write.found = entry.record
            try:
                if entry.kind == DATABASE and write.create:
                    user_ids = [_uid_of(run.user_uids, USER, name) for name in write.grants]
                    action, entry.changed = run.group.databases.create(entry.name, user_ids)
                    entry.record = {"name": entry.name}
                elif entry.kind == DATABASE:
                    action, entry.changed = run.group.databases.delete(write.uid)
                    entry.record = {}
                elif write.create:
                    database_ids = [
                        _uid_of(run.database_uids, DATABASE, name) for name in write.grants
                    ]
                    action, entry.changed = run.group.users.create(
                        entry.name, write.user_type or "application", database_ids
                    )
                    entry.record = {"username": entry.name}
                else:
                    action, entry.changed = run.group.users.delete(write.uid or "")
                    entry.record = {}
            except Cloud66Error as exc:
                exc.message = "%s %r could not be %s: %s" % (
                    entry.kind.capitalize(),
                    entry.name,
                    "created" if write.create else "deleted",
                    exc.message,
                )
                raise
            entry.action = action or {}
            run.started.append(write)

    def _wait_actions(self, run: GroupRun, writes: list[Write]) -> None:
        """Wait for the actions of ``writes`` before a later step needs their result; a failed one ends the group."""
        entries = [write.entry for write in writes if write.entry.action]
        if not entries:
            return
        waiter = ActionWaiter(run.group.client, run.group.stack_id, self.deadline)
        for entry, action in zip(
            entries, waiter.wait([entry.action for entry in entries]), strict=True
        ):
            entry.action = action

    def _settle_users(self, run: GroupRun, writes: list[Write]) -> None:
        """Wait until the user list shows the users created and none of those deleted; note the new uids."""
        # A create that Cloud66 answered "exists already" is looked up like one it carried out.
        writes = [
            write
            for write in writes
            if (write.entry.changed or write.create) and id(write) not in run.settled
        ]
        if not writes:
            return
        self._wait_actions(run, writes)
        records = run.group.users.wait_settled(
            [write.entry.name for write in writes if write.create],
            [write.uid for write in writes if not write.create and write.uid],
            self.deadline,
        )
        for write in writes:
            run.settled.add(id(write))
            write.entry.record = records.get(write.entry.name, {})
            if write.entry.record.get("uid"):
                run.user_uids[write.entry.name] = write.entry.record["uid"]

    def _settle_databases(self, run: GroupRun, writes: list[Write]) -> None:
        """Wait until the database list shows the databases created and none of those deleted."""
        # A create that Cloud66 answered "exists already" is looked up like one it carried out.
        writes = [
            write
            for write in writes
            if (write.entry.changed or write.create) and id(write) not in run.settled
        ]
        if not writes:
            return
        records = run.group.databases.wait_settled(
            [write.entry.name for write in writes if write.create],
            [write.uid for write in writes if not write.create and write.uid],
            self.deadline,
        )
        for write in writes:
            run.settled.add(id(write))
            if write.create:
                write.entry.record = records[write.entry.name]
                run.database_uids[write.entry.name] = write.entry.record["uid"]

    def _wait_all(self) -> None:
        """Wait for every started action (all groups, one budget), then until each group's lists show what was
        done. A failed action leaves its item as it was. A group that could not finish is not waited on for its
        lists, but its actions are."""
        pairs = [(run, write) for run in self.runs for write in run.started if write.entry.action]
        if pairs:
            self._wait_pairs(pairs)
        for run, write in pairs:
            if action_outcome(write.entry.action) == FAILED:
                write.entry.changed = False
                write.entry.record = write.found
                run.failed.append(write.entry)
        for run in self.runs:
            if run.problem is not None:
                continue
            done = [write for write in run.started if write.entry.changed]
            try:
                self._settle_databases(
                    run, [write for write in done if write.entry.kind == DATABASE]
                )
                self._settle_users(run, [write for write in done if write.entry.kind == USER])
            except (Cloud66Error, WaitTimeout) as exc:
                run.problem = _problem(run, exc)
            _note_grants(run)


def _uid_of(uids: dict[str, str], kind: str, name: str) -> str:
    if name not in uids:
        raise Cloud66Error(
            "The uid of the %s %r is not known: the list did not show it." % (kind, name)
        )
    return uids[name]


def _problem(run: GroupRun, exc: Exception) -> str:
    message = exc.message if isinstance(exc, Cloud66Error) else str(exc)
    return "%s: %s" % (_where(run.plan.key), message)


def _note_grants(run: GroupRun) -> None:
    """Users read before the databases that grant them were made list those databases too now."""
    users = dict((entry.name, entry.record) for entry in run.plan.users if entry.record)
    for write in run.plan.writes_of(DATABASES):
        if not (write.create and write.entry.changed):
            continue
        for username in write.grants:
            names = users.get(username, {}).get("databases")
            if isinstance(names, list) and write.entry.name not in names:
                names.append(write.entry.name)

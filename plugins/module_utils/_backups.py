# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Cloud66's managed backups of a stack: reading them and their files, their status codes in words, the newest
successful backup of a database, and whether a delete may go ahead. Private to this collection.

The API (``cloud66/api-content`` ``v3/endpoints/backups``): ``GET /stacks/:id/backups`` (paged; ``db_type`` and
``group`` filter it), ``GET .../backups/:id``, ``GET .../backups/:id/files`` (paged: the file segments, to be joined
in order) and ``GET .../backups/:id/files/:file_id`` (``{ok, public_url}``, a presigned object-store URL).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ._client import Cloud66Client, api_path
from ._errors import Cloud66Error
from ._records import text, whole_number

# The database engines Cloud66 backs up (List Backups' db_type filter).
DB_TYPES = ("mysql", "postgresql", "redis", "mongodb")
# The words Cloud66's own client shows for each status code.
BACKUP_STATUS = {0: "Ok", 1: "Failed"}
RESTORE_STATUS = {0: "Not restored", 1: "Restoring", 2: "Restored", 3: "Restore failed"}
VERIFY_STATUS = {
    0: "Not verified",
    1: "Verifying",
    2: "Verified",
    3: "Verification failed",
    4: "Unable to verify",
}
BACKUP_OK = 0
# The published public_url has its query percent-encoded twice (%252F for %2F); Cloud66's Go client undoes one level.
DOUBLE_ESCAPE = re.compile(r"%25([0-9A-Fa-f]{2})")


def status_word(table: dict[int, str], value: Any) -> str:
    code = whole_number(value)
    if code is None:
        return "Unknown"
    return table.get(code, "Unknown (%d)" % code)


def backup_record(raw: dict[str, Any]) -> dict[str, Any]:
    """A backup as Cloud66 sent it, with its status codes also in words; one without a usable id is refused."""
    record = dict(raw)
    if whole_number(record.get("id")) is None:
        raise Cloud66Error(
            "Cloud66 listed a backup this collection cannot read: it needs an integer 'id', and has the fields "
            "%s. Cloud66 may have changed its answers; please report this."
            % (", ".join(sorted(map(str, record))) or "none")
        )
    record["backup_status_text"] = status_word(BACKUP_STATUS, record.get("backup_status"))
    record["restore_status_text"] = status_word(RESTORE_STATUS, record.get("restore_status"))
    record["verify_status_text"] = status_word(VERIFY_STATUS, record.get("verify_status"))
    return record


def parse_time(value: Any) -> float | None:
    """Epoch seconds of an ISO 8601 time (``Z`` or an offset; none means UTC), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def taken_at(record: dict[str, Any]) -> float | None:
    """When a backup was taken: ``backup_date_iso``, else ``created_at_iso``."""
    moment = parse_time(record.get("backup_date_iso"))
    return moment if moment is not None else parse_time(record.get("created_at_iso"))


def is_successful(record: dict[str, Any]) -> bool:
    return whole_number(record.get("backup_status")) == BACKUP_OK


def newest_first(backups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Backups newest first (by the time taken, then by id); those without a readable time come last."""

    def key(record: dict[str, Any]) -> tuple[bool, float, int]:
        moment = taken_at(record)
        return (moment is None, -(moment or 0.0), -(whole_number(record.get("id")) or 0))

    return sorted(backups, key=key)


def latest_of_each(backups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest backup of each database (engine and name), newest first."""
    seen, latest = set(), []
    for record in newest_first(backups):
        database = (record.get("db_type"), record.get("database_name"))
        if database not in seen:
            seen.add(database)
            latest.append(record)
    return latest


def backups_of(
    backups: list[dict[str, Any]], name: str, db_type: str | None = None
) -> list[dict[str, Any]]:
    """The backups of the database ``name`` (of engine ``db_type`` when given), newest first."""
    return newest_first(
        [
            record
            for record in backups
            if text(record.get("database_name")) == name
            and (db_type is None or record.get("db_type") == db_type)
        ]
    )


def describe(record: dict[str, Any], now: float | None = None) -> str:
    """A backup for messages: its id, engine, date, age and status."""
    moment = taken_at(record)
    age = "" if now is None or moment is None else ", %s ago" % _duration(max(0.0, now - moment))
    return "backup %s (%s, taken %s%s, status %s)" % (
        record.get("id"),
        record.get("db_type"),
        record.get("backup_date_iso") or record.get("created_at_iso") or "at an unknown time",
        age,
        status_word(BACKUP_STATUS, record.get("backup_status")),
    )


def _duration(seconds: float) -> str:
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = int(seconds // size)
            return "%d %s%s" % (count, unit, "" if count == 1 else "s")
    return "%d seconds" % int(seconds)


@dataclass(frozen=True)
class DeleteGuard:
    """What deciding a guarded delete needs: ``within`` seconds, the time ``now`` (epoch), the engine of the
    server group (None when Cloud66 does not say), and the stack's backups as read before any write."""

    within: int
    now: float
    engine: str | None
    backups: tuple[dict[str, Any], ...]

    def refusal(self, name: str) -> str | None:
        """Why database ``name`` may not be deleted, or None when its newest successful backup is recent enough.

        Only backups of that very database count: the same name and the engine of its server group. Where
        Cloud66 does not say the group's engine, backups of a MySQL and a PostgreSQL database of that name cannot
        be told apart, and the delete is refused when both exist.
        """
        engines = (self.engine,) if self.engine else ("mysql", "postgresql")
        mine = [
            record
            for record in backups_of(list(self.backups), name)
            if record.get("db_type") in engines
        ]
        found_engines = sorted(set(str(record.get("db_type")) for record in mine))
        if len(found_engines) > 1:
            return (
                "Refusing to delete database %r: require_backup_within is set, Cloud66 did not say the engine of its "
                "server group, and the stack has backups of a %s database of that name, so which are this "
                "database's cannot be told." % (name, " and a ".join(found_engines))
            )
        successful = [record for record in mine if is_successful(record)]
        if successful:
            moment = taken_at(successful[0])
            if moment is not None and self.now - moment <= self.within:
                return None
        where = "%s backups" % self.engine if self.engine else "backups"
        if not mine:
            seen = "Cloud66 lists no %s of it" % where
        elif not successful:
            seen = "Cloud66 lists no successful backup of it; its newest is %s" % describe(
                mine[0], self.now
            )
        else:
            seen = "its newest successful backup is %s" % describe(successful[0], self.now)
            if mine[0] is not successful[0]:
                seen += ", and a newer one failed: %s" % describe(mine[0], self.now)
        return (
            "Refusing to delete database %r: require_backup_within asks for a successful backup taken within the "
            "last %s (%d s), and %s. Take a backup first (or download one with cloud66.cloud.cloud66_backup_download)."
            % (name, _duration(self.within), self.within, seen)
        )


def engine_of(groups: list[dict[str, Any]], server_group_id: str | int) -> str | None:
    """The type of the listed server group with this id (mysql, postgresql, ...), or None when Cloud66 did not say."""
    for group in groups:
        if str(group.get("id")) == str(server_group_id):
            return text(group.get("type"))
    return None


def usable_url(url: str) -> str:
    """``public_url`` as it must be requested: Cloud66 publishes it with its query string percent-encoded twice
    (``Signature=...%252F...``), and its own client undoes one level. A query encoded once is left as it is."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=DOUBLE_ESCAPE.sub(r"%\1", parts.query)))


class Backups:
    """The managed backups of one stack."""

    client: Cloud66Client
    stack_id: str
    path: str

    def __init__(self, client: Cloud66Client, stack_id: str) -> None:
        self.client = client
        self.stack_id = stack_id
        self.path = api_path("stacks", stack_id, "backups")

    def all(self, db_type: str | None = None) -> list[dict[str, Any]]:
        """Every backup of the stack (of engine ``db_type`` when given), from every page, as Cloud66 lists them."""
        params = {"db_type": db_type} if db_type else None
        try:
            return [
                backup_record(item)
                for items in self.client.pages(self.path, params=params)
                for item in items
            ]
        except Cloud66Error as exc:
            raise self._not_found(exc) from exc

    def get(self, backup_id: int) -> dict[str, Any]:
        path = self.path + api_path(backup_id)
        try:
            body = self.client.get(path)
        except Cloud66Error as exc:
            raise self._not_found(
                exc, "Stack %s has no backup %s" % (self.stack_id, backup_id)
            ) from exc
        value = body.get("response") if isinstance(body, dict) else None
        if not isinstance(value, dict):
            raise Cloud66Error(
                "GET %s answered without a backup object. Is api_url the Cloud66 API?" % path
            )
        return backup_record(value)

    def files(self, backup_id: Any) -> list[dict[str, Any]]:
        """The file segments of a backup, in order: each ``{id, name}``."""
        path = self.path + api_path(backup_id, "files")
        try:
            files = [item for items in self.client.pages(path) for item in items]
        except Cloud66Error as exc:
            raise self._not_found(
                exc, "Stack %s has no backup %s" % (self.stack_id, backup_id)
            ) from exc
        for item in files:
            if not text(item.get("id")):
                raise Cloud66Error(
                    "Cloud66 listed a file of backup %s without a usable id (fields: %s)."
                    % (backup_id, ", ".join(sorted(map(str, item))) or "none")
                )
        return files

    def file_url(self, backup_id: Any, file_id: str) -> str:
        """A fresh presigned URL of one file segment. It carries its own authorization: never show it."""
        path = self.path + api_path(backup_id, "files", file_id)
        body = self.client.get(path)
        value = body.get("response") if isinstance(body, dict) else None
        url = value.get("public_url") if isinstance(value, dict) else None
        if not isinstance(value, dict) or value.get("ok") is False or not isinstance(url, str):
            raise Cloud66Error(
                "Cloud66 gave no download URL for file %s of backup %s (GET %s answered %s)."
                % (
                    file_id,
                    backup_id,
                    path,
                    "ok: false" if isinstance(value, dict) else "no object",
                )
            )
        if urlsplit(url).scheme not in ("https", "http") or not urlsplit(url).hostname:
            raise Cloud66Error(
                "Cloud66 gave a download URL for file %s of backup %s that is not an http(s) URL."
                % (file_id, backup_id)
            )
        return usable_url(url)

    def newest_successful(self, name: str, db_type: str | None = None) -> dict[str, Any]:
        """The newest successful backup of database ``name``; a clear error naming what there is when none."""
        backups = self.all(db_type)
        mine = backups_of(backups, name, db_type)
        successful = [record for record in mine if is_successful(record)]
        engines = sorted(set(str(record.get("db_type")) for record in successful))
        if len(engines) > 1:
            raise Cloud66Error(
                "Stack %s has backups of a %s database named %r; give db_type to pick one."
                % (self.stack_id, " and a ".join(engines), name)
            )
        if successful:
            return successful[0]
        engine = " %s" % db_type if db_type else ""
        if mine:
            raise Cloud66Error(
                "Stack %s has no successful%s backup of database %r; its newest is %s."
                % (self.stack_id, engine, name, describe(mine[0], time.time()))
            )
        names = sorted(
            set(
                "%s/%s" % (record.get("db_type"), record.get("database_name")) for record in backups
            )
        )
        raise Cloud66Error(
            "Stack %s has no%s backup of database %r. Databases with backups (engine/name): %s."
            % (self.stack_id, engine, name, ", ".join(names) or "none")
        )

    def _not_found(self, exc: Cloud66Error, message: str | None = None) -> Cloud66Error:
        if exc.status != 404:
            return exc
        if message is None:
            message = "Stack %s was not found" % self.stack_id
        return Cloud66Error(
            "%s, or the token's account cannot see the stack (set account_id to reach another account)."
            % message,
            status=404,
            error=exc.error,
            description=exc.description,
        )


def guard_for(
    client: Cloud66Client,
    stack_id: str,
    engine: str | None,
    within: int,
    cache: dict[tuple[str, str | None], list[dict[str, Any]]] | None = None,
) -> DeleteGuard:
    """A DeleteGuard for a server group of ``stack_id``, reading the stack's backups (of ``engine`` when known) once
    per run when ``cache`` is shared."""
    cache = {} if cache is None else cache
    key = (stack_id, engine)
    if key not in cache:
        cache[key] = Backups(client, stack_id).all(engine)
    return DeleteGuard(within, time.time(), engine, tuple(cache[key]))

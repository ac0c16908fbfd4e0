# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The databases of one Cloud66 server group: lookup over pages, create and delete. Private to this collection."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ._client import api_path
from ._errors import Cloud66Error
from ._group_list import GroupList, is_duplicate
from ._records import database_names, database_record, text

NAME_MAX_LENGTH = 63
NAME_FORBIDDEN = re.compile(r"[\s/\\?#;%]|\.\.")


def name_problem(name: str | None) -> str | None:
    """Why a database name cannot be sent to Cloud66, or None. Cloud66 itself may still refuse other names."""
    if name is None or not name.strip():
        return "must not be empty"
    if not name.isascii():
        return "must use ASCII characters only"
    if NAME_FORBIDDEN.search(name):
        return "must not contain spaces, slashes, '..', '?', '#', ';' or '%'"
    if len(name) > NAME_MAX_LENGTH:
        return "must be at most %d characters long (it has %d)" % (NAME_MAX_LENGTH, len(name))
    return None


def users_warning(record: dict[str, Any], usernames: list[str] | None) -> str | None:
    """The warning for an existing database whose users differ from the requested ones, or None.

    A database listed without ``users`` (the model pages' shape) has users Cloud66 did not say: no warning then.
    """
    if usernames is None or not isinstance(record.get("users"), list):
        return None
    current = sorted(str(user) for user in record["users"])
    if sorted(usernames) == current:
        return None
    return (
        "Database %r already exists with users %s, not %s. Cloud66 cannot change the users of an existing "
        "database, so nothing was changed." % (record.get("name"), current, sorted(usernames))
    )


class DatabaseList(GroupList):
    """The databases of one server group of one stack."""

    collection = "databases"
    noun = "database"

    def find(
        self, name: str | None = None, uid: str | None = None, newest_first: bool = False
    ) -> dict[str, Any] | None:
        """The record with this uid (or else this name), or None.

        A uid is looked up until the page that holds it. A name is looked up on every page: a name listed twice,
        on any pages, is an error naming both uids, never a guess. With ``newest_first`` the pages are read in the
        order that finds a just-created database soonest.
        """
        if uid:
            for items in self._pages(self.path, newest_first=newest_first):
                matches = [item for item in items if item.get("uid") == uid]
                if matches:
                    return self.single(matches, "uid", uid)
            return None
        matches = self.named([name]).get(name, [])
        return self.single(matches, "name", name) if matches else None

    def named(self, names: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """The listed records whose name is one of ``names``, as name -> [records], from every page.

        A name listed more than once is kept as often as it is listed, so that the caller can refuse to pick one.
        """
        wanted = set(names)
        found: dict[str, list[dict[str, Any]]] = {}
        if not wanted:
            return found
        for items in self._pages(self.path):
            for item in items:
                for name in database_names(item) & wanted:
                    found.setdefault(name, []).append(item)
        return found

    def look(
        self, names: Iterable[str] = (), uids: Iterable[str] = (), expected_total: int | None = None
    ) -> tuple[dict[str, dict[str, Any]], set[str], bool]:
        """One read of the list for databases just created or deleted: (name -> record, the uids still listed,
        whether the whole list was read).

        Cloud66 lists a new database last, so when only names are sought the pages are read newest first and
        reading stops once every name was seen; a deleted database may have stood anywhere, so uids cost a scan of
        every page. With ``expected_total``, a page 1 that counts another total ends the look: the list has not
        caught up yet.
        """
        names, uids = set(names), set(uids)
        records, listed = {}, set()
        for number, items in enumerate(self._pages(self.path, newest_first=not uids), start=1):
            for item in items:
                records.update((name, item) for name in database_names(item) & names)
                if item.get("uid") in uids:
                    listed.add(item["uid"])
            if not uids and names.issubset(records):
                return records, listed, False
            if number == 1 and expected_total is not None and self.listed_total != expected_total:
                return records, listed, False
        return records, listed, True

    def reader(self, raw: dict[str, Any]) -> dict[str, Any]:
        """A listed database in the documented shape; one that has no uid or no name is an answer we cannot use."""
        record = database_record(raw)
        if not text(record.get("uid")) or not database_names(record):
            raise Cloud66Error(
                "Server group %s of stack %s lists a database this collection cannot read: it needs a "
                "string 'uid' and a 'name' or 'database_name', and has the fields %s. Cloud66 may have "
                "changed its answers; please report this."
                % (
                    self.server_group_id,
                    self.stack_id,
                    ", ".join(sorted(map(str, record))) or "none",
                )
            )
        return record

    def create(self, name: str, user_ids: list[str] | None) -> tuple[dict[str, Any] | None, bool]:
        """Start creating a database. Returns (action, created); action is None when no new action was started.

        A POST whose answer was lost or unexpected is never repeated blindly: the name is looked up first, and a
        "name already exists" answer to a repeated POST means the lost one went through.
        """
        body = {"database_name": name, "database_user_ids": list(user_ids or [])}
        return self._write(
            lambda: self.client.post(self.path, body, look=lambda: self._listed(name=name)),
            done_already=is_duplicate,
        )

    def delete(self, uid: Any) -> tuple[dict[str, Any] | None, bool]:
        """Start deleting a database. Returns (action, deleted); action is None when Cloud66 says it is gone already."""
        if not isinstance(uid, str) or not uid.strip():
            raise Cloud66Error(
                "Server group %s of stack %s lists the database without a usable uid (got %r); it cannot "
                "be deleted through the API." % (self.server_group_id, self.stack_id, uid)
            )
        path = self.path + api_path(uid)
        return self._write(
            lambda: self.client.delete(path, look=lambda: self._delete_started(uid)),
            done_already=lambda exc: exc.status == 404,
        )

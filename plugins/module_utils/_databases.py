# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The databases of one Cloud66 server group: lookup over pages, create and delete. Private to this collection."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ._client import Cloud66Client, api_path
from ._errors import Cloud66Error
from ._group_list import GroupList, is_duplicate
from ._records import database_names, database_record, text
from ._users import UserGroup

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


class DatabaseGroup(GroupList):
    """The databases of one server group of one stack."""

    collection = "databases"
    noun = "database"

    user_group: UserGroup

    def __init__(
        self, client: Cloud66Client, stack_id: str | int, server_group_id: str | int
    ) -> None:
        super().__init__(client, stack_id, server_group_id)
        self.user_group = UserGroup(client, stack_id, server_group_id)
        self._users: list[dict[str, Any]] | None = None

    def find(
        self, name: str | None = None, uid: str | None = None, newest_first: bool = False
    ) -> dict[str, Any] | None:
        """The record with this uid (or else this name), or None.

        Paging stops at the first page holding a match; two matches on it are an error, never a guess. With
        ``newest_first`` the pages are read in the order that finds a just-created database soonest.
        """
        key, value = ("uid", uid) if uid else ("name", name)
        for items in self._pages(self.path, newest_first=newest_first):
            matches = [
                item
                for item in items
                if (item.get("uid") == uid if uid else name in database_names(item))
            ]
            if matches:
                return self.single(matches, key, value)
        return None

    def named(self, names: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """The listed records whose name is one of ``names``, as name -> [records].

        Paging stops once every name has been seen, so a list that holds them all early costs fewer requests;
        a name that is missing costs a scan of every page. A name listed twice on the pages read is kept twice,
        so that the caller can refuse to pick one.
        """
        wanted = set(names)
        found = {}
        if not wanted:
            return found
        for items in self._pages(self.path):
            for item in items:
                for name in database_names(item) & wanted:
                    found.setdefault(name, []).append(item)
            if wanted.issubset(found):
                break
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

    def uids(self, names: list[str]) -> list[str]:
        """Map database names to uids; a name the group does not list, or lists twice, is an error."""
        found = self.named(names)
        missing = [name for name in names if name not in found]
        if missing:
            raise Cloud66Error(
                "Server group %s of stack %s lists no database named %s."
                % (self.server_group_id, self.stack_id, ", ".join(missing))
            )
        return [self.single(found[name], "name", name)["uid"] for name in names]

    def names(self, uids: list[str]) -> list[str]:
        """Map database uids to names (uids the group does not list stay as they are)."""
        known = dict((record.get("uid"), record.get("name")) for record in self.all())
        return [known.get(uid, uid) for uid in uids]

    def users(self) -> list[dict[str, Any]]:
        """The group's database users, read once however often a run asks."""
        if self._users is None:
            self._users = self.user_group.all()
        return self._users

    def _user_pairs(self) -> list[tuple[str, str]]:
        """(uid, username) of every listed user whose uid and username are both strings; others cannot be named."""
        return [
            (user["uid"], user["username"])
            for user in self.users()
            if isinstance(user.get("uid"), str) and isinstance(user.get("username"), str)
        ]

    def usernames(self, user_ids: list[str]) -> list[str]:
        """Map database user uids to usernames (uids Cloud66 does not know stay as they are)."""
        known = dict(self._user_pairs())
        return [known.get(user_id, user_id) for user_id in user_ids]

    def user_ids(self, usernames: list[str]) -> list[str]:
        """Map usernames to database user uids; an unknown username is an error that lists the known ones."""
        known = dict((username, uid) for uid, username in self._user_pairs())
        unknown = [username for username in usernames if username not in known]
        if unknown:
            raise Cloud66Error(
                "Server group %s of stack %s has no database user named %s. Its users: %s."
                % (
                    self.server_group_id,
                    self.stack_id,
                    ", ".join(unknown),
                    ", ".join(sorted(known)) or "none",
                )
            )
        return [known[username] for username in usernames]

    def requested_usernames(
        self, usernames: list[str] | None = None, user_ids: list[str] | None = None
    ) -> list[str] | None:
        """The usernames a task asks for, given either as usernames or as user uids; None when it asks for none."""
        return usernames if usernames is not None or user_ids is None else self.usernames(user_ids)

    def requested_user_ids(
        self, usernames: list[str] | None = None, user_ids: list[str] | None = None
    ) -> list[str] | None:
        """The user uids a task asks for, given either as usernames or as user uids."""
        return self.user_ids(usernames) if usernames is not None else user_ids

    def create(self, name: str, user_ids: list[str] | None) -> tuple[dict[str, Any] | None, bool]:
        """Start creating a database. Returns (action, created); action is None when no new action was started.

        A POST whose answer was lost or unexpected is never repeated blindly: the name is looked up first, and a
        "name already exists" answer to a repeated POST means the lost one went through.
        """
        body = {"database_name": name, "database_user_ids": list(user_ids or [])}
        return self._write(
            lambda: self.client.post(self.path, body),
            done_already=is_duplicate,
            took_effect=lambda: self._listed(name=name),
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
            lambda: self.client.delete(path),
            done_already=lambda exc: exc.status == 404,
            took_effect=lambda: self._delete_started(uid),
        )

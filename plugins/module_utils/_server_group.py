# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""One resolved Cloud66 server group: its databases and its database users side by side, and the names and uids
that tie them together. Private to this collection."""

from __future__ import annotations

from typing import Any

from ._client import Cloud66Client
from ._databases import DatabaseList
from ._errors import Cloud66Error
from ._users import UserList


class ServerGroup:
    """The databases and the database users of one server group of one stack."""

    client: Cloud66Client
    stack_id: str | int
    server_group_id: str | int
    databases: DatabaseList
    users: UserList

    def __init__(
        self, client: Cloud66Client, stack_id: str | int, server_group_id: str | int
    ) -> None:
        self.client = client
        self.stack_id = stack_id
        self.server_group_id = server_group_id
        self.databases = DatabaseList(client, stack_id, server_group_id)
        self.users = UserList(client, stack_id, server_group_id)
        self._user_records: list[dict[str, Any]] | None = None

    def __str__(self) -> str:
        return "server group %s of stack %s" % (self.server_group_id, self.stack_id)

    def user_records(self) -> list[dict[str, Any]]:
        """The group's database users, read once however often a run asks."""
        if self._user_records is None:
            self._user_records = self.users.all()
        return self._user_records

    def usernames(self, user_ids: list[str]) -> list[str]:
        """Map database user uids to usernames (uids Cloud66 does not list stay as they are)."""
        known = dict(
            (user["uid"], user["username"])
            for user in self.user_records()
            if isinstance(user.get("uid"), str) and isinstance(user.get("username"), str)
        )
        return [known.get(user_id, user_id) for user_id in user_ids]

    def user_ids(self, usernames: list[str]) -> list[str]:
        """Map usernames to database user uids; an unknown username, or one listed twice, is an error."""
        listed: dict[str, list[dict[str, Any]]] = {}
        for user in self.user_records():
            if isinstance(user.get("username"), str):
                listed.setdefault(user["username"], []).append(user)
        unknown = [username for username in usernames if username not in listed]
        if unknown:
            raise Cloud66Error(
                "Server group %s of stack %s has no database user named %s. Its users: %s."
                % (
                    self.server_group_id,
                    self.stack_id,
                    ", ".join(unknown),
                    ", ".join(sorted(listed)) or "none",
                )
            )
        return [
            self.users.single(listed[username], "username", username)["uid"]
            for username in usernames
        ]

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

    def database_ids(self, names: list[str]) -> list[str]:
        """Map database names to uids; a name the group does not list, or lists twice, is an error."""
        found = self.databases.named(names)
        missing = [name for name in names if name not in found]
        if missing:
            raise Cloud66Error(
                "Server group %s of stack %s lists no database named %s."
                % (self.server_group_id, self.stack_id, ", ".join(missing))
            )
        return [self.databases.single(found[name], "name", name)["uid"] for name in names]

    def database_names(self, uids: list[str]) -> list[str]:
        """Map database uids to names (uids the group does not list stay as they are)."""
        known = dict((record.get("uid"), record.get("name")) for record in self.databases.all())
        return [known.get(uid, uid) for uid in uids]

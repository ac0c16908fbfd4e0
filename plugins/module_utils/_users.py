# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The database users of one Cloud66 server group: lookup over pages, create, delete and password changes.
Private to this collection."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ._client import api_path, resend_blindly
from ._errors import Cloud66Error
from ._group_list import GroupList, is_duplicate
from ._records import user_record, without_secrets

SHOW_PASSWORD = {"show_password": "true"}


def without_password(record: dict[str, Any] | None) -> dict[str, Any]:
    """The record without its password fields, or any other field that names a secret."""
    return without_secrets(record or {})


def user_warning(
    record: dict[str, Any], database_names: list[str] | None, user_type: str | None
) -> str | None:
    """The warning for an existing user whose databases or type differ from the requested ones, or None.

    A user listed without ``databases`` or ``user_type`` (the model pages' shape) is not compared on that field.
    """
    differences = []
    current = record.get("databases")
    if (
        database_names is not None
        and isinstance(current, list)
        and sorted(database_names) != sorted(current)
    ):
        differences.append("databases %s, not %s" % (sorted(current), sorted(database_names)))
    if user_type is not None and record.get("user_type") not in (None, user_type):
        differences.append("type %r, not %r" % (record.get("user_type"), user_type))
    if not differences:
        return None
    return (
        "Database user %r already exists with %s. Cloud66 cannot change the databases or type of an existing user, "
        "so nothing was changed." % (record.get("username"), " and ".join(differences))
    )


class UserList(GroupList):
    """The database users of one server group of one stack."""

    collection = "database_users"
    noun = "database user"
    reader = staticmethod(user_record)

    def find(
        self,
        username: str | None = None,
        uid: str | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """The user with this uid (or else this username), or None.

        A uid is looked up until the page that holds it; a username on every page, so that one listed twice is an
        error naming both uids, never a guess.
        """
        key, value = ("uid", uid) if uid else ("username", username)
        matches = []
        for items in self._pages(self.path, params=params):
            matches.extend(item for item in items if item.get(key) == value)
            if uid and matches:
                break
        return self.single(matches, key, value) if matches else None

    def _pages(
        self, path: str, newest_first: bool = False, params: dict[str, str] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        try:
            yield from super()._pages(path, newest_first, params)
        except Cloud66Error as exc:
            if exc.status == 403 and params == SHOW_PASSWORD:
                exc.message = (
                    "Cloud66 refused to show passwords (403): reading them (show_password) needs edit "
                    "permission on stack %s for the token's user, an account permission, not a token scope. "
                    "Cloud66 said: %s" % (self.stack_id, exc.description or "nothing more")
                )
            raise

    def password(self, username: str) -> str | None:
        """The user's password as Cloud66 shows it now, or None when the user is not listed."""
        record = self.find(username=username, params=SHOW_PASSWORD)
        return None if record is None else record.get("password")

    def create(
        self, username: str, user_type: str, database_ids: list[str] | None
    ) -> tuple[dict[str, Any] | None, bool]:
        """Start creating a user. Returns (action, created), as DatabaseGroup.create does."""
        body = {
            "username": username,
            "user_type": user_type,
            "database_ids": list(database_ids or []),
        }
        return self._write(
            lambda: self.client.post(self.path, body, look=lambda: self._listed(username=username)),
            done_already=is_duplicate,
        )

    def delete(self, uid: str) -> tuple[dict[str, Any] | None, bool]:
        """Start deleting a user. Returns (action, deleted); action is None when Cloud66 says it is gone already."""
        path = self.path + api_path(uid)
        return self._write(
            lambda: self.client.delete(path, look=lambda: self._delete_started(uid)),
            done_already=lambda exc: exc.status == 404,
        )

    def regenerate_password(self, uid: str) -> tuple[dict[str, Any], bool]:
        """Start changing the user's password. Repeating it after a lost answer only changes the password again."""
        path = self.path + api_path(uid, "regenerate_password")
        # There is no way to look whether a lost request went through, and sending it again is harmless.
        action, started = self._write(
            lambda: self.client.post(path, {}, look=resend_blindly),
            done_already=lambda exc: exc.status == 404,
        )
        if action is None and not started:
            raise Cloud66Error(
                "Database user %s is no longer in server group %s; nothing was changed."
                % (uid, self.server_group_id),
                status=404,
            )
        return action or {}, True

    def look(
        self,
        usernames: Iterable[str] = (),
        uids: Iterable[str] = (),
        expected_total: int | None = None,
    ) -> tuple[dict[str, dict[str, Any]], set[str], bool]:
        """One read of the whole list for users just created or deleted: (username -> record, the uids still listed,
        True). User lists are short, so every look reads them whole, whatever their count."""
        usernames, uids = set(usernames), set(uids)
        users = self.all()
        return (
            dict((user["username"], user) for user in users if user.get("username") in usernames),
            set(user["uid"] for user in users if user.get("uid") in uids),
            True,
        )

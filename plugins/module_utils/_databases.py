# -*- coding: utf-8 -*-
# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The databases of one Cloud66 server group: lookup over pages, create and delete. Private to this collection."""

from __future__ import annotations

import re

from ._actions import FAILED, action_outcome, wait_until
from ._client import Cloud66Error, api_path, response_of
from ._stacks import STACK_NOT_FOUND

ALREADY_EXISTS = re.compile(r"already (exists|been taken)", re.IGNORECASE)
NAME_MAX_LENGTH = 63
NAME_FORBIDDEN = re.compile(r"[\s/\\?#;%]|\.\.")


def name_problem(name):
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


def users_warning(record, usernames):
    """The warning for an existing database whose users differ from the requested ones, or None."""
    users = record.get("users")
    current = sorted(str(user) for user in users) if isinstance(users, list) else []
    if usernames is None or sorted(usernames) == current:
        return None
    return ("Database %r already exists with users %s, not %s. Cloud66 cannot change the users of an existing "
            "database, so nothing was changed." % (record.get("name"), current, sorted(usernames)))


class DatabaseGroup:
    """The databases of one server group of one stack."""

    def __init__(self, client, stack_id, server_group_id):
        self.client = client
        self.stack_id = stack_id
        self.server_group_id = server_group_id
        self.path = api_path("stacks", stack_id, "server_groups", server_group_id, "databases")
        self._users = None

    def find(self, name=None, uid=None):
        """The record with this uid (or else this name), or None.

        Paging stops at the first page holding a match; two matches on it are an error, never a guess.
        """
        key, value = ("uid", uid) if uid else ("name", name)
        for items in self._pages(self.path):
            matches = [item for item in items if item.get(key) == value]
            if len(matches) > 1:
                uids = ", ".join(str(match.get("uid", "?")) for match in matches)
                raise Cloud66Error("Server group %s of stack %s lists %d databases with %s %r (uids %s); refusing to "
                                   "pick one. Target one by uid instead."
                                   % (self.server_group_id, self.stack_id, len(matches), key, value, uids))
            if matches:
                return matches[0]
        return None

    def all(self):
        return [item for items in self._pages(self.path) for item in items]

    def named(self, names):
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
                if isinstance(item.get("name"), str) and item["name"] in wanted:
                    found.setdefault(item["name"], []).append(item)
            if wanted.issubset(found):
                break
        return found

    def users(self):
        """The group's database users, read once however often a run asks."""
        if self._users is None:
            path = api_path("stacks", self.stack_id, "server_groups", self.server_group_id, "database_users")
            self._users = [user for items in self._pages(path) for user in items]
        return self._users

    def _user_pairs(self):
        """(uid, username) of every listed user whose uid and username are both strings; others cannot be named."""
        return [(user["uid"], user["username"]) for user in self.users()
                if isinstance(user.get("uid"), str) and isinstance(user.get("username"), str)]

    def usernames(self, user_ids):
        """Map database user uids to usernames (uids Cloud66 does not know stay as they are)."""
        known = dict(self._user_pairs())
        return [known.get(user_id, user_id) for user_id in user_ids]

    def user_ids(self, usernames):
        """Map usernames to database user uids; an unknown username is an error that lists the known ones."""
        known = dict((username, uid) for uid, username in self._user_pairs())
        unknown = [username for username in usernames if username not in known]
        if unknown:
            raise Cloud66Error("Server group %s of stack %s has no database user named %s. Its users: %s."
                               % (self.server_group_id, self.stack_id, ", ".join(unknown), ", ".join(sorted(known)) or "none"))
        return [known[username] for username in usernames]

    def requested_usernames(self, usernames=None, user_ids=None):
        """The usernames a task asks for, given either as usernames or as user uids; None when it asks for none."""
        return usernames if usernames is not None or user_ids is None else self.usernames(user_ids)

    def requested_user_ids(self, usernames=None, user_ids=None):
        """The user uids a task asks for, given either as usernames or as user uids."""
        return self.user_ids(usernames) if usernames is not None else user_ids

    def create(self, name, user_ids):
        """Start creating a database. Returns (action, created); action is None when no new action was started.

        A POST whose answer was lost or unexpected is never repeated blindly: the name is looked up first, and a
        "name already exists" answer to a repeated POST means the lost one went through.
        """
        body = {"database_name": name, "database_user_ids": list(user_ids or [])}
        return self._write(lambda: self.client.post(self.path, body),
                           done_already=lambda exc: exc.status == 400 and bool(ALREADY_EXISTS.search(exc.description or "")),
                           took_effect=lambda: {} if self.find(name=name) is not None else None)

    def delete(self, uid):
        """Start deleting a database. Returns (action, deleted); action is None when Cloud66 says it is gone already."""
        if not isinstance(uid, str) or not uid.strip():
            raise Cloud66Error("Server group %s of stack %s lists the database without a usable uid (got %r); it cannot "
                               "be deleted through the API." % (self.server_group_id, self.stack_id, uid))
        path = self.path + api_path(uid)
        return self._write(lambda: self.client.delete(path), done_already=lambda exc: exc.status == 404,
                           took_effect=lambda: self._delete_started(uid))

    def _write(self, send, done_already, took_effect):
        """Send a create or delete; after any answer that leaves its fate unknown, look before sending it again.

        Returns (action, acted). ``done_already(error)`` recognises the answer that means the goal is reached
        already; after an earlier ambiguous attempt that answer means the earlier attempt went through.
        ``took_effect()`` looks whether an earlier attempt was carried out: the action it started, {} when that is
        known without an action, or None.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                return _started_action(send()), True
            except Cloud66Error as exc:
                if done_already(exc):
                    return None, attempt > 1
                if exc.status == 404:
                    raise self._missing_parent(exc)
                if not exc.ambiguous:
                    raise
                error = exc
            try:
                action = took_effect()
            except Cloud66Error as look_error:
                error.message = ("%s Cloud66 may have acted on it, and looking again failed: %s Look at the server group "
                                 "before running again." % (error.message, look_error.message))
                raise error
            if action is not None:
                return action or None, True
            if not error.transient:
                error.message = "%s Looked again: Cloud66 does not show it as carried out." % error.message
                raise error
            if attempt > self.client.retries:
                error.message = ("%s Gave up after %d attempts; Cloud66 may have acted on the last one, so look at the "
                                 "server group before running again." % (error.message, attempt))
                error.attempts = attempt
                raise error
            left = self.client.time_left()
            wait = self.client.backoff(attempt)
            if left is not None and wait >= left:
                error.message = ("%s wait_timeout ran out before it could be sent again; Cloud66 did not list it as "
                                 "done, look at the server group before running again." % error.message)
                raise error
            self.client.sleep(wait)

    def _delete_started(self, uid):
        """The delete action of database ``uid`` that the newest page of the stack's actions shows, {} when the
        list no longer shows the database, or None when neither tells that a delete was carried out.

        The newest page is the first one when the list is newest first, else the last one (read as well).
        """
        path = api_path("stacks", self.stack_id, "actions")
        body = self.client.get(path, params={"page": 1})
        actions = response_of(body, list, "GET %s" % path)
        pagination = body.get("pagination") if isinstance(body.get("pagination"), dict) else {}
        pages = pagination.get("pages")
        ids = [action.get("id") for action in actions if isinstance(action.get("id"), int)]
        if isinstance(pages, int) and pages > 1 and ids == sorted(ids):
            actions = response_of(self.client.get(path, params={"page": pages}), list, "GET %s" % path)
        for action in actions:
            if (action.get("resource_id") == uid and "delete" in str(action.get("action_type") or action.get("action"))
                    and _started_action({"response": action}) and action_outcome(action) != FAILED):
                return action
        return {} if self.find(uid=uid) is None else None

    def wait_listed(self, name, deadline):
        """Wait until the list shows ``name``; Cloud66 refreshes it some time after an action finished."""
        return wait_until(lambda: self.find(name=name), deadline, lambda: (
            "Database %r was created but server group %s still did not list it after %d s. Raise wait_timeout."
            % (name, self.server_group_id, round(deadline.elapsed()))))

    def wait_unlisted(self, uid, deadline):
        def gone():
            return True if self.find(uid=uid) is None else None
        return wait_until(gone, deadline, lambda: (
            "Database %s was deleted but server group %s still listed it after %d s. Raise wait_timeout."
            % (uid, self.server_group_id, round(deadline.elapsed()))))

    def _pages(self, path):
        try:
            yield from self.client.pages(path)
        except Cloud66Error as exc:
            if exc.status == 404:
                raise self._missing_parent(exc)
            raise

    def _missing_parent(self, exc):
        """Say which of stack and server group is missing, at the cost of one request on this failure path.

        That look is optional: when it fails, the message says that either could be the missing one.
        """
        try:
            self.client.get(api_path("stacks", self.stack_id))
        except Cloud66Error as stack_error:
            if stack_error.status != 404:
                message = ("Server group %s of stack %s was not found (the database list answered 404), or the stack "
                           "itself is missing: looking the stack up to tell which failed: %s"
                           % (self.server_group_id, self.stack_id, stack_error.message))
                return Cloud66Error(message, status=404, error=exc.error, description=exc.description, attempts=exc.attempts)
            message = STACK_NOT_FOUND % self.stack_id
        else:
            message = "Server group %s was not found in stack %s." % (self.server_group_id, self.stack_id)
        return Cloud66Error(message, status=404, error=exc.error, description=exc.description, attempts=exc.attempts)


def _started_action(body):
    """The action in the answer to a create or delete, or {} when the answer holds none with a usable id."""
    action = body.get("response") if isinstance(body, dict) else None
    if isinstance(action, dict) and isinstance(action.get("id"), (int, str)) and not isinstance(action.get("id"), bool):
        return action
    return {}

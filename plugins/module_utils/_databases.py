# -*- coding: utf-8 -*-
# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The databases of one Cloud66 server group: lookup over pages, create and delete. Private to this collection."""

from __future__ import annotations

import itertools
import re

from ._actions import wait_until
from ._client import MAX_PAGES, Cloud66Error, api_path
from ._records import action_record, database_names, database_record, text, user_record, whole_number
from ._stacks import STACK_NOT_FOUND

# How Cloud66 may word its refusal of a name that is in use; nothing published fixes the wording.
ALREADY_EXISTS = re.compile(r"already exists|exists already|been taken|is taken|already in use|duplicate", re.IGNORECASE)
NAME_MAX_LENGTH = 63
NAME_FORBIDDEN = re.compile(r"[\s/\\?#;%]|\.\.")
# While the list's count says it has not caught up, a look reads page 1 alone, but every this many looks reads on.
FULL_LOOK_EVERY = 3


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


def is_duplicate(error):
    """True when Cloud66 refused a create because the name is in use: 409 conflict, or a 400 that says so."""
    return error.status == 409 or (error.status == 400 and bool(ALREADY_EXISTS.search(error.description or "")))


def users_warning(record, usernames):
    """The warning for an existing database whose users differ from the requested ones, or None.

    A database listed without ``users`` (the model pages' shape) has users Cloud66 did not say: no warning then.
    """
    if usernames is None or not isinstance(record.get("users"), list):
        return None
    current = sorted(str(user) for user in record["users"])
    if sorted(usernames) == current:
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
        # The list's total count (pagination.count) as the last page read of it gave it.
        self.listed_total = None

    def find(self, name=None, uid=None, newest_first=False):
        """The record with this uid (or else this name), or None.

        Paging stops at the first page holding a match; two matches on it are an error, never a guess. With
        ``newest_first`` the pages are read in the order that finds a just-created database soonest.
        """
        key, value = ("uid", uid) if uid else ("name", name)
        for items in self._pages(self.path, newest_first=newest_first):
            matches = [item for item in items if (item.get("uid") == uid if uid else name in database_names(item))]
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
                for name in database_names(item) & wanted:
                    found.setdefault(name, []).append(item)
            if wanted.issubset(found):
                break
        return found

    def look(self, names=(), uids=(), expected_total=None):
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

    def users(self):
        """The group's database users, read once however often a run asks."""
        if self._users is None:
            path = api_path("stacks", self.stack_id, "server_groups", self.server_group_id, "database_users")
            self._users = [user for items in self._pages(path, record=user_record) for user in items]
        return self._users

    def usernames(self, user_ids):
        """Map database user uids to usernames (uids Cloud66 does not know stay as they are)."""
        known = dict((user.get("uid"), user.get("username")) for user in self.users())
        return [known.get(user_id, user_id) for user_id in user_ids]

    def user_ids(self, usernames):
        """Map usernames to database user uids; an unknown username is an error that lists the known ones."""
        known = dict((user.get("username"), user.get("uid")) for user in self.users())
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

        A POST whose answer was lost is never repeated blindly: the name is looked up first, and a
        "name already exists" answer to a repeated POST means the lost one went through.
        """
        body = {"database_name": name, "database_user_ids": list(user_ids or [])}
        return self._write(lambda: self.client.post(self.path, body), done_already=is_duplicate,
                           took_effect=lambda: self.find(name=name) is not None)

    def delete(self, uid):
        """Start deleting a database. Returns (action, deleted); action is None when Cloud66 says it is gone already."""
        path = self.path + api_path(uid)
        return self._write(lambda: self.client.delete(path), done_already=lambda exc: exc.status == 404)

    def _write(self, send, done_already, took_effect=None):
        """Send a create or delete, repeating it after an ambiguous failure only once it is known not to have acted.

        Returns (action, acted). ``done_already(error)`` recognises the answer that means the goal is reached
        already; after an earlier ambiguous attempt that answer means the earlier attempt went through.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                body = send()
                # Cloud66 accepted the request; without an action in the answer the caller waits on the list alone.
                action = body.get("response") if isinstance(body, dict) else None
                return (action_record(action) if isinstance(action, dict) else {}), True
            except Cloud66Error as exc:
                if done_already(exc):
                    return None, attempt > 1
                if exc.status == 404:
                    raise self._missing_parent(exc)
                if not exc.ambiguous:
                    raise
                if attempt > self.client.retries:
                    exc.message = ("%s Gave up after %d attempts; Cloud66 may have acted on the last one, so look at the "
                                   "server group before running again." % (exc.message, attempt))
                    exc.attempts = attempt
                    raise
                self.client.sleep(self.client.backoff(attempt))
            if took_effect is not None and took_effect():
                return None, True

    def wait_listed(self, name, deadline):
        """Wait until the list shows ``name``; Cloud66 refreshes it some time after an action finished."""
        return self.wait_settled([name], [], deadline)[name]

    def wait_unlisted(self, uid, deadline):
        self.wait_settled([], [uid], deadline)

    def wait_settled(self, names, uids, deadline):
        """Wait until the list shows every database in ``names`` and none of ``uids``; returns name -> record.

        The list's total count tells when it has caught up: until page 1 counts the total the list had before the
        run's writes, plus the creates, less the deletes, a look reads page 1 alone. Others may change the group
        meanwhile and upset that sum, so every few looks one reads the list whatever its count.
        """
        expected_total = None if self.listed_total is None else self.listed_total + len(set(names)) - len(set(uids))
        last_look = [{}, set(uids), False]
        looks = []

        def settled():
            looks.append(True)
            quick = expected_total is not None and len(looks) % FULL_LOOK_EVERY != 0
            last_look[:] = self.look(names, uids, expected_total if quick else None)
            records, listed, complete = last_look
            done = len(records) == len(set(names)) and not listed and (complete or not uids)
            return records if done else None

        def describe():
            records, listed, _complete = last_look
            missing = sorted(set(names) - set(records))
            problems = []
            if missing:
                problems.append("Database%s %s %s created but server group %s still did not list %s" % (
                    "s" if len(missing) > 1 else "", ", ".join(map(repr, missing)), "were" if len(missing) > 1 else "was",
                    self.server_group_id, "them" if len(missing) > 1 else "it"))
            if listed:
                problems.append("Database%s %s %s deleted but server group %s still listed %s" % (
                    "s" if len(listed) > 1 else "", ", ".join(sorted(listed)), "were" if len(listed) > 1 else "was",
                    self.server_group_id, "them" if len(listed) > 1 else "it"))
            return ("%s after %d s. Cloud66 refreshes the list some time after an action finished; raise wait_timeout."
                    % ("; ".join(problems) or "The database list of server group %s did not catch up"
                       % self.server_group_id, round(deadline.elapsed())))
        return wait_until(settled, deadline, describe)

    def _pages(self, path, record=None, newest_first=False):
        """The list's pages, each as a list of records read by ``record`` (by default: databases); see _newest_first
        for that order."""
        record = record or self._database
        try:
            for items in self._newest_first(path) if newest_first else self.client.pages(path):
                if path == self.path:
                    self.listed_total = whole_number(self.client.last_page.get("count"))
                yield [record(item) for item in items]
        except Cloud66Error as exc:
            if exc.status == 404:
                raise self._missing_parent(exc)
            raise

    def _database(self, raw):
        """A listed database in the documented shape; one that has no uid or no name is an answer we cannot use."""
        record = database_record(raw)
        if not text(record.get("uid")) or not database_names(record):
            raise Cloud66Error("Server group %s of stack %s lists a database this collection cannot read: it needs a "
                               "string 'uid' and a 'name' or 'database_name', and has the fields %s. Cloud66 may have "
                               "changed its answers; please report this."
                               % (self.server_group_id, self.stack_id, ", ".join(sorted(map(str, record))) or "none"))
        return record

    def _newest_first(self, path):
        """Page 1 (which gives the page count), then the others from the last one back."""
        items, info = self.client.page(path, 1)
        yield items
        pages = whole_number(info.get("pages"))
        if pages is None:
            # No page count: the other pages in their own order, at the cost of reading page 1 again.
            yield from itertools.islice(self.client.pages(path), 1, None)
            return
        for number in range(min(pages, MAX_PAGES), 1, -1):
            yield self.client.page(path, number)[0]

    def _missing_parent(self, exc):
        """Say which of stack and server group is missing, at the cost of one request on this failure path."""
        try:
            self.client.get(api_path("stacks", self.stack_id))
        except Cloud66Error as stack_error:
            if stack_error.status != 404:
                raise
            message = STACK_NOT_FOUND % self.stack_id
        else:
            message = "Server group %s was not found in stack %s." % (self.server_group_id, self.stack_id)
        return Cloud66Error(message, status=404, error=exc.error, description=exc.description, attempts=exc.attempts)

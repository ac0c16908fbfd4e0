# -*- coding: utf-8 -*-
# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the lists under one server group (databases, database users) share: paging, lookups, writes that are never
sent twice blindly, and waiting for the list to catch up. Private to this collection."""

from __future__ import annotations

import re

from ._actions import wait_until
from ._client import Cloud66Error, api_path
from ._stacks import STACK_NOT_FOUND

ALREADY_EXISTS = re.compile(r"already (exists|been taken)", re.IGNORECASE)


def already_exists(exc):
    """Whether Cloud66 refused a create because the name is in use."""
    return exc.status == 400 and bool(ALREADY_EXISTS.search(exc.description or ""))


class GroupList:
    """One list of a server group of a stack. ``noun`` names its items in messages, ``name_key`` their name field."""

    noun = "item"
    name_key = "name"

    def __init__(self, client, stack_id, server_group_id, collection):
        self.client = client
        self.stack_id = stack_id
        self.server_group_id = server_group_id
        self.path = api_path("stacks", stack_id, "server_groups", server_group_id, collection)

    def record(self, raw):
        """The record as the modules read it; a subclass adds the names other shapes use."""
        return raw

    def items(self, params=None):
        """The records page by page."""
        for items in self._pages(self.path, params):
            yield [self.record(item) for item in items]

    def all(self, params=None):
        return [item for items in self.items(params) for item in items]

    def find(self, name=None, uid=None, params=None):
        """The record with this uid (or else this name), or None.

        Paging stops at the first page holding a match; two matches on it are an error, never a guess.
        """
        key, value = ("uid", uid) if uid else (self.name_key, name)
        for items in self.items(params):
            matches = [item for item in items if item.get(key) == value]
            if len(matches) > 1:
                uids = ", ".join(match.get("uid", "?") for match in matches)
                raise Cloud66Error("Server group %s of stack %s lists %d %ss with %s %r (uids %s); refusing to "
                                   "pick one. Target one by uid instead."
                                   % (self.server_group_id, self.stack_id, len(matches), self.noun, key, value, uids))
            if matches:
                return matches[0]
        return None

    def wait_listed(self, name, deadline):
        """Wait until the list shows ``name``; Cloud66 refreshes it some time after an action finished."""
        return wait_until(lambda: self.find(name=name), deadline, lambda: (
            "%s %r was created but server group %s still did not list it after %d s. Raise wait_timeout."
            % (self.noun.capitalize(), name, self.server_group_id, round(deadline.elapsed()))))

    def wait_unlisted(self, uid, deadline):
        def gone():
            return True if self.find(uid=uid) is None else None
        return wait_until(gone, deadline, lambda: (
            "%s %s was deleted but server group %s still listed it after %d s. Raise wait_timeout."
            % (self.noun.capitalize(), uid, self.server_group_id, round(deadline.elapsed()))))

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
                return (action if isinstance(action, dict) else {}), True
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

    def _pages(self, path, params=None):
        try:
            yield from self.client.pages(path, params=params)
        except Cloud66Error as exc:
            if exc.status == 404:
                raise self._missing_parent(exc)
            raise

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

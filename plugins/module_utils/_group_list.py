# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the lists of a server group (databases, database users) share: paging, writes that are never sent twice
blindly, and naming a missing stack or server group. Private to this collection."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any

from ._actions import FAILED, action_outcome, newest_page, wait_until
from ._client import MAX_PAGES, Cloud66Client, Deadline, api_path
from ._errors import Cloud66Error
from ._records import action_name, action_record, whole_number
from ._stacks import STACK_NOT_FOUND

# While the list's count says it has not caught up, a look reads page 1 alone, but every this many looks reads on.
FULL_LOOK_EVERY = 3
# How Cloud66 may word its refusal of a name that is in use; nothing published fixes the wording.
ALREADY_EXISTS = re.compile(
    r"already exists|exists already|been taken|is taken|already in use|duplicate", re.IGNORECASE
)


def is_duplicate(error: Cloud66Error) -> bool:
    """True when Cloud66 refused a create because the name is in use: 409 conflict, or a 400 that says so."""
    return error.status == 409 or (
        error.status == 400 and bool(ALREADY_EXISTS.search(error.description or ""))
    )


class GroupList:
    """One list of a server group of a stack: ``collection`` is its path below the group, ``reader`` reads its items,
    ``noun`` names them in messages."""

    collection: str | None = None
    noun: str = "item"

    client: Cloud66Client
    stack_id: str | int
    server_group_id: str | int
    path: str
    listed_total: int | None

    def __init__(
        self, client: Cloud66Client, stack_id: str | int, server_group_id: str | int
    ) -> None:
        self.client = client
        self.stack_id = stack_id
        self.server_group_id = server_group_id
        self.path = api_path("stacks", stack_id, "server_groups", server_group_id, self.collection)
        # The list's total count (pagination.count) as the last page read of it gave it.
        self.listed_total = None

    @staticmethod
    def reader(raw: dict[str, Any]) -> dict[str, Any]:
        return raw

    def all(self, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return [item for items in self._pages(self.path, params=params) for item in items]

    def single(self, matches: list[dict[str, Any]], key: str, value: Any) -> dict[str, Any]:
        """The one record of ``matches`` (all with ``key`` equal to ``value``).

        Two or more are an error, never a guess.
        """
        if len(matches) > 1:
            uids = ", ".join(str(match.get("uid", "?")) for match in matches)
            raise Cloud66Error(
                "Server group %s of stack %s lists %d %ss with %s %r (uids %s); refusing to pick one. "
                "Target one by uid instead."
                % (self.server_group_id, self.stack_id, len(matches), self.noun, key, value, uids)
            )
        return matches[0]

    def wait_listed(self, name: str, deadline: Deadline) -> dict[str, Any]:
        """Wait until the list shows ``name``; Cloud66 refreshes it some time after an action finished."""
        return self.wait_settled([name], [], deadline)[name]

    def wait_unlisted(self, uid: str, deadline: Deadline) -> None:
        self.wait_settled([], [uid], deadline)

    def wait_settled(
        self, names: list[str], uids: list[str], deadline: Deadline
    ) -> dict[str, dict[str, Any]]:
        """Wait until the list shows every item in ``names`` and none of ``uids``; returns name -> record.

        ``look(names, uids, expected_total)``, one read of the list, gives (name -> record, the uids of ``uids``
        still listed, whether the whole list was read). The list's total count tells when it has caught up: until
        page 1 counts the total the list had before the run's writes, plus the creates, less the deletes, a look reads
        page 1 alone. Others may change the group meanwhile and upset that sum, so every few looks one reads the list
        whatever its count.
        """
        expected_total = (
            None
            if self.listed_total is None
            else self.listed_total + len(set(names)) - len(set(uids))
        )
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
            noun = self.noun.capitalize()
            if missing:
                problems.append(
                    "%s%s %s %s created but server group %s still did not list %s"
                    % (
                        noun,
                        "s" if len(missing) > 1 else "",
                        ", ".join(map(repr, missing)),
                        "were" if len(missing) > 1 else "was",
                        self.server_group_id,
                        "them" if len(missing) > 1 else "it",
                    )
                )
            if listed:
                problems.append(
                    "%s%s %s %s deleted but server group %s still listed %s"
                    % (
                        noun,
                        "s" if len(listed) > 1 else "",
                        ", ".join(sorted(listed)),
                        "were" if len(listed) > 1 else "was",
                        self.server_group_id,
                        "them" if len(listed) > 1 else "it",
                    )
                )
            return (
                "%s after %d s. Cloud66 refreshes the list some time after an action finished; raise wait_timeout."
                % (
                    "; ".join(problems)
                    or "The %s list of server group %s did not catch up"
                    % (self.noun, self.server_group_id),
                    round(deadline.elapsed()),
                )
            )

        return wait_until(settled, deadline, describe)

    def _write(
        self, send: Callable[[], Any], done_already: Callable[[Cloud66Error], bool]
    ) -> tuple[dict[str, Any] | None, bool]:
        """Send a create or delete (``send`` gives the client's answer, looking again after a lost one).

        Returns (action, acted). ``done_already(error)`` recognises the answer that means the goal is reached
        already; after an earlier attempt whose answer was lost, that answer means the earlier attempt went through.
        """
        try:
            return started_action(send()) or None, True
        except Cloud66Error as exc:
            if done_already(exc):
                return None, exc.resent
            if exc.status == 404:
                raise self._missing_parent(exc) from exc
            raise

    def _listed(self, **key: str) -> dict[str, Any] | None:
        """For a create's look again: an answer without an action when the list shows the item now, else None."""
        return {"response": {}} if self.find(**key) is not None else None

    def _delete_started(self, uid: str) -> dict[str, Any] | None:
        """For a delete's look again: an answer holding the delete action of ``uid`` that the newest page of the
        stack's actions shows, one without an action when the list no longer shows the item, or None when neither
        tells that a delete was carried out.

        The newest page is the first one when the list is newest first, else the last one (read as well).
        """
        path = api_path("stacks", self.stack_id, "actions")
        actions, info = self.client.page(path, 1)
        newest = newest_page(actions, info)
        if newest > 1:
            actions = self.client.page(path, newest)[0]
        for action in (action_record(item) for item in actions):
            if (
                action.get("resource_id") == uid
                and "delete" in action_name(action)
                and started_action({"response": action})
                and action_outcome(action) != FAILED
            ):
                return {"response": action}
        return {"response": {}} if self.find(uid=uid) is None else None

    def _pages(
        self, path: str, newest_first: bool = False, params: dict[str, str] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """The list's pages, each as a list of records read by ``reader``; see _newest_first for that order."""
        try:
            for items in (
                self._newest_first(path, params)
                if newest_first
                else self.client.pages(path, params=params)
            ):
                if path == self.path:
                    self.listed_total = whole_number(self.client.last_page.get("count"))
                yield [self.reader(item) for item in items]
        except Cloud66Error as exc:
            if exc.status == 404:
                raise self._missing_parent(exc) from exc
            raise

    def _newest_first(
        self, path: str, params: dict[str, str] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Page 1 (which gives the page count), then the others from the last one back."""
        items, info = self.client.page(path, 1, params=params)
        yield items
        pages = whole_number(info.get("pages"))
        if pages is None:
            # No page count: the other pages in their own order, at the cost of reading page 1 again.
            yield from itertools.islice(self.client.pages(path, params=params), 1, None)
            return
        for number in range(min(pages, MAX_PAGES), 1, -1):
            yield self.client.page(path, number, params=params)[0]

    def _missing_parent(self, exc: Cloud66Error) -> Cloud66Error:
        """Say which of stack and server group is missing, at the cost of one request on this failure path.

        That look is optional: when it fails, the message says that either could be the missing one.
        """
        try:
            self.client.get(api_path("stacks", self.stack_id))
        except Cloud66Error as stack_error:
            if stack_error.status != 404:
                message = (
                    "Server group %s of stack %s was not found (its %s list answered 404), or the stack itself "
                    "is missing: looking the stack up to tell which failed: %s"
                    % (self.server_group_id, self.stack_id, self.noun, stack_error.message)
                )
                return Cloud66Error(
                    message,
                    status=404,
                    error=exc.error,
                    description=exc.description,
                    attempts=exc.attempts,
                )
            message = STACK_NOT_FOUND % self.stack_id
        else:
            message = "Server group %s was not found in stack %s." % (
                self.server_group_id,
                self.stack_id,
            )
        return Cloud66Error(
            message, status=404, error=exc.error, description=exc.description, attempts=exc.attempts
        )


def started_action(body: Any) -> dict[str, Any]:
    """The action in the answer to a create or delete, or {} when the answer holds none with a usable id."""
    action = body.get("response") if isinstance(body, dict) else None
    if (
        isinstance(action, dict)
        and isinstance(action.get("id"), (int, str))
        and not isinstance(action.get("id"), bool)
    ):
        return action_record(action)
    return {}

# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Cloud66 asynchronous actions: their outcome and waiting on them. Private to this collection."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ._client import Cloud66Client, Deadline, api_path, response_of
from ._errors import BudgetSpent, Cloud66Error
from ._records import action_name, action_record, whole_number

PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"

SUCCESS_STATUSES = frozenset(
    ["completed", "complete", "success", "succeeded", "successful", "finished", "done"]
)
FAILURE_STATUSES = frozenset(
    ["failed", "failure", "error", "errored", "cancelled", "canceled", "aborted", "timed_out"]
)

FIRST_POLL_INTERVAL = 1.0
POLL_GROWTH = 1.5
POLL_INTERVAL_CAP = 10.0
# Above this many actions one poll reads the stack's action list instead of each action on its own.
LIST_POLL_THRESHOLD = 2
# Items on one page of a Cloud66 list.
LIST_PAGE_SIZE = 30

T = TypeVar("T")


class ActionFailed(Exception):
    action: dict[str, Any]

    def __init__(self, action: dict[str, Any]) -> None:
        self.action = action
        message = action.get("finished_message") or "no message given"
        super().__init__(
            "Cloud66 action %s (%s) failed: %s" % (action.get("id"), action_name(action), message)
        )


class WaitTimeout(Exception):
    actions: list[dict[str, Any]]

    def __init__(self, message: str, actions: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.actions = actions or []


def _flag(value: Any) -> bool | None:
    """finished_success arrives as a boolean, or as the strings "true"/"false" in older documents."""
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().lower())
    return value if isinstance(value, bool) else None


def action_outcome(action: dict[str, Any]) -> str:
    """PENDING, SUCCEEDED or FAILED for an action in either published shape (with or without ``status``)."""
    status = str(action.get("status") or "").strip().lower()
    success = _flag(action.get("finished_success"))
    finished = (
        bool(action.get("finished_at")) or status in SUCCESS_STATUSES or status in FAILURE_STATUSES
    )
    if not finished:
        return PENDING
    if status in FAILURE_STATUSES or success is False:
        return FAILED
    return SUCCEEDED


def wait_until(
    check: Callable[[], T | None],
    deadline: Deadline,
    describe: Callable[[], str],
    check_first: bool = True,
) -> T:
    """Call ``check`` at growing intervals until it returns something other than None.

    Transient API errors count as "not yet": they only spend the budget. ``describe()`` gives the
    text of the timeout error, which is raised once the budget is spent; when the last look failed,
    the error it met is added, so that a timeout caused by throttling or a gateway says so.
    """
    interval = FIRST_POLL_INTERVAL
    if not check_first and not deadline.sleep(interval):
        raise WaitTimeout(describe())
    last_error = None
    while True:
        try:
            result = check()
            last_error = None
        except Cloud66Error as exc:
            if not exc.transient:
                raise
            # A look the budget no longer let the client send is no failure to report; the one before it may be.
            if not isinstance(exc, BudgetSpent):
                last_error = exc
            result = None
        if result is not None:
            return result
        interval = min(interval * POLL_GROWTH, POLL_INTERVAL_CAP)
        if not deadline.sleep(interval):
            message = describe()
            if last_error is not None:
                message = "%s The last look failed: %s" % (message, last_error.message)
            raise WaitTimeout(message)


def newest_page(items: list[dict[str, Any]], info: dict[str, Any]) -> int:
    """Which page of a stack's action list holds its newest actions, judged from page 1 (``items``, pagination
    ``info``): the last page when page 1 lists its actions oldest first (ids rising) and more pages follow, else 1.

    Cloud66 does not document the list's order; this is how every reader of the list tells it.
    """
    ids = [
        number for number in (whole_number(item.get("id")) for item in items) if number is not None
    ]
    pages = whole_number(info.get("pages"))
    if pages and pages > 1 and len(ids) > 1 and ids[0] < ids[-1]:
        return pages
    return 1


class ActionWaiter:
    """Waits on one or many actions of a stack, polling them together in turns."""

    client: Cloud66Client
    stack_id: str | int
    deadline: Deadline

    def __init__(self, client: Cloud66Client, stack_id: str | int, deadline: Deadline) -> None:
        self.client = client
        self.stack_id = stack_id
        self.deadline = deadline

    def wait(
        self, actions: list[dict[str, Any]], stop_on_failure: bool = True
    ) -> list[dict[str, Any]]:
        """The actions as they are once all have finished, in the given order.

        With ``stop_on_failure`` the first failed action raises ActionFailed at once; without it every action is
        waited for and the caller judges the outcomes.
        """
        latest = dict((action["id"], action) for action in actions)

        def pending_ids():
            return [
                action_id
                for action_id, action in latest.items()
                if action_outcome(action) == PENDING
            ]

        def check():
            pending = pending_ids()
            if pending:
                latest.update(self._refresh(pending))
            if stop_on_failure:
                self._raise_failed(latest.values())
            return None if pending_ids() else [latest[action["id"]] for action in actions]

        def describe():
            waiting = [latest[action_id] for action_id in pending_ids()]
            return (
                "Timed out after %d s waiting for Cloud66 action%s %s to finish (still %s). Raise wait_timeout, "
                "or set wait to false and check the stack's activity later."
                % (
                    round(self.deadline.elapsed()),
                    "s" if len(waiting) > 1 else "",
                    ", ".join(str(action["id"]) for action in waiting),
                    ", ".join(
                        sorted(set(str(action.get("status") or "unfinished") for action in waiting))
                    ),
                )
            )

        if not pending_ids():
            return check()
        if stop_on_failure:
            self._raise_failed(latest.values())
        try:
            return wait_until(check, self.deadline, describe, check_first=False)
        except WaitTimeout as exc:
            exc.actions = list(latest.values())
            raise

    def _refresh(self, action_ids: list[Any]) -> dict[Any, dict[str, Any]]:
        found = {}
        if len(action_ids) > LIST_POLL_THRESHOLD:
            try:
                found = self._from_list(action_ids)
            except Cloud66Error as exc:
                # The list is only a shortcut: when it cannot be read, each action is still readable on its own.
                if exc.transient:
                    raise
        for action_id in action_ids:
            if action_id not in found:
                path = api_path("stacks", self.stack_id, "actions", action_id)
                found[action_id] = action_record(
                    response_of(self.client.get(path, retries=0), dict, "GET %s" % path)
                )
        return found

    def _from_list(self, action_ids: list[Any]) -> dict[Any, dict[str, Any]]:
        """The wanted actions as the stack's action list shows them, read page by page.

        Cloud66 does not document the list's order, so page 1 decides it (newest_page): read forward from there when
        it shows the newest actions first, else from the last page backwards. Reading stops once every wanted action
        was seen, at a page that holds only actions older than every wanted one, or after as many pages as the wanted
        actions fill plus one (other actions of the stack may sit between them); whatever was not seen is then read
        one by one, and so is every action when the list cannot be read at all.
        """
        path = api_path("stacks", self.stack_id, "actions")
        wanted = set(action_ids)
        ids = [whole_number(action_id) for action_id in wanted]
        oldest = None if None in ids else min(ids)
        # Page 1, then as many pages as the wanted actions fill plus one.
        budget = (len(wanted) + LIST_PAGE_SIZE - 1) // LIST_PAGE_SIZE + 2
        found = {}
        number, step, pages = 1, 1, None
        for _read in range(budget):
            items, info = self.client.page(path, number, retries=0)
            found.update(
                (item["id"], action_record(item))
                for item in items
                if isinstance(item.get("id"), (int, str)) and item["id"] in wanted
            )
            numbers = [whole_number(item.get("id")) for item in items]
            numbers = [value for value in numbers if value is not None]
            if wanted.issubset(found) or not numbers:
                break
            if number == 1:
                pages = whole_number(info.get("pages"))
                newest = newest_page(items, info)
                if newest > 1:
                    number, step = newest, -1
                    continue
            if oldest is not None and min(numbers) < oldest:
                break
            number += step
            if (
                number < 1
                or (pages is not None and number > pages)
                or (step > 0 and not info.get("next"))
            ):
                break
        return found

    @staticmethod
    def _raise_failed(actions: Iterable[dict[str, Any]]) -> None:
        for action in actions:
            if action_outcome(action) == FAILED:
                raise ActionFailed(action)


def wait_for_all(
    batches: list[tuple[ActionWaiter, list[dict[str, Any]]]], deadline: Deadline
) -> list[list[dict[str, Any]]]:
    """Wait for the actions of several stacks (one waiter each) together: each turn polls every stack that still has
    an unfinished action, then one sleep; every action is waited for, failed ones included (the caller judges).

    Returns each batch's actions as they finished, in the given order; WaitTimeout (with every action as last seen)
    when ``deadline`` runs out first. A transient error of one stack's poll does not keep the others from theirs.
    """
    latest = [dict((action["id"], action) for action in actions) for _waiter, actions in batches]

    def pending(index: int) -> list[Any]:
        return [key for key, action in latest[index].items() if action_outcome(action) == PENDING]

    def all_pending() -> list[dict[str, Any]]:
        return [latest[index][key] for index in range(len(batches)) for key in pending(index)]

    def result() -> list[list[dict[str, Any]]]:
        return [
            [latest[index][action["id"]] for action in actions]
            for index, (_waiter, actions) in enumerate(batches)
        ]

    def check() -> list[list[dict[str, Any]]] | None:
        error = None
        for index, (waiter, _actions) in enumerate(batches):
            waiting = pending(index)
            if not waiting:
                continue
            try:
                latest[index].update(waiter._refresh(waiting))
            except Cloud66Error as exc:
                if not exc.transient:
                    raise
                error = error or exc
        if all_pending():
            if error is not None:
                raise error
            return None
        return result()

    def describe() -> str:
        waiting = all_pending()
        return (
            "Timed out after %d s waiting for Cloud66 action%s %s to finish (still %s). Raise wait_timeout, "
            "or set wait to false and check the stack's activity later."
            % (
                round(deadline.elapsed()),
                "s" if len(waiting) > 1 else "",
                ", ".join(str(action["id"]) for action in waiting),
                ", ".join(
                    sorted(set(str(action.get("status") or "unfinished") for action in waiting))
                ),
            )
        )

    if not all_pending():
        return result()
    try:
        return wait_until(check, deadline, describe, check_first=False)
    except WaitTimeout as exc:
        exc.actions = [action for by_id in latest for action in by_id.values()]
        raise


# The most actions cloud66_action_info lists without ids.
MAX_RECENT = 100


def with_outcome(action: dict[str, Any]) -> dict[str, Any]:
    """An action as Cloud66 sent it, with its outcome in one word (pending, succeeded or failed) as ``outcome``."""
    record = dict(action)
    record["outcome"] = action_outcome(action)
    return record


def first_failed(actions: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    return next((action for action in actions if action_outcome(action) == FAILED), None)


def read_action(client: Cloud66Client, stack_id: str | int, action_id: Any) -> dict[str, Any]:
    """One action of a stack; an id Cloud66 does not know fails naming it."""
    path = api_path("stacks", stack_id, "actions", action_id)
    try:
        body = client.get(path)
    except Cloud66Error as exc:
        if exc.status == 404:
            exc.message = (
                "Cloud66 knows no action %s on stack %s (404). Check the action id. %s"
                % (
                    action_id,
                    stack_id,
                    exc.message,
                )
            )
        raise
    return action_record(response_of(body, dict, "GET %s" % path))


def recent_actions(client: Cloud66Client, stack_id: str | int, limit: int) -> list[dict[str, Any]]:
    """The ``limit`` newest actions of a stack, newest first (highest id first).

    Page 1 tells the list's order (newest_page): read forward from it when it shows the newest first, else from the
    last page backwards; no more pages are read than the wanted actions fill, plus the one that tells the order.
    """
    path = api_path("stacks", stack_id, "actions")
    first = client.page(path, 1)
    newest = newest_page(*first)
    found: dict[Any, dict[str, Any]] = {}
    number, step = (newest, -1) if newest > 1 else (1, 1)
    budget = (limit + LIST_PAGE_SIZE - 1) // LIST_PAGE_SIZE + 1
    for _read in range(budget):
        items, info = first if number == 1 else client.page(path, number)
        for item in items:
            if isinstance(item.get("id"), (int, str)):
                found.setdefault(item["id"], action_record(item))
        if len(found) >= limit or not items:
            break
        number += step
        if number < 1 or (step > 0 and not info.get("next")):
            break
    ordered = sorted(found.values(), key=lambda action: -(whole_number(action.get("id")) or 0))
    return ordered[:limit]


class ActionLookup:
    """What cloud66_action_info does: read the listed (or the newest) actions of a stack, and wait for them."""

    client: Cloud66Client
    stack_id: str | int
    deadline: Deadline

    def __init__(self, client: Cloud66Client, stack_id: str | int, deadline: Deadline) -> None:
        self.client = client
        self.stack_id = stack_id
        self.deadline = deadline

    def read(self, action_ids: list[Any] | None, limit: int) -> list[dict[str, Any]]:
        if action_ids:
            return [read_action(self.client, self.stack_id, action_id) for action_id in action_ids]
        return recent_actions(self.client, self.stack_id, limit)

    def wait(self, actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Every action once finished, in the given order; ActionFailed names the first one that failed (after all
        have finished), WaitTimeout when the budget runs out first."""
        if not actions:
            return []
        finished = ActionWaiter(self.client, self.stack_id, self.deadline).wait(
            actions, stop_on_failure=False
        )
        return finished

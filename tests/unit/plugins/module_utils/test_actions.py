# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests for plugins/module_utils/_actions.py. HTTP is mocked with the responses library; time is a fake clock."""

from __future__ import annotations

import pytest
import requests
import responses
from responses import matchers

from ansible_collections.cloud66.cloud.plugins.module_utils._actions import (
    FAILED,
    FIRST_POLL_INTERVAL,
    LIST_POLL_THRESHOLD,
    PENDING,
    POLL_INTERVAL_CAP,
    SUCCEEDED,
    ActionFailed,
    ActionWaiter,
    WaitTimeout,
    action_outcome,
    first_failed,
    newest_page,
    read_action,
    recent_actions,
    wait_for_all,
    wait_until,
    with_outcome,
)
from ansible_collections.cloud66.cloud.plugins.module_utils._client import Deadline
from ansible_collections.cloud66.cloud.plugins.module_utils._errors import Cloud66Error
from ansible_collections.cloud66.cloud.tests.unit.plugins.fake_api import BASE, TOKEN

STACK = "5999b763474b0eafa5fafb64bff0ba80"
ACTIONS = BASE + "/stacks/%s/actions" % STACK
FINISHED_AT = "2023-01-15T10:31:00Z"


def waiter(client, clock, seconds):
    return ActionWaiter(client, STACK, Deadline(seconds, clock=clock, sleep=clock.sleep))


def action(
    action_id, status="queued", finished_success=None, finished_message=None, finished_at=None
):
    record = {
        "id": action_id,
        "status": status,
        "action_type": "database_create",
        "resource_type": "database",
        "resource_id": None,
        "started_via": "api",
        "started_at": None,
        "finished_at": finished_at,
        "finished_success": finished_success,
        "finished_message": finished_message,
        "created_at": "2023-01-15T10:30:00Z",
        "updated_at": "2023-01-15T10:30:00Z",
    }
    if status is None:
        del record["status"]
    return record


def done(action_id, message="Completed successfully"):
    return action(action_id, "completed", True, message, FINISHED_AT)


def failed(action_id, message):
    return action(action_id, "failed", False, message, FINISHED_AT)


def add_action(api, record, status=200):
    api.add(
        responses.GET, "%s/%s" % (ACTIONS, record["id"]), json={"response": record}, status=status
    )


def add_list(api, records):
    pagination = {
        "previous": None,
        "next": None,
        "current": 1,
        "per_page": 30,
        "count": len(records),
        "pages": 1,
    }
    api.add(
        responses.GET,
        ACTIONS,
        json={"response": records, "count": len(records), "pagination": pagination},
        match=[matchers.query_param_matcher({"page": "1"})],
    )


def paths(api):
    return [call.request.path_url for call in api.calls]


# --- action_outcome -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record, outcome",
    [
        (action(1, "queued"), PENDING),
        (action(1, "running"), PENDING),
        (action(1, "Running "), PENDING),
        (action(1, "completed", True, "Completed successfully", FINISHED_AT), SUCCEEDED),
        (action(1, "completed"), SUCCEEDED),
        (action(1, "COMPLETED"), SUCCEEDED),
        (action(1, "failed", False, "Boom", FINISHED_AT), FAILED),
        (action(1, "failed"), FAILED),
        (action(1, " Failed"), FAILED),
        (action(1, "completed", False, "Boom", FINISHED_AT), FAILED),
        (action(1, "completed", "false", "Boom", FINISHED_AT), FAILED),
    ],
)
def test_outcome_of_the_status_shape(record, outcome):
    assert action_outcome(record) == outcome


@pytest.mark.parametrize(
    "finished_at, finished_success, outcome",
    [
        (None, None, PENDING),
        (None, False, PENDING),
        ("", None, PENDING),
        (FINISHED_AT, True, SUCCEEDED),
        (FINISHED_AT, "true", SUCCEEDED),
        (FINISHED_AT, "True", SUCCEEDED),
        (FINISHED_AT, False, FAILED),
        (FINISHED_AT, "false", FAILED),
        (FINISHED_AT, " FALSE ", FAILED),
    ],
)
def test_outcome_of_the_legacy_shape(finished_at, finished_success, outcome):
    record = action(7, status=None, finished_success=finished_success, finished_at=finished_at)
    assert "status" not in record
    assert action_outcome(record) == outcome


def test_outcome_of_a_bare_legacy_record():
    assert action_outcome({"id": 1}) == PENDING
    assert (
        action_outcome({"id": 1, "finished_at": FINISHED_AT, "finished_success": "false"}) == FAILED
    )


# --- Deadline and wait_until ----------------------------------------------------------------------------------


def test_deadline_counts_only_the_fake_clock(clock):
    deadline = Deadline(10, clock=clock, sleep=clock.sleep)
    assert deadline.elapsed() == 0
    assert deadline.remaining() == 10
    clock.now += 4
    assert deadline.elapsed() == 4
    assert deadline.remaining() == 6


def test_deadline_sleep_is_cut_to_the_budget_then_refused(clock):
    deadline = Deadline(10, clock=clock, sleep=clock.sleep)
    assert deadline.sleep(4) is True
    assert deadline.sleep(8) is True
    assert clock.sleeps == [4, 6]
    assert deadline.remaining() == 0
    assert deadline.sleep(1) is False
    assert clock.sleeps == [4, 6]


def test_zero_deadline_never_sleeps(clock):
    deadline = Deadline(0, clock=clock, sleep=clock.sleep)
    assert deadline.sleep(1) is False
    assert clock.sleeps == []


def test_wait_until_checks_first_then_sleeps_growing_intervals(clock):
    answers = [None, None, None, "ready"]
    calls = []

    def check():
        calls.append(clock.now)
        return answers[len(calls) - 1]

    result = wait_until(check, Deadline(100, clock=clock, sleep=clock.sleep), lambda: "late")
    assert result == "ready"
    assert len(calls) == 4
    assert calls[0] == 1000.0
    assert clock.sleeps == [1.5, 2.25, 3.375]


def test_wait_until_without_check_first_sleeps_first(clock):
    calls = []

    def check():
        calls.append(clock.now)
        return "ready"

    assert (
        wait_until(
            check, Deadline(100, clock=clock, sleep=clock.sleep), lambda: "late", check_first=False
        )
        == "ready"
    )
    assert clock.sleeps == [FIRST_POLL_INTERVAL]
    assert calls == [1000.0 + FIRST_POLL_INTERVAL]


def test_wait_until_raises_the_described_timeout(clock):
    calls = []
    with pytest.raises(WaitTimeout) as info:
        wait_until(
            lambda: calls.append(1),
            Deadline(5, clock=clock, sleep=clock.sleep),
            lambda: "gave up after %s" % len(calls),
        )
    assert str(info.value) == "gave up after 4"
    assert clock.sleeps == [1.5, 2.25, 1.25]
    assert clock.now == 1005.0


def test_wait_until_treats_transient_errors_as_not_yet_and_others_as_fatal(clock):
    errors = [Cloud66Error("busy", status=503, transient=True), Cloud66Error("no", status=401)]

    def check():
        raise errors.pop(0)

    with pytest.raises(Cloud66Error) as info:
        wait_until(check, Deadline(100, clock=clock, sleep=clock.sleep), lambda: "late")
    assert info.value.status == 401
    assert clock.sleeps == [1.5]


# --- ActionWaiter: one action ---------------------------------------------------------------------------------


def test_waits_for_one_action_by_polling_it(api, client, client_sleeps, clock):
    add_action(api, action(792, "running"))
    add_action(api, action(792, "running"))
    add_action(api, done(792))
    add_action(api, failed(792, "must never be read"))

    result = waiter(client, clock, 600).wait([action(792)])

    assert result == [done(792)]
    assert len(api.calls) == 3
    assert paths(api) == ["/api/3/stacks/%s/actions/792" % STACK] * 3
    assert clock.sleeps == [1.0, 1.5, 2.25]
    assert client_sleeps == []
    for call in api.calls:
        assert call.request.method == "GET"
        assert call.request.headers["Authorization"] == "Bearer %s" % TOKEN


def test_waits_for_a_legacy_action(api, client, clock):
    add_action(api, action(5, status=None))
    add_action(api, action(5, status=None, finished_success="true", finished_at=FINISHED_AT))
    result = waiter(client, clock, 600).wait([action(5, status=None)])
    assert result[0]["finished_success"] == "true"
    assert len(api.calls) == 2


def test_finished_actions_need_no_request(api, client, clock):
    result = waiter(client, clock, 600).wait([done(1), done(2)])
    assert [record["id"] for record in result] == [1, 2]
    assert len(api.calls) == 0
    assert clock.sleeps == []


def test_failed_action_raises_with_the_action_and_its_message(api, client, clock):
    add_action(api, action(792, "running"))
    add_action(api, failed(792, "Database app_db could not be created: disk full"))

    with pytest.raises(ActionFailed) as info:
        waiter(client, clock, 600).wait([action(792)])

    assert info.value.action["id"] == 792
    assert (
        info.value.action["finished_message"] == "Database app_db could not be created: disk full"
    )
    assert "792" in str(info.value)
    assert "database_create" in str(info.value)
    assert "disk full" in str(info.value)
    assert len(api.calls) == 2


def test_failed_legacy_action_raises(api, client, clock):
    add_action(
        api,
        action(
            9,
            status=None,
            finished_success="false",
            finished_message="Nope",
            finished_at=FINISHED_AT,
        ),
    )
    with pytest.raises(ActionFailed) as info:
        waiter(client, clock, 600).wait([action(9, status=None)])
    assert "Nope" in str(info.value)
    assert len(api.calls) == 1


def test_an_action_that_failed_already_raises_without_a_request(api, client, clock):
    with pytest.raises(ActionFailed) as info:
        waiter(client, clock, 600).wait([failed(3, "Already broken")])
    assert info.value.action["id"] == 3
    assert len(api.calls) == 0


def test_failure_message_defaults_when_cloud66_gives_none(api, client, clock):
    add_action(api, failed(4, None))
    with pytest.raises(ActionFailed) as info:
        waiter(client, clock, 600).wait([action(4)])
    assert "no message given" in str(info.value)


def test_timeout_names_the_action_and_the_seconds(api, client, clock):
    add_action(api, action(792, "running"))

    with pytest.raises(WaitTimeout) as info:
        waiter(client, clock, 10).wait([action(792)])

    message = str(info.value)
    assert "792" in message
    assert "10 s" in message
    assert "running" in message
    assert "wait_timeout" in message
    assert clock.sleeps == [1.0, 1.5, 2.25, 3.375, 1.875]
    assert clock.now == 1010.0
    assert len(api.calls) == 5
    assert [record["status"] for record in info.value.actions] == ["running"]


def test_zero_budget_times_out_without_polling(api, client, clock):
    add_action(api, done(1))
    with pytest.raises(WaitTimeout) as info:
        waiter(client, clock, 0).wait([action(1)])
    assert "0 s" in str(info.value)
    assert len(api.calls) == 0


def test_poll_interval_starts_at_one_second_grows_and_is_capped(api, client, clock):
    for _attempt in range(11):
        add_action(api, action(1, "running"))
    add_action(api, done(1))

    waiter(client, clock, 3600).wait([action(1)])

    sleeps = clock.sleeps
    assert len(sleeps) == 12
    assert len(api.calls) == 12
    assert sleeps[0] == pytest.approx(1.0)
    growing = [seconds for seconds in sleeps if seconds < POLL_INTERVAL_CAP]
    assert growing == sorted(growing) and len(set(growing)) == len(growing)
    assert len(growing) >= 4
    assert max(sleeps) == POLL_INTERVAL_CAP
    assert sleeps[-4:] == [POLL_INTERVAL_CAP] * 4


# --- ActionWaiter: transient and fatal errors while polling ----------------------------------------------------


def test_transient_errors_while_polling_only_spend_the_budget(api, client, client_sleeps, clock):
    url = "%s/%s" % (ACTIONS, 792)
    api.add(
        responses.GET,
        url,
        status=503,
        json={"error": "throttled", "error_description": "Rate limit exceeded"},
    )
    api.add(responses.GET, url, status=502, body="<html>Bad Gateway</html>")
    api.add(
        responses.GET, url, body=requests.exceptions.ConnectionError("Connection reset by peer")
    )
    api.add(responses.GET, url, body=requests.exceptions.ReadTimeout("read timed out"))
    add_action(api, done(792))

    result = waiter(client, clock, 600).wait([action(792)])

    assert result[0]["status"] == "completed"
    assert len(api.calls) == 5
    assert clock.sleeps == [1.0, 1.5, 2.25, 3.375, 5.0625]
    assert client_sleeps == []


def test_transient_errors_until_the_budget_is_spent_time_out(api, client, clock):
    api.add(responses.GET, "%s/%s" % (ACTIONS, 792), status=504, body="Gateway Timeout")
    with pytest.raises(WaitTimeout) as info:
        waiter(client, clock, 5).wait([action(792)])
    assert "792" in str(info.value)
    assert "5 s" in str(info.value)
    assert clock.sleeps == [1.0, 1.5, 2.25, 0.25]
    assert len(api.calls) == 4
    assert [record["id"] for record in info.value.actions] == [792]


def test_non_transient_error_while_polling_propagates(api, client, clock):
    api.add(
        responses.GET,
        "%s/%s" % (ACTIONS, 792),
        status=401,
        json={"error": "unauthenticated", "error_description": "Token revoked"},
    )
    add_action(api, done(792))

    with pytest.raises(Cloud66Error) as info:
        waiter(client, clock, 600).wait([action(792)])

    assert info.value.status == 401
    assert len(api.calls) == 1
    assert TOKEN not in info.value.message


# --- ActionWaiter: many actions -------------------------------------------------------------------------------


def test_many_pending_actions_are_read_from_the_list_page(api, client, clock):
    assert LIST_POLL_THRESHOLD < 3
    add_list(api, [done(13), action(12, "running"), done(11), done(99)])
    add_action(api, done(12))

    result = waiter(client, clock, 600).wait([action(11), action(12), action(13)])

    assert [record["id"] for record in result] == [11, 12, 13]
    assert all(record["status"] == "completed" for record in result)
    assert paths(api) == [
        "/api/3/stacks/%s/actions?page=1" % STACK,
        "/api/3/stacks/%s/actions/12" % STACK,
    ]
    assert clock.sleeps == [1.0, 1.5]


def test_actions_missing_from_the_list_page_are_read_one_by_one(api, client, clock):
    add_list(api, [action(1, "running"), action(2, "running"), done(50)])
    add_list(api, [done(1), action(2, "running"), done(50)])
    add_action(api, action(3, "running"))
    add_action(api, done(3))
    add_action(api, action(4, "running"))
    add_action(api, done(4))
    add_action(api, done(2))

    result = waiter(client, clock, 600).wait([action(1), action(2), action(3), action(4)])

    assert [record["status"] for record in result] == ["completed"] * 4
    stack = "/api/3/stacks/%s/actions" % STACK
    assert paths(api) == [
        stack + "?page=1",
        stack + "/3",
        stack + "/4",
        stack + "?page=1",
        stack + "/3",
        stack + "/4",
        stack + "/2",
    ]
    assert clock.sleeps == [1.0, 1.5, 2.25]


def test_one_failed_action_among_many_raises(api, client, clock):
    add_list(api, [done(1), failed(2, "Database b could not be created"), action(3, "running")])

    with pytest.raises(ActionFailed) as info:
        waiter(client, clock, 600).wait([action(1), action(2), action(3)])

    assert info.value.action["id"] == 2
    assert "could not be created" in str(info.value)
    assert len(api.calls) == 1


def test_without_stop_on_failure_every_outcome_is_returned(api, client, clock):
    add_action(api, failed(1, "Broken"))
    add_action(api, action(2, "running"))
    add_action(api, done(2))

    result = waiter(client, clock, 600).wait([action(1), action(2)], stop_on_failure=False)

    assert [action_outcome(record) for record in result] == [FAILED, SUCCEEDED]
    assert paths(api) == ["/api/3/stacks/%s/actions/%s" % (STACK, n) for n in (1, 2, 2)]


def test_timeout_with_many_actions_lists_those_still_pending(api, client, clock):
    add_list(api, [done(1), action(2, "running"), action(3, "queued")])
    add_action(api, action(2, "running"))
    add_action(api, action(3, "queued"))
    with pytest.raises(WaitTimeout) as info:
        waiter(client, clock, 3).wait([action(1), action(2), action(3)])
    message = str(info.value)
    assert "actions 2, 3" in message
    assert "queued, running" in message
    assert "3 s" in message
    assert "1," not in message
    stack = "/api/3/stacks/%s/actions" % STACK
    assert paths(api) == [stack + "?page=1", stack + "/2", stack + "/3", stack + "/2", stack + "/3"]
    assert clock.sleeps == [1.0, 1.5, 0.5]


def test_more_pending_actions_than_a_page_holds_are_read_from_as_many_pages(api, client, clock):
    newest_first = [
        done(number) for number in range(140, 60, -1)
    ]  # 5 newer actions of the stack, then ours, then older
    pages = [newest_first[index : index + 30] for index in range(0, len(newest_first), 30)]
    for number, items in enumerate(pages, start=1):
        pagination = {
            "previous": number - 1 or None,
            "next": number + 1 if number < len(pages) else None,
            "current": number,
            "per_page": 30,
            "count": len(newest_first),
            "pages": len(pages),
        }
        api.add(
            responses.GET,
            ACTIONS,
            json={"response": items, "count": len(items), "pagination": pagination},
            match=[matchers.query_param_matcher({"page": str(number)})],
        )

    result = waiter(client, clock, 600).wait([action(number) for number in range(101, 136)])

    assert [record["id"] for record in result] == list(range(101, 136))
    assert all(record["status"] == "completed" for record in result)
    # 35 actions fill two pages; the third page, older than every one of them, is never read
    assert paths(api) == ["/api/3/stacks/%s/actions?page=%d" % (STACK, number) for number in (1, 2)]


@pytest.mark.parametrize(
    "ids, pages, newest",
    [
        ([1, 2, 3], 4, 4),  # oldest first: the newest actions are on the last page
        (["7", "9"], "2", 2),  # ids and page count as strings
        ([3, 1, 2], 4, 1),  # the first id is the highest: newest first
        ([5, 9, 7], 4, 4),  # only the ends count
        ([1, 2, 3], 1, 1),  # one page
        ([1, 2, 3], None, 1),  # no page count
        ([8], 3, 1),  # one id tells no order
        ([None, "x", 4], 3, 1),  # ids that are not numbers do not count
    ],
)
def test_the_newest_page_of_the_action_list_is_judged_from_page_1(ids, pages, newest):
    assert newest_page([{"id": value} for value in ids], {"pages": pages}) == newest


# --- several stacks together, cloud66_action_info's reads --------------------------------------------------------

OTHER_STACK = "b1090000b1090000b1090000b1090000"
OTHER_ACTIONS = BASE + "/stacks/%s/actions" % OTHER_STACK


def test_actions_of_several_stacks_are_polled_in_the_same_turns(api, client, clock):
    add_action(api, action(1, "running"))
    add_action(api, done(1))
    api.add(responses.GET, OTHER_ACTIONS + "/2", json={"response": done(2)})
    deadline = Deadline(600, clock=clock, sleep=clock.sleep)
    batches = [
        (ActionWaiter(client, STACK, deadline), [action(1)]),
        (ActionWaiter(client, OTHER_STACK, deadline), [action(2)]),
    ]

    result = wait_for_all(batches, deadline)

    assert [[record["id"] for record in found] for found in result] == [[1], [2]]
    assert paths(api) == [
        "/api/3/stacks/%s/actions/1" % STACK,
        "/api/3/stacks/%s/actions/2" % OTHER_STACK,
        "/api/3/stacks/%s/actions/1" % STACK,
    ]
    # one sleep per turn for every stack, not one series of sleeps after another
    assert clock.sleeps == [1.0, 1.5]


def test_waiting_for_several_stacks_returns_failed_actions_and_times_out_naming_the_rest(
    api, client, clock
):
    add_action(api, failed(1, "Broken"))
    for _turn in range(20):
        api.add(responses.GET, OTHER_ACTIONS + "/2", json={"response": action(2, "running")})
    deadline = Deadline(5, clock=clock, sleep=clock.sleep)
    batches = [
        (ActionWaiter(client, STACK, deadline), [action(1)]),
        (ActionWaiter(client, OTHER_STACK, deadline), [action(2)]),
    ]

    with pytest.raises(WaitTimeout) as info:
        wait_for_all(batches, deadline)

    assert "action 2 to finish" in str(info.value)
    assert sorted(record["id"] for record in info.value.actions) == [1, 2]
    assert first_failed(info.value.actions)["finished_message"] == "Broken"
    # the failed action was read once; only the running one was polled again
    assert paths(api).count("/api/3/stacks/%s/actions/1" % STACK) == 1


def test_finished_actions_of_several_stacks_need_no_request(api, client, clock):
    deadline = Deadline(600, clock=clock, sleep=clock.sleep)
    batches = [(ActionWaiter(client, STACK, deadline), [done(1)])]
    assert wait_for_all(batches, deadline) == [[done(1)]]
    assert len(api.calls) == 0 and clock.sleeps == []


@pytest.mark.parametrize(
    "record, outcome",
    [(action(1), PENDING), (done(1), SUCCEEDED), (failed(1, "x"), FAILED)],
)
def test_outcome_is_added_in_one_word(record, outcome):
    assert with_outcome(record)["outcome"] == outcome
    assert "outcome" not in record


def test_an_unknown_action_id_fails_naming_it(api, client):
    api.add(
        responses.GET,
        ACTIONS + "/404404",
        json={"error": "not_found", "error_description": "Action not found"},
        status=404,
    )
    with pytest.raises(Cloud66Error) as info:
        read_action(client, STACK, 404404)
    assert "no action 404404 on stack %s" % STACK in info.value.message
    assert info.value.status == 404


def page_of_actions(ids, number, pages):
    return {
        "response": [done(action_id) for action_id in ids],
        "pagination": {
            "previous": number - 1 or None,
            "next": number + 1 if number < pages else None,
            "current": number,
            "per_page": 30,
            "count": 30 * pages,
            "pages": pages,
        },
    }


def add_action_page(api, ids, number, pages):
    api.add(
        responses.GET,
        ACTIONS,
        json=page_of_actions(ids, number, pages),
        match=[matchers.query_param_matcher({"page": str(number)})],
    )


@pytest.mark.parametrize(
    "pages_given, limit, expected, read",
    [
        # newest first: page 1 alone holds the newest
        ([[90, 89, 88], [87, 86]], 2, [90, 89], [1]),
        # newest first, more wanted than page 1 holds: the next page too
        ([[90, 89, 88], [87, 86]], 4, [90, 89, 88, 87], [1, 2]),
        # oldest first over two pages: the last page holds the newest
        ([[1, 2, 3], [4, 5]], 2, [5, 4], [1, 2]),
        # oldest first, more wanted than the last page holds: the page before it too (page 1, not read again)
        ([[1, 2, 3], [4, 5]], 4, [5, 4, 3, 2], [1, 2]),
        # a stack without actions
        ([[]], 5, [], [1]),
    ],
)
def test_recent_actions_are_the_newest_first_read_from_the_right_end(
    api, client, pages_given, limit, expected, read
):
    for number, ids in enumerate(pages_given, start=1):
        add_action_page(api, ids, number, len(pages_given))
    result = recent_actions(client, STACK, limit)
    assert [record["id"] for record in result] == expected
    assert [call.request.params.get("page") for call in api.calls] == [str(n) for n in read]

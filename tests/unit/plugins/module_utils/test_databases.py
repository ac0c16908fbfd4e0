# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests for plugins/module_utils/_databases.py.

HTTP is mocked with the responses library; time is a fake clock.
"""

from __future__ import annotations

import json

import pytest
import requests
import responses

from ansible_collections.cloud66.cloud.plugins.module_utils._actions import WaitTimeout
from ansible_collections.cloud66.cloud.plugins.module_utils._client import (
    Cloud66Client,
    Deadline,
)
from ansible_collections.cloud66.cloud.plugins.module_utils._databases import (
    NAME_MAX_LENGTH,
    DatabaseList,
    name_problem,
)
from ansible_collections.cloud66.cloud.plugins.module_utils._errors import Cloud66Error
from ansible_collections.cloud66.cloud.plugins.module_utils._server_group import ServerGroup
from ansible_collections.cloud66.cloud.tests.unit.plugins.fake_api import (
    ACTIONS,
    BASE,
    DATABASES,
    GROUP,
    STACK,
    STACK_URL,
    TOKEN,
    USERS,
    add_pages,
    database,
    error,
    listing,
)

QUEUED = {
    "id": 792,
    "status": "queued",
    "action_type": "database_create",
    "finished_at": None,
    "finished_success": None,
}


@pytest.fixture
def group(client):
    return DatabaseList(client, STACK, GROUP)


def databases(start, count):
    return [database(number) for number in range(start, start + count)]


def methods_and_paths(api):
    return [(call.request.method, call.request.path_url) for call in api.calls]


def deadline(clock, seconds):
    return Deadline(seconds, clock=clock, sleep=clock.sleep)


# --- name_problem ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["app_db", "a", "App-DB.2024", "x" * NAME_MAX_LENGTH, "x" * 63, "a.b"]
)
def test_acceptable_names(name):
    assert name_problem(name) is None


@pytest.mark.parametrize(
    "name, words",
    [
        (None, "empty"),
        ("", "empty"),
        ("   ", "empty"),
        ("\t\n", "empty"),
        ("app db", "spaces"),
        ("app\tdb", "spaces"),
        (" app", "spaces"),
        ("app/db", "slashes"),
        ("app\\db", "slashes"),
        ("..", "'..'"),
        ("app..db", "'..'"),
        ("app?", "'?'"),
        ("app#1", "'#'"),
        ("app;drop", "';'"),
        ("app%20", "'%'"),
        ("caf\u00e9", "ASCII"),
        ("\u0434\u0431", "ASCII"),
        ("x" * 64, "at most 63 characters long (it has 64)"),
        ("x" * 200, "(it has 200)"),
    ],
)
def test_refused_names(name, words):
    problem = name_problem(name)
    assert problem is not None
    assert words in problem


# --- find -----------------------------------------------------------------------------------------------------


def three_pages_with(record, page):
    pages = [databases(0, 30), databases(30, 30), databases(60, 10)]
    pages[page - 1][5] = record
    return pages


def test_find_by_name_reads_every_page(api, group):
    wanted = database(1000, "app_db")
    add_pages(api, DATABASES, three_pages_with(wanted, 2))

    assert group.find(name="app_db") == wanted
    assert [call.request.params for call in api.calls] == [
        {"page": "1"},
        {"page": "2"},
        {"page": "3"},
    ]


def test_a_name_listed_on_two_pages_is_refused_naming_both_uids(api, group):
    add_pages(api, DATABASES, [databases(0, 29) + [database(1, "app_db")], [database(2, "app_db")]])
    with pytest.raises(Cloud66Error) as info:
        group.find(name="app_db")
    assert "2 databases with name 'app_db' (uids db_0001, db_0002)" in info.value.message


def test_find_by_uid_stops_at_the_page_holding_it(api, group):
    add_pages(api, DATABASES, [databases(0, 30), databases(30, 30), databases(60, 10)])
    assert group.find(uid="db_0001")["name"] == "db0001"
    assert len(api.calls) == 1


def test_find_by_uid_wins_over_name(api, group):
    add_pages(api, DATABASES, [databases(0, 30), databases(30, 30), databases(60, 10)])
    assert group.find(name="db0000", uid="db_0065")["uid"] == "db_0065"
    assert len(api.calls) == 3


def test_find_reads_every_page_when_nothing_matches(api, group):
    add_pages(api, DATABASES, [databases(0, 30), databases(30, 30), databases(60, 10)])
    assert group.find(name="absent") is None
    assert len(api.calls) == 3


def test_find_in_an_empty_group(api, group):
    add_pages(api, DATABASES, [[]])
    assert group.find(name="app_db") is None
    assert len(api.calls) == 1


def test_duplicate_names_on_a_page_are_refused(api, group):
    add_pages(
        api,
        DATABASES,
        [databases(0, 10) + [database(1, "app_db"), database(2, "app_db")], databases(30, 5)],
    )
    with pytest.raises(Cloud66Error) as info:
        group.find(name="app_db")
    assert "db_0001" in info.value.message
    assert "db_0002" in info.value.message
    assert "'app_db'" in info.value.message


def test_missing_stack_is_named(api, group):
    api.add(responses.GET, DATABASES, status=404, json=error("not_found", "Not found"))
    api.add(responses.GET, STACK_URL, status=404, json=error("not_found", "Stack not found"))

    with pytest.raises(Cloud66Error) as info:
        group.find(name="app_db")

    assert info.value.message.startswith("Stack s1 was not found")
    assert "account_id" in info.value.message
    assert info.value.status == 404
    assert methods_and_paths(api) == [
        ("GET", "/api/3/stacks/s1/server_groups/42/databases?page=1"),
        ("GET", "/api/3/stacks/s1"),
    ]


def test_missing_server_group_is_named(api, group):
    api.add(responses.GET, DATABASES, status=404, json=error("not_found", "Not found"))
    api.add(responses.GET, STACK_URL, json={"response": {"uid": "s1", "name": "shop"}})

    with pytest.raises(Cloud66Error) as info:
        group.all()

    assert info.value.message == "Server group 42 was not found in stack s1."
    assert info.value.status == 404
    assert len(api.calls) == 2


def test_group_without_database_operations_keeps_the_servers_text(api, group):
    api.add(
        responses.GET,
        DATABASES,
        status=400,
        json=error("bad_request", "Server group does not support database operations"),
    )
    with pytest.raises(Cloud66Error) as info:
        group.find(name="app_db")
    assert "does not support database operations" in info.value.message
    assert len(api.calls) == 1


def test_all_lists_every_page(api, group):
    add_pages(api, DATABASES, [databases(0, 30), databases(30, 30), databases(60, 10)])
    assert [record["uid"] for record in group.all()] == ["db_%04d" % number for number in range(70)]
    assert len(api.calls) == 3


# --- users ----------------------------------------------------------------------------------------------------


def users(start, count):
    return [
        {
            "uid": "user_%03d" % number,
            "username": "u%03d" % number,
            "databases": [],
            "user_type": "application",
        }
        for number in range(start, start + count)
    ]


def test_usernames_maps_uids_across_pages_and_reads_once(api, client):
    add_pages(api, USERS, [users(0, 30), users(30, 2)])
    group = ServerGroup(client, STACK, GROUP)

    assert group.usernames(["user_031", "user_002", "user_unknown"]) == [
        "u031",
        "u002",
        "user_unknown",
    ]
    assert group.usernames(["user_000"]) == ["u000"]
    assert [call.request.params for call in api.calls] == [{"page": "1"}, {"page": "2"}]


def test_user_ids_maps_usernames_and_names_unknown_ones(api, client):
    add_pages(api, USERS, [users(0, 30), users(30, 2)])
    group = ServerGroup(client, STACK, GROUP)
    assert group.user_ids(["u031", "u000"]) == ["user_031", "user_000"]
    with pytest.raises(Cloud66Error) as info:
        group.user_ids(["u000", "nobody"])
    assert "nobody" in info.value.message
    assert "u031" in info.value.message
    assert len(api.calls) == 2


# --- create ---------------------------------------------------------------------------------------------------


def test_create_sends_one_post_with_the_right_body(api, group, client_sleeps):
    api.add(responses.POST, DATABASES, json={"response": QUEUED})

    assert group.create("app_db", ["user_abc123", "user_def456"]) == (QUEUED, True)

    assert len(api.calls) == 1
    request = api.calls[0].request
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {
        "database_name": "app_db",
        "database_user_ids": ["user_abc123", "user_def456"],
    }
    assert client_sleeps == []


def test_create_without_users_sends_an_empty_list(api, group):
    api.add(responses.POST, DATABASES, json={"response": QUEUED})
    group.create("app_db", None)
    assert json.loads(api.calls[0].request.body) == {
        "database_name": "app_db",
        "database_user_ids": [],
    }


@pytest.mark.parametrize(
    "description", ["Database app_db already exists", "Database name has already been taken"]
)
def test_create_of_an_existing_database_changes_nothing(api, group, description):
    api.add(responses.POST, DATABASES, status=400, json=error("bad_request", description))
    assert group.create("app_db", []) == (None, False)
    assert len(api.calls) == 1


@pytest.mark.parametrize(
    "lost",
    [
        {"status": 502, "body": "<html>Bad Gateway</html>"},
        {"status": 504, "body": "<html>Gateway Timeout</html>"},
        {"body": requests.exceptions.ReadTimeout("read timed out")},
    ],
)
def test_lost_create_that_went_through_is_not_sent_again(api, group, client_sleeps, lost):
    api.add(responses.POST, DATABASES, **lost)
    api.add(responses.POST, DATABASES, json={"response": QUEUED})
    add_pages(api, DATABASES, [databases(0, 3) + [database(9, "app_db")]])

    assert group.create("app_db", []) == (None, True)

    assert methods_and_paths(api) == [
        ("POST", "/api/3/stacks/s1/server_groups/42/databases"),
        ("GET", "/api/3/stacks/s1/server_groups/42/databases?page=1"),
    ]
    # Looked at once, without waiting first.
    assert client_sleeps == []


def test_lost_create_then_already_exists_means_it_went_through(api, group, client_sleeps):
    api.add(responses.POST, DATABASES, status=502, body="Bad Gateway")
    api.add(
        responses.POST,
        DATABASES,
        status=400,
        json=error("bad_request", "Database app_db already exists"),
    )
    add_pages(api, DATABASES, [databases(0, 3)])

    assert group.create("app_db", ["user_1"]) == (None, True)

    assert [method for method, path in methods_and_paths(api)] == ["POST", "GET", "POST"]
    assert all(
        json.loads(call.request.body)
        == {"database_name": "app_db", "database_user_ids": ["user_1"]}
        for call in api.calls
        if call.request.method == "POST"
    )


def test_lost_create_that_did_not_go_through_is_sent_again(api, group):
    api.add(responses.POST, DATABASES, body=requests.exceptions.ReadTimeout("read timed out"))
    api.add(responses.POST, DATABASES, json={"response": QUEUED})
    add_pages(api, DATABASES, [[]])

    assert group.create("app_db", []) == (QUEUED, True)
    assert [method for method, path in methods_and_paths(api)] == ["POST", "GET", "POST"]


def test_create_lost_every_time_gives_up_and_says_it_may_have_acted(api, client_sleeps):
    client = Cloud66Client(BASE, TOKEN, retries=2, sleep=client_sleeps.append)
    api.add(responses.POST, DATABASES, status=504, body="Gateway Timeout")
    add_pages(api, DATABASES, [[]])

    with pytest.raises(Cloud66Error) as info:
        DatabaseList(client, STACK, GROUP).create("app_db", [])

    assert info.value.ambiguous
    assert "Gave up after 3 attempts" in info.value.message
    assert "may have acted" in info.value.message
    # It looks after every attempt, the last one included, before reporting.
    assert [method for method, path in methods_and_paths(api)] == [
        "POST",
        "GET",
        "POST",
        "GET",
        "POST",
        "GET",
    ]
    assert len(client_sleeps) == 2


def test_create_refused_by_cloud66_keeps_the_servers_text(api, group):
    api.add(
        responses.POST,
        DATABASES,
        status=400,
        json=error("bad_request", "Invalid database name: reserved word"),
    )
    api.add(responses.POST, DATABASES, json={"response": QUEUED})

    with pytest.raises(Cloud66Error) as info:
        group.create("select", [])

    assert "Invalid database name: reserved word" in info.value.message
    assert info.value.status == 400
    assert not info.value.ambiguous
    assert len(api.calls) == 1


def test_create_throttled_then_accepted(api, group):
    api.add(responses.POST, DATABASES, status=503, json=error("throttled", "Rate limit exceeded"))
    api.add(responses.POST, DATABASES, json={"response": QUEUED})
    assert group.create("app_db", []) == (QUEUED, True)
    assert [method for method, path in methods_and_paths(api)] == ["POST", "POST"]


def test_create_in_a_missing_server_group(api, group):
    api.add(responses.POST, DATABASES, status=404, json=error("not_found", "Not found"))
    api.add(responses.GET, STACK_URL, json={"response": {"uid": "s1"}})
    with pytest.raises(Cloud66Error) as info:
        group.create("app_db", [])
    assert info.value.message == "Server group 42 was not found in stack s1."
    assert methods_and_paths(api) == [
        ("POST", "/api/3/stacks/s1/server_groups/42/databases"),
        ("GET", "/api/3/stacks/s1"),
    ]


# --- delete ---------------------------------------------------------------------------------------------------


def test_delete_returns_the_action(api, group):
    action = dict(QUEUED, action_type="database_delete")
    api.add(responses.DELETE, DATABASES + "/db_abc123", json={"response": action})
    assert group.delete("db_abc123") == (action, True)
    assert methods_and_paths(api) == [
        ("DELETE", "/api/3/stacks/s1/server_groups/42/databases/db_abc123")
    ]


def test_delete_of_a_database_that_is_gone(api, group):
    api.add(
        responses.DELETE,
        DATABASES + "/db_abc123",
        status=404,
        json=error("not_found", "Database not found"),
    )
    assert group.delete("db_abc123") == (None, False)
    assert len(api.calls) == 1


def test_lost_delete_then_404_means_it_went_through(api, group, client_sleeps):
    api.add(responses.DELETE, DATABASES + "/db_abc123", status=502, body="Bad Gateway")
    api.add(
        responses.DELETE,
        DATABASES + "/db_abc123",
        status=404,
        json=error("not_found", "Database not found"),
    )
    add_pages(api, ACTIONS, [[]])
    add_pages(api, DATABASES, [[dict(database(1, "app_db"), uid="db_abc123")]])
    action, deleted = group.delete("db_abc123")
    assert action is None
    assert deleted is True
    assert [method for method, path in methods_and_paths(api)] == ["DELETE", "GET", "GET", "DELETE"]
    assert len(client_sleeps) == 1


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 503, "body": "<html>Service Unavailable</html>"},
        {"status": 200, "body": "<html>OK</html>"},
        {"status": 200, "body": ""},
        {"body": requests.exceptions.ChunkedEncodingError("cut")},
    ],
)
def test_delete_carried_out_despite_an_odd_answer_is_not_sent_again(
    api, group, client_sleeps, answer
):
    started = dict(QUEUED, id=77, action_type="database_delete", resource_id="db_abc123")
    api.add(responses.DELETE, DATABASES + "/db_abc123", **answer)
    add_pages(
        api,
        ACTIONS,
        [[dict(QUEUED, id=76, action_type="database_create", resource_id="db_abc123"), started]],
    )

    assert group.delete("db_abc123") == (started, True)
    assert [method for method, path in methods_and_paths(api)] == ["DELETE", "GET"]
    assert client_sleeps == []


def test_create_answered_without_an_action_id_waits_on_the_list(api, group):
    api.add(responses.POST, DATABASES, json={"response": {"status": "queued"}})
    assert group.create("app_db", []) == (None, True)


def test_create_answered_503_after_it_went_through_is_reported_done(api, group, client_sleeps):
    api.add(responses.POST, DATABASES, status=503, body="<html>Service Unavailable</html>")
    add_pages(api, DATABASES, [databases(0, 3) + [database(9, "app_db")]])
    assert group.create("app_db", []) == (None, True)
    assert [method for method, path in methods_and_paths(api)] == ["POST", "GET"]


def test_delete_quotes_the_uid(api, group):
    api.add(responses.DELETE, DATABASES + "/db%2F..%2Fx", json={"response": QUEUED})
    group.delete("db/../x")
    assert (
        api.calls[0].request.path_url == "/api/3/stacks/s1/server_groups/42/databases/db%2F..%2Fx"
    )


# --- waiting for the list to catch up ------------------------------------------------------------------------


def test_wait_listed_waits_for_a_lagging_list(api, group, clock):
    empty = listing([], 1, 1)
    listed = listing([database(9, "app_db")], 1, 1)
    for body in (empty, empty, empty, listed):
        api.add(responses.GET, DATABASES, json=body)

    record = group.wait_listed("app_db", deadline(clock, 300))

    assert record["uid"] == "db_0009"
    assert len(api.calls) == 4
    assert clock.sleeps == [1.5, 2.25, 3.375]


def test_wait_listed_returns_at_once_when_listed(api, group, clock):
    add_pages(api, DATABASES, [[database(9, "app_db")]])
    assert group.wait_listed("app_db", deadline(clock, 300))["uid"] == "db_0009"
    assert len(api.calls) == 1
    assert clock.sleeps == []


def test_wait_listed_times_out_with_a_clear_message(api, group, clock):
    add_pages(api, DATABASES, [[]])
    started = clock.now
    with pytest.raises(WaitTimeout) as info:
        group.wait_listed("app_db", deadline(clock, 5))
    message = str(info.value)
    assert message.startswith(
        "Database 'app_db' was created but server group 42 still did not list it after 5 s."
    )
    assert "wait_timeout" in message
    assert len(api.calls) == 4
    assert clock.now == started + 5


def test_wait_listed_rides_out_a_throttled_list(api, clock):
    client = Cloud66Client(BASE, TOKEN, retries=0, sleep=clock.sleep)
    api.add(responses.GET, DATABASES, status=503, json=error("throttled", "Rate limit exceeded"))
    api.add(responses.GET, DATABASES, json=listing([database(9, "app_db")], 1, 1))
    assert (
        DatabaseList(client, STACK, GROUP).wait_listed("app_db", deadline(clock, 60))["name"]
        == "app_db"
    )
    assert len(api.calls) == 2


def test_wait_unlisted_waits_until_the_record_is_gone(api, group, clock):
    still = listing([database(9, "app_db"), database(10)], 1, 1)
    gone = listing([database(10)], 1, 1)
    for body in (still, still, gone):
        api.add(responses.GET, DATABASES, json=body)

    group.wait_unlisted("db_0009", deadline(clock, 300))
    assert len(api.calls) == 3
    assert clock.sleeps == [1.5, 2.25]


def test_wait_unlisted_times_out_with_a_clear_message(api, group, clock):
    add_pages(api, DATABASES, [[database(9, "app_db")]])
    with pytest.raises(WaitTimeout) as info:
        group.wait_unlisted("db_0009", deadline(clock, 3))
    assert str(info.value).startswith(
        "Database db_0009 was deleted but server group 42 still listed it after 3 s."
    )
    assert len(api.calls) == 3


def test_delete_look_reads_the_last_page_of_an_oldest_first_action_list(api, group, client_sleeps):
    started = dict(QUEUED, id=90, action_type="database_delete", resource_id="db_abc123")
    api.add(responses.DELETE, DATABASES + "/db_abc123", status=502, body="Bad Gateway")
    add_pages(api, ACTIONS, [[dict(QUEUED, id=number) for number in range(1, 31)], [started]])

    assert group.delete("db_abc123") == (started, True)
    assert [path for method, path in methods_and_paths(api)] == [
        "/api/3/stacks/s1/server_groups/42/databases/db_abc123",
        "/api/3/stacks/s1/actions?page=1",
        "/api/3/stacks/s1/actions?page=2",
    ]

# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""cloud66_databases run through its main(): how changed and failed are counted over
many items, check mode, diff, and the order of writes. HTTP mocked with the responses
library, time on the fake clock."""

from __future__ import annotations

import json

import responses
from responses import matchers

from ansible_collections.cloud66.cloud.plugins.modules import cloud66_databases
from ansible_collections.cloud66.cloud.tests.unit.plugins.fake_api import (
    ACTIONS,
    BASE,
    DATABASES,
    STACK_URL,
    USERS,
    action,
    add_pages,
    database,
    error,
    listing,
    sent,
    user,
)

KEEP = database(1, "keep")
OLD = database(2, "old")
OTHER = database(3, "other")
NEW = database(4, "new_ok")
# One database of each kind: kept, created, failing to be created, deleted, and absent.
MIXED = [
    {"name": "keep"},
    {"name": "new_ok"},
    {"name": "new_bad"},
    {"name": "old", "state": "absent"},
    {"name": "gone", "state": "absent"},
]


def answer_create(api, name, answer):
    """Answer the POST that creates ``name``, and only that one."""
    body = {"database_name": name, "database_user_ids": []}
    api.add(responses.POST, DATABASES, match=[matchers.json_params_matcher(body)], **answer)


def by_name(entries):
    return dict((entry.get("name") or entry.get("username"), entry) for entry in entries)


def test_changed_and_failed_are_counted_item_by_item(api, run_module, clock):
    add_pages(api, DATABASES, [[KEEP, OLD, OTHER]])
    add_pages(api, DATABASES, [[KEEP, OTHER, NEW]])
    answer_create(api, "new_ok", dict(json={"response": action(1001)}))
    answer_create(api, "new_bad", dict(json={"response": action(1002)}))
    api.add(
        responses.DELETE,
        DATABASES + "/db_0002",
        json={"response": action(1003, "database_delete")},
    )
    api.add(
        responses.GET,
        ACTIONS,
        match=[matchers.query_param_matcher({"page": "1"})],
        json=listing(
            [
                action(1003, "database_delete", status="completed"),
                action(1002, status="failed", message="Out of disk space"),
                action(1001, status="completed"),
            ]
        ),
    )

    result = run_module(cloud66_databases, databases=MIXED)

    assert result["failed"] is True
    assert result["msg"] == (
        "1 of 3 Cloud66 actions failed: database_create new_bad (action 1002): Out of disk space"
    )
    # What did happen is still reported as changed.
    assert result["changed"] is True
    entries = by_name(result["databases"])
    assert [entry["name"] for entry in result["databases"]] == [
        "keep",
        "new_ok",
        "new_bad",
        "old",
        "gone",
    ]
    assert dict((name, entry["changed"]) for name, entry in entries.items()) == {
        "keep": False,
        "new_ok": True,
        "new_bad": False,
        "old": True,
        "gone": False,
    }
    assert entries["keep"]["database"] == KEEP and entries["keep"]["action"] == {}
    assert (
        entries["new_ok"]["database"] == NEW
        and entries["new_ok"]["action"]["status"] == "completed"
    )
    assert (
        entries["new_bad"]["database"] == {} and entries["new_bad"]["action"]["status"] == "failed"
    )
    assert entries["old"]["database"] == {} and entries["old"]["action"]["id"] == 1003
    assert entries["gone"] == {
        "name": "gone",
        "state": "absent",
        "changed": False,
        "database": {},
        "action": {},
    }
    assert [item["id"] for item in result["actions"]] == [1001, 1002, 1003]
    # One scan of the list, three writes, one poll of the action list for all three,
    # one look at the list.
    assert sent(api) == [
        "GET /databases?page=1",
        "POST /databases",
        "POST /databases",
        "DELETE /databases/db_0002",
        "GET /stacks/s1/actions?page=1",
        "GET /databases?page=1",
    ]
    assert clock.sleeps == [1.0]


def test_a_write_refused_part_way_waits_for_what_was_started(api, run_module):
    add_pages(api, DATABASES, [[OTHER]])
    answer_create(api, "first", dict(json={"response": action(1001)}))
    refusal = error("invalid", "Name is reserved")
    answer_create(api, "second", dict(status=422, json=refusal))
    api.add(responses.GET, ACTIONS + "/1001", json={"response": action(1001, status="completed")})

    result = run_module(
        cloud66_databases,
        databases=[{"name": "first"}, {"name": "second"}, {"name": "third"}],
    )

    assert result["failed"] is True
    assert result["msg"] == (
        "Server group 42 of stack s1: Database 'second' could not be created: "
        "POST /stacks/s1/server_groups/42/databases failed with HTTP 422 invalid. "
        "Cloud66 said: Name is reserved"
    )
    assert result["changed"] is True
    entries = by_name(result["databases"])
    assert [entries[name]["changed"] for name in ("first", "second", "third")] == [
        True,
        False,
        False,
    ]
    assert entries["first"]["action"] == action(1001, status="completed")
    assert result["actions"] == [action(1001, status="completed")]
    assert sent(api) == [
        "GET /databases?page=1",
        "POST /databases",
        "POST /databases",
        "GET /stacks/s1/actions/1001",
    ]


def test_check_mode_predicts_every_item_and_sends_no_write(api, run_module, clock):
    add_pages(api, DATABASES, [[KEEP, OLD, OTHER]])

    result = run_module(cloud66_databases, databases=MIXED, check_mode=True, diff=True)

    assert "failed" not in result and result["changed"] is True
    assert [entry["changed"] for entry in result["databases"]] == [
        False,
        True,
        True,
        True,
        False,
    ]
    assert result["actions"] == []
    assert result["diff"] == {
        "before": {"databases": ["keep", "old"]},
        "after": {"databases": ["keep", "new_bad", "new_ok"]},
    }
    assert sent(api) == ["GET /databases?page=1"]
    assert clock.sleeps == []


def test_check_mode_predicts_users_too(api, run_module):
    retired = user(2, "retired")
    add_pages(api, DATABASES, [[OTHER]])
    add_pages(api, USERS, [[retired]])

    result = run_module(
        cloud66_databases,
        databases=[{"name": "shop", "database_users": ["app"]}],
        database_users=[
            {"username": "app"},
            {"username": "retired", "state": "absent"},
        ],
        check_mode=True,
        diff=True,
    )

    assert "failed" not in result and result["changed"] is True
    assert [entry["changed"] for entry in result["database_users"]] == [True, True]
    assert result["database_users"][1]["user"] == retired
    assert result["diff"] == {
        "before": {"databases": [], "database_users": ["retired"]},
        "after": {"databases": ["shop"], "database_users": ["app"]},
    }
    assert sent(api) == ["GET /databases?page=1", "GET /database_users?page=1"]


def test_nothing_to_do_costs_one_scan(api, run_module):
    add_pages(api, DATABASES, [[KEEP, OLD, OTHER]])

    result = run_module(
        cloud66_databases,
        databases=[{"name": "keep"}, {"name": "gone", "state": "absent"}],
        diff=True,
    )

    assert result["changed"] is False and result["actions"] == []
    assert result["diff"]["before"] == result["diff"]["after"] == {"databases": ["keep"]}
    assert sent(api) == ["GET /databases?page=1"]


def test_without_wait_the_started_actions_are_returned_pending(api, run_module, clock):
    add_pages(api, DATABASES, [[OTHER]])
    answer_create(api, "first", dict(json={"response": action(1001)}))
    answer_create(api, "second", dict(json={"response": action(1002)}))

    result = run_module(
        cloud66_databases, databases=[{"name": "first"}, {"name": "second"}], wait=False
    )

    assert "failed" not in result and result["changed"] is True
    assert result["actions"] == [action(1001), action(1002)]
    assert [entry["database"] for entry in result["databases"]] == [
        {"name": "first"},
        {"name": "second"},
    ]
    assert sent(api) == ["GET /databases?page=1", "POST /databases", "POST /databases"]
    assert clock.sleeps == []


def test_actions_pending_past_wait_timeout_fail_the_task_with_the_actions_as_last_seen(
    api, run_module, clock
):
    add_pages(api, DATABASES, [[OTHER]])
    answer_create(api, "first", dict(json={"response": action(1001)}))
    answer_create(api, "second", dict(json={"response": action(1002)}))
    api.add(
        responses.GET,
        ACTIONS + "/1001",
        json={"response": dict(action(1001), status="running")},
    )
    api.add(responses.GET, ACTIONS + "/1002", json={"response": action(1002)})

    result = run_module(
        cloud66_databases,
        databases=[{"name": "first"}, {"name": "second"}],
        wait_timeout=3,
    )

    assert result["failed"] is True
    assert result["msg"].startswith(
        "Timed out after 3 s waiting for Cloud66 actions 1001, 1002 to finish "
        "(still queued, running)."
    )
    # Both creates were started, so both count as changed.
    assert result["changed"] is True
    assert [entry["changed"] for entry in result["databases"]] == [True, True]
    assert [item["status"] for item in result["actions"]] == ["running", "queued"]
    assert [entry["action"]["status"] for entry in result["databases"]] == [
        "running",
        "queued",
    ]
    # Two rounds of polls; the third round falls after the deadline and is not sent.
    assert (
        sent(api)
        == ["GET /databases?page=1", "POST /databases", "POST /databases"]
        + ["GET /stacks/s1/actions/1001", "GET /stacks/s1/actions/1002"] * 2
    )
    assert clock.sleeps == [1.0, 1.5, 0.5]


def test_a_new_user_of_a_new_database_is_created_once_the_database_is_listed(
    api, run_module, clock
):
    shop = database(1, "shop")
    app = user(1, "app", databases=["shop"])
    add_pages(api, DATABASES, [[]])
    add_pages(api, DATABASES, [[shop]])
    add_pages(api, USERS, [[]])
    add_pages(api, USERS, [[app]])
    api.add(responses.POST, DATABASES, json={"response": action(1001)})
    api.add(
        responses.GET,
        ACTIONS + "/1001",
        json={"response": action(1001, status="completed")},
    )
    api.add(responses.POST, USERS, json={"response": action(1002, "database_user_create")})
    api.add(
        responses.GET,
        ACTIONS + "/1002",
        json={"response": action(1002, "database_user_create", "completed")},
    )

    result = run_module(
        cloud66_databases,
        databases=[{"name": "shop"}],
        database_users=[{"username": "app", "databases": ["shop"]}],
    )

    assert "failed" not in result and result["changed"] is True
    assert result["databases"][0]["changed"] is True and result["databases"][0]["database"] == shop
    assert result["database_users"] == [
        {
            "username": "app",
            "state": "present",
            "changed": True,
            "user": app,
            "action": action(1002, "database_user_create", "completed"),
        }
    ]
    assert sent(api) == [
        "GET /databases?page=1",
        "GET /database_users?page=1",
        "POST /databases",
        "GET /stacks/s1/actions/1001",
        "GET /databases?page=1",
        "POST /database_users",
        "GET /stacks/s1/actions/1002",
        "GET /database_users?page=1",
    ]
    # The user is created with the uid the listed database got.
    assert json.loads(api.calls[5].request.body) == {
        "username": "app",
        "user_type": "application",
        "database_ids": ["db_0001"],
    }
    assert clock.sleeps == [1.0, 1.0]


def test_part_way_waits_of_many_groups_are_one_wait(api, run_module, clock):
    """Two groups of two stacks, each a new database and a new user it grants: both databases are sent before any
    action is polled, both actions are polled in the same turn, and each wait costs one sleep, not one per group."""
    other = BASE + "/stacks/s2/server_groups/52"
    for base, number, first_action in (
        (STACK_URL + "/server_groups/42", 1, 1001),
        (other, 2, 2001),
    ):
        shop = database(number, "shop")
        app = user(number, "app", databases=["shop"])
        add_pages(api, base + "/databases", [[]])
        add_pages(api, base + "/databases", [[shop]])
        add_pages(api, base + "/database_users", [[]])
        add_pages(api, base + "/database_users", [[app]])
        stack_actions = base.rsplit("/server_groups", 1)[0] + "/actions"
        api.add(responses.POST, base + "/databases", json={"response": action(first_action)})
        api.add(
            responses.POST,
            base + "/database_users",
            json={"response": action(first_action + 1, "database_user_create")},
        )
        for action_id, kind in (
            (first_action, "database_create"),
            (first_action + 1, "database_user_create"),
        ):
            api.add(
                responses.GET,
                "%s/%d" % (stack_actions, action_id),
                json={"response": action(action_id, kind, "completed")},
            )
    asks = dict(
        databases=[{"name": "shop"}], database_users=[{"username": "app", "databases": ["shop"]}]
    )

    result = run_module(
        cloud66_databases,
        stack_id=None,
        server_group_id=None,
        server_groups=[
            dict(asks, requested_by="web1", stack_id="s1", server_group_id="42"),
            dict(asks, requested_by="web2", stack_id="s2", server_group_id="52"),
        ],
    )

    assert "failed" not in result and result["changed"] is True
    requests = [call.request.method + " " + call.request.path_url for call in api.calls]
    posts = [
        index
        for index, line in enumerate(requests)
        if line.startswith("POST") and "/databases" in line
    ]
    polls = [index for index, line in enumerate(requests) if "/actions/" in line]
    assert len(posts) == 2 and max(posts) < min(polls)
    # the two databases' actions in one turn, then (after the users are sent) the two users' in one turn
    assert [requests[index].rsplit("/", 1)[1] for index in polls] == [
        "1001",
        "2001",
        "1002",
        "2002",
    ]
    assert clock.sleeps == [1.0, 1.0]

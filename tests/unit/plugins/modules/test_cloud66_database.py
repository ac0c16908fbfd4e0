# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""cloud66_database run through its main(), HTTP mocked with the responses library,
time on the fake clock."""

from __future__ import annotations

import json

import responses

from ansible_collections.cloud66.cloud.plugins.modules import cloud66_database
from ansible_collections.cloud66.cloud.tests.unit.plugins.fake_api import (
    ACTIONS,
    DATABASES,
    USERS,
    action,
    add_pages,
    database,
    sent,
    user,
)

SHOP = database(9, "shop", users=["app"])


def test_create_waits_for_the_action_and_the_list(api, run_module, clock):
    add_pages(api, DATABASES, [[database(1)]])
    # The list lags once behind the finished action.
    add_pages(api, DATABASES, [[database(1)]])
    add_pages(api, DATABASES, [[database(1), SHOP]])
    add_pages(api, USERS, [[user(1, "app")]])
    api.add(responses.POST, DATABASES, json={"response": action(1001)})
    api.add(responses.GET, ACTIONS + "/1001", json={"response": action(1001)})
    api.add(
        responses.GET,
        ACTIONS + "/1001",
        json={"response": action(1001, status="completed")},
    )

    result = run_module(cloud66_database, name="shop", database_user_ids=["user_001"], diff=True)

    assert result["changed"] is True and "failed" not in result
    assert result["database"] == SHOP
    assert result["action"]["id"] == 1001 and result["action"]["status"] == "completed"
    assert result["diff"] == {"before": {}, "after": SHOP}
    # The diff names the users: their uids are looked up once, before the create.
    assert sent(api) == [
        "GET /databases?page=1",
        "GET /database_users?page=1",
        "POST /databases",
        "GET /stacks/s1/actions/1001",
        "GET /stacks/s1/actions/1001",
        "GET /databases?page=1",
        "GET /databases?page=1",
    ]
    assert json.loads(api.calls[2].request.body) == {
        "database_name": "shop",
        "database_user_ids": ["user_001"],
    }
    assert clock.sleeps == [1.0, 1.5, 1.5]


def test_an_existing_database_is_left_alone_and_differing_users_are_warned_of(api, run_module):
    add_pages(api, DATABASES, [[database(1), SHOP]])

    result = run_module(
        cloud66_database, name="shop", database_users=["app", "reporting"], diff=True
    )

    assert result["changed"] is False
    assert result["database"] == SHOP and result["action"] == {}
    assert result["diff"] == {"before": SHOP, "after": SHOP}
    assert len(result["warnings"]) == 1
    assert "already exists with users ['app'], not ['app', 'reporting']" in result["warnings"][0]
    assert sent(api) == ["GET /databases?page=1"]


def test_check_mode_predicts_a_create_and_sends_no_write(api, run_module, clock):
    add_pages(api, DATABASES, [[database(1)]])
    add_pages(api, USERS, [[user(1, "app"), user(2, "reporting")]])

    result = run_module(
        cloud66_database,
        name="shop",
        database_users=["reporting"],
        check_mode=True,
        diff=True,
    )

    assert result["changed"] is True
    assert result["database"] == {} and result["action"] == {}
    assert result["diff"] == {
        "before": {},
        "after": {"name": "shop", "users": ["reporting"]},
    }
    assert sent(api) == ["GET /databases?page=1", "GET /database_users?page=1"]
    assert clock.sleeps == []


def test_check_mode_predicts_a_delete_and_sends_no_write(api, run_module):
    add_pages(api, DATABASES, [[database(1), SHOP]])

    result = run_module(cloud66_database, name="shop", state="absent", check_mode=True, diff=True)

    assert result["changed"] is True
    assert result["diff"] == {"before": SHOP, "after": {}}
    assert sent(api) == ["GET /databases?page=1"]


def test_delete_waits_until_the_list_no_longer_shows_it(api, run_module, clock):
    add_pages(api, DATABASES, [[database(1), SHOP]])
    add_pages(api, DATABASES, [[database(1), SHOP]])
    add_pages(api, DATABASES, [[database(1)]])
    api.add(
        responses.DELETE,
        DATABASES + "/db_0009",
        json={"response": action(1002, "database_delete", status="completed")},
    )

    result = run_module(cloud66_database, uid="db_0009", state="absent", diff=True)

    assert result["changed"] is True
    assert result["action"]["id"] == 1002 and result["database"] == {}
    assert result["diff"] == {"before": SHOP, "after": {}}
    # The action had finished when the DELETE was answered: only the list is waited for.
    assert sent(api) == [
        "GET /databases?page=1",
        "DELETE /databases/db_0009",
        "GET /databases?page=1",
        "GET /databases?page=1",
    ]
    assert clock.sleeps == [1.5]


def test_an_absent_database_needs_nothing(api, run_module):
    add_pages(api, DATABASES, [[database(1)]])

    result = run_module(cloud66_database, name="shop", state="absent", diff=True)

    assert result["changed"] is False and result["diff"] == {"before": {}, "after": {}}
    assert sent(api) == ["GET /databases?page=1"]


def test_a_failed_action_fails_the_task_as_unchanged(api, run_module):
    add_pages(api, DATABASES, [[database(1)]])
    api.add(responses.POST, DATABASES, json={"response": action(1001)})
    api.add(
        responses.GET,
        ACTIONS + "/1001",
        json={"response": action(1001, status="failed", message="Disk full")},
    )

    result = run_module(cloud66_database, name="shop")

    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == "Cloud66 action 1001 (database_create) failed: Disk full"
    assert result["action"]["status"] == "failed"
    assert sent(api) == [
        "GET /databases?page=1",
        "POST /databases",
        "GET /stacks/s1/actions/1001",
    ]


def test_without_wait_the_started_action_is_returned_pending(api, run_module, clock):
    add_pages(api, DATABASES, [[database(1)]])
    api.add(responses.POST, DATABASES, json={"response": action(1001)})

    result = run_module(cloud66_database, name="shop", wait=False)

    assert result["changed"] is True and "failed" not in result
    assert result["action"] == action(1001) and result["database"] == {}
    assert sent(api) == ["GET /databases?page=1", "POST /databases"]
    assert clock.sleeps == []


def test_an_action_pending_past_wait_timeout_fails_with_the_action(api, run_module, clock):
    add_pages(api, DATABASES, [[database(1)]])
    api.add(responses.POST, DATABASES, json={"response": action(1001)})
    api.add(responses.GET, ACTIONS + "/1001", json={"response": action(1001)})

    result = run_module(cloud66_database, name="shop", wait_timeout=10)

    assert result["failed"] is True
    # The create was started: that is a change, though the task did not see it finish.
    assert result["changed"] is True
    assert result["msg"].startswith(
        "Timed out after 10 s waiting for Cloud66 action 1001 to finish (still queued)."
    )
    assert result["action"] == action(1001)
    assert clock.now == 1010.0
    # Four polls; the fifth falls after the deadline and is not sent.
    assert (
        sent(api)
        == ["GET /databases?page=1", "POST /databases"] + ["GET /stacks/s1/actions/1001"] * 4
    )
    assert clock.sleeps == [1.0, 1.5, 2.25, 3.375, 1.875]


def test_name_and_uid_of_different_databases_fail_before_the_delete(api, run_module):
    add_pages(api, DATABASES, [[database(1), SHOP]])

    result = run_module(cloud66_database, name="shop", uid="db_0001", state="absent")

    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == (
        "uid db_0001 and name 'shop' do not name the same database: "
        "Cloud66 lists db_0001 as 'db0001'."
    )
    assert sent(api) == ["GET /databases?page=1"]

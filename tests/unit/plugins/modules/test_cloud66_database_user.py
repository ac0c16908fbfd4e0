# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""cloud66_database_user run through its main(), HTTP mocked with the responses
library, time on the fake clock."""

from __future__ import annotations

import json

import pytest
import responses

from ansible_collections.cloud66.cloud.plugins.modules import cloud66_database_user
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

PASSWORD = "pw-Yh3xzW8q-visible"
APP = user(7, "app", databases=["shop"])


@pytest.mark.parametrize("return_password", [True, False])
def test_create_waits_and_reads_the_password_only_when_asked(
    api, run_module, clock, return_password
):
    add_pages(api, USERS, [[user(1)]])
    add_pages(api, USERS, [[user(1), APP]])
    add_pages(
        api,
        USERS,
        [[user(1), dict(APP, password=PASSWORD)]],
        query={"show_password": "true"},
    )
    add_pages(api, DATABASES, [[database(1, "shop")]])
    api.add(responses.POST, USERS, json={"response": action(1001, "database_user_create")})
    api.add(
        responses.GET,
        ACTIONS + "/1001",
        json={"response": action(1001, "database_user_create", "completed")},
    )

    result = run_module(
        cloud66_database_user,
        username="app",
        databases=["shop"],
        return_password=return_password,
        diff=True,
    )

    assert "failed" not in result and result["changed"] is True
    assert result["user"] == APP
    assert result["diff"] == {"before": {}, "after": APP}
    assert result["action"]["status"] == "completed"
    expected = [
        "GET /database_users?page=1",
        "GET /databases?page=1",
        "POST /database_users",
        "GET /stacks/s1/actions/1001",
        "GET /database_users?page=1",
    ]
    if return_password:
        assert result["password"] == PASSWORD
        expected.append("GET /database_users?show_password=true&page=1")
    else:
        assert "password" not in result and PASSWORD not in json.dumps(result)
    assert sent(api) == expected
    assert json.loads(api.calls[2].request.body) == {
        "username": "app",
        "user_type": "application",
        "database_ids": ["db_0001"],
    }
    assert clock.sleeps == [1.0]


def test_a_database_the_group_does_not_list_fails_before_the_create(api, run_module):
    add_pages(api, USERS, [[user(1)]])
    add_pages(api, DATABASES, [[database(1, "shop")]])

    result = run_module(cloud66_database_user, username="app", databases=["shop", "reports"])

    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == "Server group 42 of stack s1 lists no database named reports."
    assert sent(api) == ["GET /database_users?page=1", "GET /databases?page=1"]


def test_an_existing_user_with_other_databases_is_warned_of_and_left_alone(api, run_module):
    add_pages(api, USERS, [[APP]])

    result = run_module(
        cloud66_database_user, username="app", databases=["shop", "reports"], diff=True
    )

    assert result["changed"] is False and result["user"] == APP
    assert result["diff"] == {"before": APP, "after": APP}
    assert result["warnings"] == [
        "Database user 'app' already exists with databases ['shop'], not ['reports', 'shop']. "
        "Cloud66 cannot change the databases or type of an existing user, so nothing was "
        "changed."
    ]
    assert sent(api) == ["GET /database_users?page=1"]


def test_check_mode_predicts_a_password_change_and_sends_no_write(api, run_module):
    add_pages(api, USERS, [[APP]])

    result = run_module(
        cloud66_database_user,
        username="app",
        regenerate_password=True,
        return_password=True,
        check_mode=True,
        diff=True,
    )

    assert result["changed"] is True
    assert result["diff"] == {
        "before": APP,
        "after": dict(APP, password_regenerated=True),
    }
    assert "password" not in result
    assert sent(api) == ["GET /database_users?page=1"]


def test_password_change_waits_for_its_action_then_reads_the_new_password(api, run_module, clock):
    add_pages(api, USERS, [[APP]])
    add_pages(api, USERS, [[dict(APP, password=PASSWORD)]], query={"show_password": "true"})
    change = action(1003, "database_user_password_change")
    api.add(
        responses.POST,
        USERS + "/user_007/regenerate_password",
        json={"response": change},
    )
    api.add(
        responses.GET,
        ACTIONS + "/1003",
        json={"response": dict(change, status="failed", finished_message="x")},
    )

    result = run_module(
        cloud66_database_user,
        username="app",
        regenerate_password=True,
        return_password=True,
    )

    # The change failed: the task fails, reports no change, and reads no password.
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == "Cloud66 action 1003 (database_user_password_change) failed: x"
    assert "password" not in result
    assert sent(api) == [
        "GET /database_users?page=1",
        "POST /database_users/user_007/regenerate_password",
        "GET /stacks/s1/actions/1003",
    ]
    assert clock.sleeps == [1.0]


def test_without_wait_the_password_is_not_returned_and_a_warning_says_why(api, run_module, clock):
    add_pages(api, USERS, [[APP]])
    api.add(
        responses.POST,
        USERS + "/user_007/regenerate_password",
        json={"response": action(1003, "database_user_password_change")},
    )

    result = run_module(
        cloud66_database_user,
        username="app",
        regenerate_password=True,
        return_password=True,
        wait=False,
    )

    assert "failed" not in result and result["changed"] is True
    assert result["action"] == action(1003, "database_user_password_change")
    assert "password" not in result
    assert result["warnings"] == [
        "The password of 'app' is not returned: with wait=false it may still be in the "
        "making. Read it later with return_password."
    ]
    assert sent(api) == [
        "GET /database_users?page=1",
        "POST /database_users/user_007/regenerate_password",
    ]
    assert clock.sleeps == []


def test_delete_waits_until_the_list_no_longer_shows_the_user(api, run_module, clock):
    add_pages(api, USERS, [[user(1), APP]])
    add_pages(api, USERS, [[user(1), APP]])
    add_pages(api, USERS, [[user(1)]])
    api.add(
        responses.DELETE,
        USERS + "/user_007",
        json={"response": action(1004, "database_user_delete")},
    )
    api.add(
        responses.GET,
        ACTIONS + "/1004",
        json={"response": action(1004, "database_user_delete", "completed")},
    )

    result = run_module(cloud66_database_user, username="app", state="absent", diff=True)

    assert "failed" not in result and result["changed"] is True
    assert result["user"] == {} and result["diff"] == {"before": APP, "after": {}}
    assert sent(api) == [
        "GET /database_users?page=1",
        "DELETE /database_users/user_007",
        "GET /stacks/s1/actions/1004",
        "GET /database_users?page=1",
        "GET /database_users?page=1",
    ]
    assert clock.sleeps == [1.0, 1.5]

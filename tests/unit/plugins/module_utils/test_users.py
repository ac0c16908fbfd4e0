# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests for plugins/module_utils/_users.py, for the paths the simulator cannot reach cheaply (lost answers,
the model pages' record shape). HTTP is mocked with the responses library."""

from __future__ import annotations

import json

import pytest
import responses

from ansible_collections.cloud66.cloud.plugins.module_utils._errors import Cloud66Error
from ansible_collections.cloud66.cloud.plugins.module_utils._users import (
    UserList,
    user_warning,
    without_password,
)
from ansible_collections.cloud66.cloud.tests.unit.plugins.fake_api import (
    STACK_URL,
    TOKEN,
    USERS,
    add_pages,
    user,
)

QUEUED = {"id": 801, "status": "queued", "action_type": "database_user_create", "finished_at": None}
SHOW_PASSWORD = {"show_password": "true"}


@pytest.fixture
def users(client):
    return UserList(client, "s1", "42")


def calls(api):
    return [(call.request.method, call.request.path_url) for call in api.calls]


def test_find_reads_every_page_for_a_username(api, users):
    add_pages(
        api, USERS, [[user(n) for n in range(30)], [user(30, "wanted")], [user(31, "wanted")]]
    )
    with pytest.raises(Cloud66Error) as info:
        users.find(username="wanted")
    assert "(uids user_030, user_031)" in info.value.message
    assert len(calls(api)) == 3


def test_find_refuses_two_users_of_one_name(api, users):
    add_pages(api, USERS, [[user(1, "twin"), user(2, "twin")]])
    with pytest.raises(Cloud66Error) as info:
        users.find(username="twin")
    assert (
        "2 database users with username 'twin'" in info.value.message
        and "user_001, user_002" in info.value.message
    )


def test_model_shape_is_read_and_its_password_fields_can_be_stripped(api, users):
    model = {
        "uid": "user_009",
        "stack_uid": "s1",
        "server_group_id": 42,
        "username": "model_user",
        "host": "%",
        "password": "hunter2",
        "password_hash": "*ABC",
        "created_at_iso": "2023-01-15T10:30:00Z",
    }
    add_pages(api, USERS, [[model]])
    record = users.find(username="model_user")
    assert record["created_at"] == "2023-01-15T10:30:00Z"
    assert without_password(record) == dict(
        (key, value) for key, value in record.items() if key not in ("password", "password_hash")
    )
    # The model shape has no databases and no type: nothing to compare, so no warning.
    assert user_warning(record, ["orders"], "readonly") is None


def test_password_asks_for_show_password_only_there(api, users):
    add_pages(api, USERS, [[user(1, "app", password="s3cret")]], query=SHOW_PASSWORD)
    assert users.password("app") == "s3cret"
    assert calls(api) == [
        ("GET", "/api/3/stacks/s1/server_groups/42/database_users?show_password=true&page=1")
    ]


def test_show_password_refused_names_the_scope(api, users):
    api.add(
        responses.GET,
        USERS,
        status=403,
        json={"error": "forbidden", "error_description": "needs edit rights"},
    )
    with pytest.raises(Cloud66Error) as info:
        users.password("app")
    assert info.value.status == 403
    assert (
        "edit permission on stack" in info.value.message
        and "needs edit rights" in info.value.message
    )
    assert TOKEN not in info.value.message


@pytest.mark.parametrize(
    "answer",
    [
        dict(status=409, json={"error": "conflict", "error_description": "conflict"}),
        dict(
            status=400,
            json={"error": "bad_request", "error_description": "Username has already been taken"},
        ),
    ],
)
def test_lost_create_then_duplicate_means_it_went_through(api, users, answer):
    api.add(responses.POST, USERS, status=502, body="Bad Gateway")
    api.add(responses.POST, USERS, **answer)
    add_pages(api, USERS, [[]])

    assert users.create("app", "readonly", ["db_1"]) == (None, True)

    assert [method for method, path in calls(api)] == ["POST", "GET", "POST"]
    assert all(
        json.loads(call.request.body)
        == {"username": "app", "user_type": "readonly", "database_ids": ["db_1"]}
        for call in api.calls
        if call.request.method == "POST"
    )


def test_create_of_an_existing_user_changes_nothing(api, users):
    api.add(
        responses.POST,
        USERS,
        status=400,
        json={"error": "bad_request", "error_description": "User app already exists"},
    )
    assert users.create("app", "application", []) == (None, False)


def test_delete_of_a_user_already_gone_changes_nothing(api, users):
    api.add(
        responses.DELETE,
        USERS + "/user_001",
        status=404,
        json={"error": "not_found", "error_description": "gone"},
    )
    assert users.delete("user_001") == (None, False)


def test_regenerate_returns_the_action(api, users):
    action = dict(QUEUED, action_type="database_user_password_change")
    api.add(responses.POST, USERS + "/user_001/regenerate_password", json={"response": action})
    assert users.regenerate_password("user_001") == (action, True)


def test_regenerate_of_a_vanished_user_says_so(api, users):
    api.add(
        responses.POST,
        USERS + "/user_001/regenerate_password",
        status=404,
        json={"error": "not_found", "error_description": "Database user not found"},
    )
    with pytest.raises(Cloud66Error) as info:
        users.regenerate_password("user_001")
    assert (
        info.value.status == 404
        and "user_001 is no longer in server group 42" in info.value.message
    )


def test_lost_regenerate_is_sent_again(api, users, client_sleeps):
    action = dict(QUEUED, action_type="database_user_password_change")
    api.add(
        responses.POST, USERS + "/user_001/regenerate_password", status=504, body="Gateway Timeout"
    )
    api.add(responses.POST, USERS + "/user_001/regenerate_password", json={"response": action})
    assert users.regenerate_password("user_001") == (action, True)
    assert len(client_sleeps) == 1


def test_missing_server_group_is_named(api, users):
    api.add(
        responses.GET,
        USERS,
        status=404,
        json={"error": "not_found", "error_description": "Server group not found"},
    )
    api.add(responses.GET, STACK_URL, json={"response": {"uid": "s1"}})
    with pytest.raises(Cloud66Error) as info:
        users.find(username="app")
    assert info.value.message == "Server group 42 was not found in stack s1."

# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""cloud66_database_user_info run through its main(), HTTP mocked with the responses
library."""

from __future__ import annotations

import json

import responses

from ansible_collections.cloud66.cloud.plugins.modules import cloud66_database_user_info
from ansible_collections.cloud66.cloud.tests.unit.plugins.fake_api import (
    USERS,
    add_pages,
    error,
    sent,
    user,
)

SECRET = dict(password="pw-Yh3xzW8q-visible", password_hash="*9F2C7A")
LISTED = [user(1, "app", **SECRET), user(2, "reporting", **SECRET)]


def test_passwords_are_dropped_unless_asked_for(api, run_module):
    # Even when Cloud66 sends password fields unasked, none reaches the result.
    add_pages(api, USERS, [LISTED])

    result = run_module(cloud66_database_user_info)

    assert "failed" not in result and result["changed"] is False
    assert result["users"] == [user(1, "app"), user(2, "reporting")]
    assert SECRET["password"] not in json.dumps(result) and SECRET[
        "password_hash"
    ] not in json.dumps(result)
    assert sent(api) == ["GET /database_users?page=1"]


def test_show_password_asks_for_passwords_and_returns_them(api, run_module):
    add_pages(api, USERS, [LISTED], query={"show_password": "true"})

    result = run_module(cloud66_database_user_info, username="reporting", show_password=True)

    assert result["users"] == [LISTED[1]]
    assert sent(api) == ["GET /database_users?show_password=true&page=1"]


def test_a_refused_show_password_names_the_scope_it_needs(api, run_module):
    refusal = error("forbidden", "needs edit rights")
    api.add(responses.GET, USERS, status=403, json=refusal)

    result = run_module(cloud66_database_user_info, show_password=True)

    assert result["failed"] is True and result["status_code"] == 403
    assert result["msg"] == (
        "Cloud66 refused to show passwords (403): reading them (show_password) needs edit permission on "
        "stack s1 for the token's user, an account permission, not a token scope. Cloud66 said: needs "
        "edit rights"
    )
    assert sent(api) == ["GET /database_users?show_password=true&page=1"]

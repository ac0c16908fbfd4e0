# -*- coding: utf-8 -*-
# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What every module does alike, run through each main(): the connection options are
checked before any request, and the API token never shows in a result or a message."""

from __future__ import annotations

import json
import re

import pytest
import responses

from ansible_collections.cloud66.cloud.plugins.modules import (
    cloud66_database,
    cloud66_database_info,
    cloud66_database_user,
    cloud66_database_user_info,
    cloud66_databases,
)
from ansible_collections.cloud66.cloud.tests.unit.plugins.fake_api import TOKEN, sent

# Each module with the least it needs to send a request.
MODULES = [
    pytest.param(cloud66_database, dict(name="shop"), id="cloud66_database"),
    pytest.param(cloud66_database_info, {}, id="cloud66_database_info"),
    pytest.param(
        cloud66_database_user, dict(username="app"), id="cloud66_database_user"
    ),
    pytest.param(cloud66_database_user_info, {}, id="cloud66_database_user_info"),
    pytest.param(
        cloud66_databases, dict(databases=[{"name": "shop"}]), id="cloud66_databases"
    ),
]


@pytest.mark.parametrize("module, needs", MODULES)
@pytest.mark.parametrize(
    "options, message",
    [
        (
            dict(api_url="http://api.cloud66.test/api/3"),
            "uses plain http, which would send the API token unencrypted",
        ),
        (
            dict(api_url="https://user:pw@api.cloud66.test/api/3"),
            "api_url must not carry credentials",
        ),
        (
            dict(api_token="two words"),
            "api_token must be printable ASCII without spaces or line breaks",
        ),
        (
            dict(api_token="tok\u00e9n"),
            "api_token must be printable ASCII without spaces or line breaks",
        ),
        (
            dict(account_id="a b"),
            "account_id must be printable ASCII without spaces, got 'a b'.",
        ),
        (dict(stack_id=" "), "stack_id must not be empty."),
        (dict(server_group_id=""), "server_group_id must not be empty."),
        (
            dict(api_timeout=0),
            "api_timeout must be a positive number of seconds, at most 600, got 0.",
        ),
        (dict(api_retries=-1), "api_retries must be between 0 and 20, got -1."),
    ],
)
def test_bad_connection_options_are_refused_before_any_request(
    api, run_module, module, needs, options, message
):
    result = run_module(module, **dict(needs, **options))

    assert result["failed"] is True and result["changed"] is False
    assert message in result["msg"]
    assert sent(api) == []


@pytest.mark.parametrize("module, needs", MODULES)
def test_the_token_shows_nowhere_even_when_the_server_echoes_it(
    api, run_module, module, needs
):
    # A token pasted with a line break is trimmed, sent, and hidden trimmed too.
    api.add(
        responses.GET,
        re.compile(".*"),
        status=401,
        json={
            "error": "unauthenticated",
            "error_description": "Invalid access token %s" % TOKEN,
        },
    )

    result = run_module(module, api_token=TOKEN + "\n", diff=True, **needs)

    assert result["failed"] is True
    assert result["msg"].startswith(
        "Cloud66 did not accept the API token (401 unauthenticated). Check api_token or "
        "the CLOUD66_API_TOKEN environment variable."
    )
    assert TOKEN not in json.dumps(result) and TOKEN[:8] not in json.dumps(result)
    assert len(api.calls) == 1
    assert api.calls[0].request.headers["Authorization"] == "Bearer %s" % TOKEN

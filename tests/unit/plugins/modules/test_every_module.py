# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What every module does alike, run through each main(): bad input is refused before
any request, and the API token never shows in a result or a message."""

from __future__ import annotations

import json
import os
import re
import tempfile

import pytest
import responses

from ansible_collections.cloud66.cloud.plugins.modules import (
    cloud66_backup_download,
    cloud66_backup_info,
    cloud66_database,
    cloud66_database_info,
    cloud66_database_user,
    cloud66_database_user_info,
    cloud66_databases,
)
from ansible_collections.cloud66.cloud.tests.unit.plugins.fake_api import TOKEN, sent

# Each module with the least it needs to send a request.
NEEDS = {
    cloud66_database: dict(name="shop"),
    cloud66_database_info: {},
    cloud66_database_user: dict(username="app"),
    cloud66_database_user_info: {},
    cloud66_databases: dict(databases=[{"name": "shop"}]),
    # The backup modules name a stack only.
    cloud66_backup_info: dict(server_group_id=None),
    cloud66_backup_download: dict(
        server_group_id=None,
        backup_id=1,
        dest=os.path.join(tempfile.gettempdir(), "cloud66-unit-absent.tar"),
    ),
}
NOT_ASCII = "api_token must be printable ASCII without spaces or line breaks"
# Connection options every module checks.
CONNECTION = [
    (dict(api_url="http://api.cloud66.test/api/3"), "which would send the API token"),
    (dict(api_url="https://u:pw@api.cloud66.test/api/3"), "must not carry credentials"),
    (dict(api_token="two words"), NOT_ASCII),
    (dict(api_token="tok\u00e9n"), NOT_ASCII),
    (dict(account_id="a b"), "account_id must be printable ASCII without spaces"),
    (dict(stack_id=" "), "stack_id must not be empty."),
    (dict(server_group_id=""), "server_group_id must not be empty."),
    (dict(api_timeout=0), "api_timeout must be a positive number of seconds"),
    (dict(api_retries=-1), "api_retries must be between 0 and 20, got -1."),
]
# The options each module checks itself.
OWN = {
    cloud66_database: [
        (dict(name="my shop"), "The database name 'my shop' must not contain spaces"),
        (dict(name=""), "The database name '' must not be empty."),
        (dict(name="x" * 64), "must be at most 63 characters long (it has 64)"),
        (dict(uid=" ", state="absent"), "uid must not be empty."),
        (dict(wait_timeout=0), "wait_timeout must be a positive number of seconds"),
        (dict(wait=False, wait_timeout=-1), "wait_timeout must be zero or a positive"),
        (
            dict(state="absent", require_backup_within=0),
            "require_backup_within must be a positive number",
        ),
    ],
    cloud66_backup_info: [(dict(database_name=" "), "database_name must not be empty.")],
    cloud66_backup_download: [
        (
            dict(dest="/no-such-folder/shop.tar"),
            "The destination folder /no-such-folder does not exist",
        ),
        (dict(backup_id=0), "backup_id must be a positive number, got 0."),
        (dict(db_type="mysql"), "db_type goes with database_name"),
    ],
    cloud66_database_user: [
        (dict(username="app user"), "The username 'app user' must not contain spaces"),
        (dict(username=""), "The username '' must not be empty."),
        (dict(user_type=" "), "user_type must not be empty."),
        (dict(databases=["shop", " "]), "databases must not hold empty entries."),
        (dict(database_ids=[""]), "database_ids must not hold empty entries."),
    ],
    cloud66_databases: [
        (
            dict(databases=[{"name": "shop"}, {"name": "shop", "state": "absent"}]),
            "Database 'shop' is listed more than once in databases.",
        ),
        (
            dict(databases=[{"name": "shop", "database_user_ids": [], "database_users": []}]),
            "Database 'shop' gives both database_user_ids and database_users; give one.",
        ),
        (
            dict(databases=[{"name": "shop"}, {"name": "bad/name"}]),
            "The database name 'bad/name' must not contain",
        ),
        (
            dict(database_users=[{"username": "app"}, {"username": "app"}]),
            "Database user 'app' is listed more than once in database_users.",
        ),
        (
            dict(database_users=[{"username": "a", "databases": [], "database_ids": []}]),
            "Database user 'a' gives both databases and database_ids; give one.",
        ),
        (
            dict(require_backup_within=-5),
            "require_backup_within must be a positive number of seconds, got -5.",
        ),
    ],
}


# Control characters, blank entries and booleans for numbers, which the shared checks refuse at any depth.
ODD_TEXT = {
    cloud66_database: [
        (dict(name="shop\x00"), "name must not contain control characters such as NUL"),
        (dict(uid="db_1\x01", state="absent"), "uid must not contain control characters"),
        (dict(database_user_ids=["user_1", ""]), "database_user_ids must not hold empty entries."),
        (dict(database_users=[" "]), "database_users must not hold empty entries."),
        (dict(database_users=["app\x7f"]), "database_users[0] must not contain control characters"),
        (dict(wait_timeout=True), "wait_timeout must be a number, not a boolean (got True)."),
    ],
    cloud66_database_info: [
        (dict(name="shop\n"), "name must not contain control characters"),
        (dict(uid=" "), "uid must not be empty."),
    ],
    cloud66_database_user: [
        (dict(username="app\x00"), "username must not contain control characters"),
        (dict(user_type="readonly\x00"), "user_type must not contain control characters"),
        (dict(database_ids=["db_1\t"]), "database_ids[0] must not contain control characters"),
    ],
    cloud66_database_user_info: [
        (dict(username="\x00"), "username must not contain control characters"),
        (dict(username=""), "username must not be empty."),
    ],
    cloud66_databases: [
        (dict(databases=[{"name": "shop\x00"}]), "databases[0].name must not contain control"),
        (
            dict(databases=[{"name": "shop", "database_user_ids": ["u1", " "]}]),
            "databases[0].database_user_ids must not hold empty entries.",
        ),
        (
            dict(database_users=[{"username": "app", "user_type": " "}]),
            "database_users[0].user_type must not be empty.",
        ),
        (
            dict(database_users=[{"username": "app\n"}]),
            "database_users[0].username must not contain control characters",
        ),
    ],
}
for _module, _cases in ODD_TEXT.items():
    _cases.extend(
        [
            (dict(api_timeout=True), "api_timeout must be a number, not a boolean (got True)."),
            (dict(api_retries=False), "api_retries must be a number, not a boolean (got False)."),
            (dict(stack_id="s1\x00"), "stack_id must not contain control characters"),
        ]
    )


def name(module):
    return module.__name__.rsplit(".", 1)[-1]


def bad_input():
    cases = []
    for module, needs in NEEDS.items():
        checks = CONNECTION + OWN.get(module, []) + ODD_TEXT.get(module, [])
        for number, (options, message) in enumerate(checks):
            if "server_group_id" in options and "server_group_id" in needs:
                continue  # a module that names a stack only has no server_group_id
            case = (module, dict(needs, **options), message)
            cases.append(pytest.param(*case, id="%s-%d" % (name(module), number)))
    return cases


@pytest.mark.parametrize("module, options, message", bad_input())
def test_bad_input_is_refused_before_any_request(api, run_module, module, options, message):
    result = run_module(module, **options)

    assert result["failed"] is True and result.get("changed") is not True
    if "embedded null character" in result["msg"]:
        # ansible-core 2.21 fails on a NUL itself while it logs the module's options, before the module's own check.
        assert any("\x00" in str(value) for value in options.values())
    else:
        assert message in result["msg"]
    assert sent(api) == []


@pytest.mark.parametrize("module", [pytest.param(module, id=name(module)) for module in NEEDS])
def test_the_token_shows_nowhere_even_when_the_server_echoes_it(api, run_module, module):
    echo = {"error": "unauthenticated", "error_description": "Bad token %s" % TOKEN}
    api.add(responses.GET, re.compile(".*"), status=401, json=echo)

    # A token pasted with a line break is trimmed, sent, and hidden trimmed too.
    result = run_module(module, api_token=TOKEN + "\n", diff=True, **NEEDS[module])

    assert result["failed"] is True
    assert result["msg"].startswith(
        "Cloud66 did not accept the API token (401 unauthenticated). "
        "Check api_token or the CLOUD66_API_TOKEN environment variable."
    )
    assert TOKEN not in json.dumps(result) and TOKEN[:8] not in json.dumps(result)
    assert len(api.calls) == 1
    assert api.calls[0].request.headers["Authorization"] == "Bearer %s" % TOKEN

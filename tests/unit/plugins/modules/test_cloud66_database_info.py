# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""cloud66_database_info run through its main(), HTTP mocked with the responses
library."""

from __future__ import annotations

import pytest
import responses

from ansible_collections.cloud66.cloud.plugins.modules import cloud66_database_info
from ansible_collections.cloud66.cloud.tests.unit.plugins.fake_api import (
    BASE,
    DATABASES,
    STACK_URL,
    add_pages,
    database,
    error,
    sent,
)

PAGES = ([database(n) for n in range(30)], [database(30, "shop"), database(31)])


def test_every_page_is_read_and_nothing_changes(api, run_module):
    add_pages(api, DATABASES, PAGES)

    result = run_module(cloud66_database_info, check_mode=True)

    assert "failed" not in result and result["changed"] is False
    assert [record["uid"] for record in result["databases"]] == ["db_%04d" % n for n in range(32)]
    assert sent(api) == ["GET /databases?page=1", "GET /databases?page=2"]


@pytest.mark.parametrize(
    "options",
    [dict(name="shop"), dict(uid="db_0030"), dict(name="shop", uid="db_0030")],
)
def test_filters_pick_the_database(api, run_module, options):
    add_pages(api, DATABASES, PAGES)

    result = run_module(cloud66_database_info, **options)

    assert result["databases"] == [database(30, "shop")]


def test_filters_that_disagree_pick_nothing(api, run_module):
    add_pages(api, DATABASES, PAGES)
    assert run_module(cloud66_database_info, name="shop", uid="db_0001")["databases"] == []


def test_stack_and_server_group_are_found_by_name_and_type(api, run_module):
    stacks = [
        {"uid": "s0", "name": "shop", "environment": "staging"},
        {"uid": "s1", "name": "shop", "environment": "production"},
    ]
    groups = [
        {"id": 41, "name": "web", "type": "rails"},
        {"id": 42, "name": "db", "type": "mysql"},
    ]
    add_pages(api, BASE + "/stacks", [stacks])
    add_pages(api, STACK_URL + "/server_groups", [groups])
    add_pages(api, DATABASES, [[database(1)]])

    result = run_module(
        cloud66_database_info,
        stack_id=None,
        server_group_id=None,
        stack_name="shop",
        environment="production",
        server_group_type="mysql",
    )

    assert result["databases"] == [database(1)]
    assert sent(api) == [
        "GET /stacks?page=1",
        "GET /stacks/s1/server_groups?page=1",
        "GET /databases?page=1",
    ]


def test_a_missing_server_group_is_named(api, run_module):
    api.add(responses.GET, DATABASES, status=404, json=error("not_found", "Not found"))
    api.add(responses.GET, STACK_URL, json={"response": {"uid": "s1", "name": "shop"}})

    result = run_module(cloud66_database_info)

    assert result["failed"] is True and result["status_code"] == 404
    assert result["msg"] == "Server group 42 was not found in stack s1."
    assert sent(api) == ["GET /databases?page=1", "GET /stacks/s1"]

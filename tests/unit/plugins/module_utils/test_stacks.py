# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Resolving every spelling of a stack and a server group to one key, with one read of each list."""

from __future__ import annotations

import pytest

from ansible_collections.cloud66.cloud.plugins.module_utils._errors import Cloud66Error
from ansible_collections.cloud66.cloud.plugins.module_utils._stacks import (
    GroupKey,
    Resolver,
    Target,
)
from ansible_collections.cloud66.cloud.tests.unit.plugins.fake_api import BASE, add_pages, sent

SHOP = "5999b763474b0eafa5fafb64bff0ba80"
STACKS = [
    {"uid": SHOP, "name": "Shop", "environment": "production"},
    {"uid": "b109", "name": "shop", "environment": "staging"},
    {"uid": "c0ffee", "name": "blog", "environment": "production"},
]
GROUPS = [
    {"id": 42, "name": "shop-mysql", "type": "mysql"},
    {"id": 43, "name": "shop-pg", "type": "postgresql"},
]


def test_every_spelling_of_one_group_is_one_key_with_one_read_of_each_list(api, client):
    add_pages(api, BASE + "/stacks", [STACKS])
    add_pages(api, BASE + "/stacks/%s/server_groups" % SHOP, [GROUPS])
    targets = [
        Target(stack_id=SHOP, server_group_id="42"),
        Target.of({"stack_id": SHOP.upper(), "server_group_id": " 42 "}),
        Target(stack_name="SHOP", environment="Production", server_group_name="shop-mysql"),
        Target(stack_name="shop", environment="production", server_group_type="mysql"),
        Target.of({"stack_id": SHOP, "server_group_id": 42, "server_group_name": ""}),
        Target.of({"stack_id": SHOP, "server_group_id": "042"}),
    ]
    keys = Resolver(client).resolve_all(targets)
    assert set(keys) == {GroupKey(SHOP, "42")}
    assert sent(api) == ["GET /stacks?page=1", "GET /stacks/%s/server_groups?page=1" % SHOP]


def test_ids_alone_need_no_read(api, client):
    assert Resolver(client).resolve_all([Target(stack_id="s9", server_group_id="7")]) == [
        GroupKey("s9", "7")
    ]
    assert sent(api) == []


@pytest.mark.parametrize(
    "target, words",
    [
        (Target(stack_name="shop", server_group_id="42"), "2 stacks are named 'shop'"),
        (Target(stack_name="nowhere", server_group_id="42"), "No stack named 'nowhere'"),
        (Target(stack_id=SHOP, server_group_name="web"), "has no server group named 'web'"),
    ],
)
def test_a_target_that_names_no_single_group_fails_naming_what_there_is(api, client, target, words):
    add_pages(api, BASE + "/stacks", [STACKS])
    add_pages(api, BASE + "/stacks/%s/server_groups" % SHOP, [GROUPS])
    with pytest.raises(Cloud66Error) as info:
        Resolver(client).resolve(target)
    assert words in info.value.message


def test_a_target_reads_as_its_options_say():
    target = Target.of({"stack_name": " shop ", "environment": "", "server_group_type": "mysql"})
    assert target == Target(stack_name="shop", server_group_type="mysql")
    assert str(target) == "stack 'shop', the mysql server group"
    assert Target.of({}).names_nothing()

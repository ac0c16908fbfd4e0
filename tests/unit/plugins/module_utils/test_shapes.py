# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Every shape Cloud66 publishes for a record is read the same way: plugins/module_utils/_records.py and the code that
reads answers through it. HTTP is mocked with the responses library; time is a fake clock."""

from __future__ import annotations

import pytest
import responses
from responses import matchers

from ansible_collections.cloud66.cloud.plugins.module_utils._actions import (
    FAILED,
    PENDING,
    SUCCEEDED,
    ActionFailed,
    ActionWaiter,
    Deadline,
    action_outcome,
)
from ansible_collections.cloud66.cloud.plugins.module_utils._databases import (
    DatabaseList,
    is_duplicate,
    users_warning,
)
from ansible_collections.cloud66.cloud.plugins.module_utils._errors import Cloud66Error
from ansible_collections.cloud66.cloud.plugins.module_utils._records import (
    action_name,
    action_record,
    database_names,
    database_record,
    page_info,
    server_group_record,
    stack_record,
    user_record,
    whole_number,
    without_secrets,
)
from ansible_collections.cloud66.cloud.plugins.module_utils._stacks import Resolver, Target

BASE = "https://api.cloud66.test/api/3"
STACK = "s1"
ACTIONS = BASE + "/stacks/s1/actions"
DATABASES = BASE + "/stacks/s1/server_groups/42/databases"
GROUPS = BASE + "/stacks/s1/server_groups"

# The Database model page's shape, and the AsyncAction model page's.
MODEL_DATABASE = {
    "uid": "db_1",
    "stack_uid": "s1",
    "server_group_id": 42,
    "database_name": "shop",
    "collation": "c",
    "encoding": "utf8mb4",
    "size_bytes": 1,
    "size_rows": 2,
    "created_at_iso": "2024-01-01T00:00:00Z",
    "updated_at_iso": "2024-01-02T00:00:00Z",
}


def model_action(action_id, finished_at=None, finished_success=None, message=None):
    return {
        "id": action_id,
        "user": "a@example.com",
        "resource_type": "database",
        "action": "database_create",
        "resource_id": 84195,
        "started_via": "api",
        "started_at": None,
        "finished_at": finished_at,
        "finished_success": finished_success,
        "finished_message": message,
        "finished_result": None,
        "metadata": {},
    }


def listed(items, current=1, pages=1, spelling="previous"):
    pagination = {
        spelling: current - 1 or None,
        "next": current + 1 if current < pages else None,
        "current": current,
        "count": 30 * pages,
        "pages": pages,
    }
    return {"response": items, "count": len(items), "pagination": pagination}


def add_page(api, url, number, body):
    api.add(
        responses.GET, url, json=body, match=[matchers.query_param_matcher({"page": str(number)})]
    )


def paths(api):
    return [call.request.path_url.replace("/api/3/stacks/s1", "") for call in api.calls]


# --- _records ---------------------------------------------------------------------------------------------------


def test_a_model_database_gets_the_documented_names_and_keeps_its_own():
    record = database_record(MODEL_DATABASE)
    assert record["name"] == "shop" and record["charset"] == "utf8mb4"
    assert (
        record["created_at"] == "2024-01-01T00:00:00Z"
        and record["updated_at"] == "2024-01-02T00:00:00Z"
    )
    assert all(record[key] == value for key, value in MODEL_DATABASE.items())
    assert "users" not in record
    assert MODEL_DATABASE.get("name") is None, "the answer itself is left as it was"


def test_an_endpoint_database_is_left_as_it_is():
    raw = {"uid": "db_1", "name": "shop", "charset": "utf8", "users": ["app"]}
    assert database_record(raw) == raw


def test_a_name_in_either_spelling_counts_and_other_types_never_match():
    assert database_names({"name": "a", "database_name": "b"}) == {"a", "b"}
    assert database_names({"database_name": ["shop"]}) == set()
    assert database_names({"name": 7}) == set()


def test_actions_are_named_by_action_or_action_type():
    assert action_record(model_action(1))["action_type"] == "database_create"
    assert action_name({"action": "database_delete"}) == "database_delete"
    assert action_name({"id": 1}) == "action"


def test_users_and_pages_in_the_model_spelling():
    assert user_record({"uid": "x", "username": "u", "created_at_iso": "t"})["created_at"] == "t"
    assert page_info({"pagination": {"prev": 1, "next": None}})["previous"] == 1
    assert page_info({"response": []}) == {}
    assert page_info([]) == {}


@pytest.mark.parametrize(
    "read, raw, words",
    [
        (
            user_record,
            {"uid": None, "username": "app"},
            "'uid' must be a non-empty string, not null",
        ),
        (user_record, {"username": "app"}, "'uid' must be a non-empty string, not missing"),
        (
            user_record,
            {"uid": ["u1"], "username": "app"},
            "'uid' must be a non-empty string, not a list",
        ),
        (
            user_record,
            {"uid": "u1", "username": ["app"]},
            "'username' must be a non-empty string, not a list",
        ),
        (
            user_record,
            {"uid": "u1", "username": " "},
            "'username' must be a non-empty string, not an empty",
        ),
        (
            user_record,
            {"uid": "u1", "username": "a", "databases": "db"},
            "'databases' must be a list of strings",
        ),
        (
            user_record,
            {"uid": "u1", "username": "a", "user_type": 3},
            "'user_type' must be a string, not a number",
        ),
        (user_record, ["u1"], "it is a list, not an object"),
        (
            database_record,
            {"uid": "db_1", "database_name": ["shop"]},
            "'name' must be a non-empty string",
        ),
        (
            database_record,
            {"uid": 7, "name": "shop"},
            "'uid' must be a non-empty string, not a number",
        ),
        (
            database_record,
            {"uid": "db_1", "name": "a", "users": [1]},
            "'users' must be a list of strings",
        ),
        (action_record, {"id": True}, "'id' must be a non-empty string or a number, not a boolean"),
        (action_record, {"id": 1, "status": {"a": 1}}, "'status' must be a string, not an object"),
        (
            action_record,
            {"id": 1, "finished_success": "maybe"},
            "'finished_success' must be a boolean",
        ),
        (
            action_record,
            {"id": 1, "finished_message": ["x"]},
            "'finished_message' must be a string",
        ),
        (
            server_group_record,
            {"id": None, "name": "db"},
            "'id' must be a non-empty string or a number",
        ),
        (server_group_record, {"id": 4, "type": ["mysql"]}, "'type' must be a string, not a list"),
        (stack_record, {"uid": "s1", "name": None}, "'name' must be a string, not null"),
    ],
)
def test_a_malformed_record_is_a_clear_error_naming_the_field(read, raw, words):
    with pytest.raises(Cloud66Error) as info:
        read(raw)
    assert words in info.value.message and "cannot read" in info.value.message


@pytest.mark.parametrize(
    "read, raw",
    [
        (user_record, {"uid": "u1", "username": "app", "databases": None, "user_type": None}),
        (database_record, {"uid": "db_1", "database_name": "shop", "users": []}),
        (action_record, {"id": "9", "finished_success": "true", "status": None}),
        (server_group_record, {"id": "42"}),
        (stack_record, {"uid": "s1", "name": "shop"}),
    ],
)
def test_records_in_either_published_shape_are_read(read, raw):
    assert read(raw)


@pytest.mark.parametrize(
    "value, number",
    [
        (3, 3),
        ("12", 12),
        (" 4 ", 4),
        (True, None),
        (1.5, None),
        (float("inf"), None),
        ("x", None),
        ("²", None),
        (None, None),
    ],
)
def test_whole_numbers(value, number):
    assert whole_number(value) == number


# --- actions ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record, outcome",
    [
        (model_action(1), PENDING),
        (model_action(1, "2024-01-01T00:00:00Z", True), SUCCEEDED),
        (model_action(1, "2024-01-01T00:00:00Z", False, "disk full"), FAILED),
        # both shapes at once: either one saying "failed" decides
        (dict(model_action(1, "2024-01-01T00:00:00Z", False), status="completed"), FAILED),
        (dict(model_action(1, "2024-01-01T00:00:00Z", True), status="failed"), FAILED),
        (dict(model_action(1), status="completed", finished_success=True), SUCCEEDED),
    ],
)
def test_outcome_from_either_shape(record, outcome):
    assert action_outcome(record) == outcome


def test_a_failed_model_action_is_named_by_its_action(api, client, clock):
    api.add(
        responses.GET, ACTIONS + "/7", json={"response": model_action(7, "t", False, "disk full")}
    )
    waiter = ActionWaiter(client, STACK, Deadline(60, clock=clock, sleep=clock.sleep))
    with pytest.raises(ActionFailed) as info:
        waiter.wait([action_record(model_action(7))])
    assert str(info.value) == "Cloud66 action 7 (database_create) failed: disk full"
    assert (
        info.value.action["action"] == "database_create"
        and info.value.action["action_type"] == "database_create"
    )


def test_an_action_list_listed_oldest_first_is_read_from_its_last_page(api, client, clock):
    add_page(
        api,
        ACTIONS,
        1,
        listed([model_action(number, "t", True) for number in range(1, 31)], 1, 4, "prev"),
    )
    add_page(
        api,
        ACTIONS,
        4,
        listed([model_action(number, "t", True) for number in range(91, 96)], 4, 4, "prev"),
    )
    waiter = ActionWaiter(client, STACK, Deadline(60, clock=clock, sleep=clock.sleep))

    finished = waiter.wait([action_record(model_action(number)) for number in (93, 94, 95)])

    assert [action["id"] for action in finished] == [93, 94, 95]
    assert all(action["action_type"] == "database_create" for action in finished)
    assert paths(api) == ["/actions?page=1", "/actions?page=4"]


def test_an_unreadable_action_list_falls_back_to_one_read_per_action(api, client, clock):
    api.add(
        responses.GET, ACTIONS, json={"error": "forbidden", "error_description": "no"}, status=403
    )
    for number in (1, 2, 3):
        api.add(
            responses.GET,
            "%s/%d" % (ACTIONS, number),
            json={"response": model_action(number, "t", True)},
        )
    waiter = ActionWaiter(client, STACK, Deadline(60, clock=clock, sleep=clock.sleep))

    finished = waiter.wait([action_record(model_action(number)) for number in (1, 2, 3)])

    assert [action["finished_success"] for action in finished] == [True] * 3
    assert paths(api) == ["/actions?page=1", "/actions/1", "/actions/2", "/actions/3"]


# --- databases ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, description, duplicate",
    [
        (409, None, True),
        (409, "conflict", True),
        (400, "Database 'x' already exists", True),
        (400, "Name has already been taken", True),
        (400, "The name is taken", True),
        (400, "duplicate database name", True),
        (400, "Invalid database name 'x'", False),
        (400, "Database does not exist", False),
        (422, "already exists", False),
    ],
)
def test_which_refusals_mean_the_name_exists(status, description, duplicate):
    assert (
        is_duplicate(Cloud66Error("refused", status=status, description=description)) is duplicate
    )


def test_no_users_warning_for_a_database_listed_without_users():
    assert users_warning(database_record(MODEL_DATABASE), ["app"]) is None
    assert "already exists with users" in users_warning({"name": "shop", "users": []}, ["app"])


def test_a_model_database_is_found_by_its_database_name(api, client):
    add_page(api, DATABASES, 1, listed([MODEL_DATABASE], spelling="prev"))
    found = DatabaseList(client, STACK, "42").find(name="shop")
    assert found["uid"] == "db_1" and found["name"] == "shop" and found["database_name"] == "shop"


def test_a_new_database_is_looked_for_from_the_last_page_back(api, client):
    pages = [
        [
            database_record(
                dict(MODEL_DATABASE, uid="db_%d" % number, database_name="n%d" % number)
            )
            for number in range(start, start + 30)
        ]
        for start in (0, 30, 60)
    ]
    pages.append([dict(MODEL_DATABASE, uid="db_new", database_name="fresh")])
    add_page(api, DATABASES, 1, listed(pages[0], 1, 4))
    add_page(api, DATABASES, 4, listed(pages[3], 4, 4))

    records, still_listed, _complete = DatabaseList(client, STACK, "42").look(names=["fresh"])

    assert records["fresh"]["uid"] == "db_new" and still_listed == set()
    assert paths(api) == [
        "/server_groups/42/databases?page=1",
        "/server_groups/42/databases?page=4",
    ]


def counted(items, current, pages, total):
    body = listed(items, current, pages)
    body["pagination"]["count"] = total
    return body


def group_of_31(api, client):
    """A group whose two pages list 31 databases, none of them "fresh", once read; with those databases and the
    record "fresh" will have."""
    group = DatabaseList(client, STACK, "42")
    old = [
        database_record(dict(MODEL_DATABASE, uid="db_%d" % n, database_name="n%d" % n))
        for n in range(30)
    ]
    add_page(api, DATABASES, 1, counted(old, 1, 2, 31))
    add_page(api, DATABASES, 2, counted(old[:1], 2, 2, 31))
    assert group.find(name="fresh") is None and group.listed_total == 31
    return group, old, dict(MODEL_DATABASE, uid="db_new", database_name="fresh")


def test_waiting_for_a_create_reads_page_1_alone_until_its_count_grows(api, client, clock):
    group, old, fresh = group_of_31(api, client)
    # not caught up twice (page 1 alone each time), then the count says 32 and the last page shows it
    for _look in range(2):
        add_page(api, DATABASES, 1, counted(old, 1, 2, 31))
    add_page(api, DATABASES, 1, counted(old, 1, 2, 32))
    add_page(api, DATABASES, 2, counted(old[:1] + [fresh], 2, 2, 32))

    record = group.wait_listed("fresh", Deadline(60, clock=clock, sleep=clock.sleep))

    assert record["uid"] == "db_new"
    assert [path.split("=")[1] for path in paths(api)] == ["1", "2", "1", "1", "1", "2"]


def test_every_third_look_reads_on_whatever_the_count_says(api, client, clock):
    group, old, fresh = group_of_31(api, client)
    # someone else deleted a database meanwhile, so the count never reaches 32: the third look reads every page
    for _look in range(3):
        add_page(api, DATABASES, 1, counted(old[1:] + [old[0]], 1, 2, 31))
    add_page(api, DATABASES, 2, counted([fresh], 2, 2, 31))

    assert (
        group.wait_listed("fresh", Deadline(60, clock=clock, sleep=clock.sleep))["uid"] == "db_new"
    )
    assert [path.split("=")[1] for path in paths(api)] == ["1", "2", "1", "1", "1", "2"]


def test_waiting_for_a_delete_needs_a_whole_read_of_the_list(api, client, clock):
    group = DatabaseList(client, STACK, "42")
    gone = database_record(dict(MODEL_DATABASE, uid="db_gone", database_name="gone"))
    add_page(api, DATABASES, 1, counted([gone, database_record(MODEL_DATABASE)], 1, 1, 2))
    assert group.find(uid="db_gone")["name"] == "gone"
    add_page(api, DATABASES, 1, counted([gone, database_record(MODEL_DATABASE)], 1, 1, 2))
    add_page(api, DATABASES, 1, counted([database_record(MODEL_DATABASE)], 1, 1, 1))

    group.wait_unlisted("db_gone", Deadline(60, clock=clock, sleep=clock.sleep))

    assert len(api.calls) == 3


def test_a_database_without_a_name_is_a_clear_error(api, client):
    add_page(api, DATABASES, 1, listed([{"uid": "db_1", "title": "shop"}]))
    with pytest.raises(Cloud66Error) as info:
        DatabaseList(client, STACK, "42").find(name="shop")
    assert "cannot read" in info.value.message and "title, uid" in info.value.message


# --- server groups ------------------------------------------------------------------------------------------------


def test_a_type_lookup_on_untyped_groups_fails_naming_the_groups(api, client):
    add_page(api, GROUPS, 1, listed([{"id": 42, "name": "shop-mysql"}, {"id": 43, "name": "web"}]))
    with pytest.raises(Cloud66Error) as info:
        Resolver(client).resolve(Target(stack_id=STACK, server_group_type="mysql"))
    assert "did not report the type" in info.value.message
    assert (
        "shop-mysql/42, web/43" in info.value.message and "server_group_name" in info.value.message
    )


def test_a_name_lookup_on_untyped_groups_works(api, client):
    add_page(api, GROUPS, 1, listed([{"id": 42, "name": "shop-mysql"}]))
    key = Resolver(client).resolve(Target(stack_id=STACK, server_group_name="shop-mysql"))
    assert key.server_group_id == "42"


ACTION_WITH_SECRETS = {
    "id": 801,
    "finished_result": {"generated_password": "pw-1", "uid": "user_1", "Secret_Key": "s"},
    "metadata": [{"password_hash": "*9F", "api_token": "t", "user": "app"}],
    "password": "pw-2",
    "password_regenerated": True,
}


def test_without_secrets_drops_every_key_naming_a_password_secret_or_token_at_any_depth():
    assert without_secrets(ACTION_WITH_SECRETS) == {
        "id": 801,
        "finished_result": {"uid": "user_1"},
        "metadata": [{"user": "app"}],
        "password_regenerated": True,
    }


def test_without_secrets_keeps_passwords_only_when_asked():
    kept = without_secrets(ACTION_WITH_SECRETS, keep_passwords=True)
    assert kept["password"] == "pw-2" and kept["metadata"] == [
        {"password_hash": "*9F", "user": "app"}
    ]
    assert kept["finished_result"] == {"generated_password": "pw-1", "uid": "user_1"}

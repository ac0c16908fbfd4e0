"""Fast tests of the Cloud66 API simulator (stdlib HTTP client only).

Fixtures are in conftest.py, helpers in sim_client.py.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

import cloud66_sim
import pytest
from sim.backups import file_bytes
from sim_client import (
    ADMIN,
    BLOG,
    BLOG_DBS,
    MYSQL,
    NOSCOPE,
    OPS,
    PG,
    READ,
    SHOP,
    SHOP_ACTIONS,
    SHOP_GROUPS,
    STAGING,
    action_targets,
    add_fault,
    api,
    configure,
    connection,
    control,
    create_db,
    create_user,
    get_action,
    listed_action_ids,
    listed_db,
    listed_dbs,
    listed_names,
    listed_users,
    request,
    requests_log,
    state_group,
    token_free,
    truth_names,
    wait_finished,
    wait_for,
    wait_listed,
    wait_user,
)

HERE = os.path.dirname(os.path.abspath(__file__))


def test_wrapper_and_pagination(sim):
    first = api(sim, "GET", BLOG_DBS)
    assert first.status == 200
    assert first.headers["Content-Type"].startswith("application/json")
    body = first.json
    assert set(body) == {"response", "count", "pagination"}
    assert body["count"] == 30
    assert body["pagination"] == {
        "previous": None,
        "next": 2,
        "current": 1,
        "per_page": 30,
        "count": 65,
        "pages": 3,
    }
    assert [db["name"] for db in body["response"]][:2] == ["blog_0001", "blog_0002"]
    record = body["response"][0]
    assert set(record) == {
        "uid",
        "name",
        "charset",
        "collation",
        "size_bytes",
        "created_at",
        "users",
    }
    assert record["uid"].startswith("db_") and record["users"] == ["blog_app"]
    second = api(sim, "GET", BLOG_DBS + "?page=2").json
    assert second["pagination"]["previous"] == 1 and second["pagination"]["next"] == 3
    assert second["response"][0]["name"] == "blog_0031"
    third = api(sim, "GET", BLOG_DBS + "?page=3").json
    assert third["count"] == 5
    assert third["pagination"] == {
        "previous": 2,
        "next": None,
        "current": 3,
        "per_page": 30,
        "count": 65,
        "pages": 3,
    }
    assert third["response"][-1]["name"] == "blog_0065"
    past = api(sim, "GET", BLOG_DBS + "?page=9").json
    assert past["response"] == [] and past["count"] == 0
    assert (
        past["pagination"]["current"] == 9
        and past["pagination"]["next"] is None
        and past["pagination"]["pages"] == 3
    )
    for bad in ("0", "abc", "-1", "1.5", ""):
        resp = api(sim, "GET", BLOG_DBS + "?page=" + bad)
        assert resp.status == 400, bad
        assert resp.json["error"] == "bad_request"
    empty = api(sim, "GET", PG + "/databases").json
    assert (
        empty["response"] == []
        and empty["pagination"]["pages"] == 1
        and empty["pagination"]["count"] == 0
    )


def test_stacks_groups_and_records(sim):
    resp = api(sim, "GET", "/stacks")
    assert resp.status == 200
    stacks = resp.json["response"]
    assert [(s["name"], s["environment"]) for s in stacks] == [
        ("shop", "production"),
        ("shop", "staging"),
        ("blog", "production"),
    ]
    assert {"uid", "name", "environment", "created_at", "updated_at"} <= set(stacks[0])
    ops = api(sim, "GET", "/stacks", account=2).json["response"]
    assert [s["uid"] for s in ops] == [OPS]
    groups = api(sim, "GET", SHOP_GROUPS).json
    # As the List Server Groups example shows them: without a type.
    assert [(g["id"], g["name"]) for g in groups["response"]] == [
        (42, "shop-mysql"),
        (43, "shop-web"),
        (44, "shop-pg"),
        (45, "shop-redis"),
    ]
    assert groups["pagination"]["count"] == 4
    assert set(groups["response"][0]) == {"id", "name", "created_at", "updated_at"}
    configure(sim, group_types=True)
    typed = api(sim, "GET", SHOP_GROUPS).json["response"]
    assert [g["type"] for g in typed] == ["mysql", "rails", "postgresql", "redis"]
    assert api(sim, "GET", "/stacks/%s" % STAGING).json["response"]["environment"] == "staging"
    dbs = listed_dbs(sim)
    assert [(d["name"], d["users"]) for d in dbs] == [
        ("app_production", ["app_user", "readonly_user"]),
        ("analytics_db", ["app_user"]),
    ]
    assert dbs[0]["charset"] == "utf8mb4" and dbs[0]["collation"] == "utf8mb4_unicode_ci"
    users = api(sim, "GET", MYSQL + "/database_users").json["response"]
    assert users[0] == {
        "uid": "user_abc123",
        "username": "app_user",
        "databases": ["app_production", "analytics_db"],
        "user_type": "application",
        "created_at": users[0]["created_at"],
    }


def test_auth_scopes_and_accounts(sim):
    missing = api(sim, "GET", "/stacks", token=None)
    assert (
        missing.status == 401
        and missing.json["error"] == "unauthenticated"
        and missing.json["error_description"]
    )
    assert api(sim, "GET", "/stacks", token="nope").status == 401
    assert (
        api(sim, "GET", "/stacks", headers={"Authorization": "Basic abc"}, token=None).status == 401
    )
    assert api(sim, "GET", MYSQL + "/databases", token=READ).status == 200
    denied = create_db(sim, "new_db", token=READ)
    assert denied.status == 403
    assert denied.json == {
        "error": "forbidden",
        "error_description": "This action requires the 'admin' scope",
    }
    assert api(sim, "DELETE", MYSQL + "/databases/db_abc123", token=READ).status == 403
    # Scoped Access: a token with no scope has public read-only access.
    assert api(sim, "GET", MYSQL + "/databases", token=NOSCOPE).status == 200
    noscope = create_db(sim, "new_db", token=NOSCOPE)
    assert noscope.status == 403 and "'admin'" in noscope.json["error_description"]
    assert api(sim, "GET", "/stacks", account=3).status == 403
    assert api(sim, "GET", "/stacks", account="x").status == 403
    assert api(sim, "GET", "/stacks", token=READ, account=2).status == 403
    other = api(sim, "GET", "/stacks/%s" % OPS)
    assert other.status == 404 and other.json["error_description"] == "Stack not found"
    assert api(sim, "GET", "/stacks/%s" % OPS, account=2).status == 200
    assert api(sim, "GET", "/stacks/%s/server_groups/72/databases" % OPS, account=2).status == 200


def test_not_found_texts(sim):
    def check(path, text, method="GET"):
        resp = api(sim, method, path)
        assert resp.status == 404, (path, resp)
        assert resp.json["error"] == "not_found"
        assert resp.json["error_description"] == text

    check("/stacks/nope", "Stack not found")
    check("/stacks/nope/server_groups/42/databases", "Stack not found")
    check("/stacks/%s/server_groups/999/databases" % SHOP, "Server group not found")
    check("/stacks/%s/server_groups/abc/databases" % SHOP, "Server group not found")
    check("/stacks/%s/server_groups/52/databases" % SHOP, "Server group not found")
    check(MYSQL + "/databases/db_missing", "Database not found", "DELETE")
    check("/stacks/%s/actions/9999" % SHOP, "Action not found")
    unknown = api(sim, "GET", "/nothing/here")
    assert unknown.status == 404 and unknown.json["error"] == "not_found"
    assert api(sim, "GET", "/nothing/here", token=None).status == 404
    no_get_one = api(sim, "GET", MYSQL + "/databases/db_abc123")
    assert no_get_one.status == 404 and no_get_one.headers["X-RateLimit-Limit"] == "3000"
    outside = request(
        sim.url.replace("/api/3", ""), "GET", "/other", headers={"Authorization": "Bearer " + ADMIN}
    )
    assert outside.status == 404 and outside.json["error"] == "not_found"


def test_unsupported_group(sim):
    expected = {
        "error": "bad_request",
        "error_description": "Server group does not support database operations",
    }
    for group_id in (43, 45):
        base = "/stacks/%s/server_groups/%d" % (SHOP, group_id)
        assert api(sim, "GET", base + "/databases").json == expected
        resp = api(sim, "POST", base + "/databases", {"database_name": "x"})
        assert resp.status == 400 and resp.json == expected
        assert api(sim, "DELETE", base + "/databases/db_abc123").json == expected
        assert api(sim, "GET", base + "/database_users").status == 400


def test_create_lifecycle(sim):
    configure(sim, action_seconds=0.8, queue_seconds=0.3, list_lag_seconds=0.5)
    start = time.time()
    resp = create_db(sim, "new_app_db", ["user_abc123", "user_def456"])
    assert resp.status == 200, resp
    action = resp.json["response"]
    assert set(action) == {
        "id",
        "status",
        "action_type",
        "resource_type",
        "resource_id",
        "started_via",
        "started_at",
        "finished_at",
        "finished_success",
        "finished_message",
        "created_at",
        "updated_at",
    }
    assert (
        action["id"] == 1001
        and action["status"] == "queued"
        and action["action_type"] == "database_create"
    )
    assert (
        action["resource_type"] == "database"
        and action["resource_id"] is None
        and action["started_via"] == "api"
    )
    assert (
        action["started_at"] is None
        and action["finished_success"] is None
        and action["created_at"].endswith("Z")
    )
    assert [a["target_name"] for a in state_group(sim)["pending"]] == ["new_app_db"]
    time.sleep(max(0.0, start + 0.5 - time.time()))
    running = get_action(sim, 1001)
    # Polled, an action has the shape of the Get Stack Action page: no status, named by "action".
    assert "status" not in running and running["action"] == "database_create"
    assert set(running) == {
        "id",
        "user",
        "resource_type",
        "action",
        "resource_id",
        "started_via",
        "started_at",
        "finished_at",
        "finished_success",
        "finished_message",
        "finished_result",
        "metadata",
    }
    assert running["started_at"] is not None and running["finished_at"] is None
    assert "new_app_db" not in truth_names(sim)
    time.sleep(max(0.0, start + 0.9 - time.time()))
    done = get_action(sim, 1001)
    assert done["finished_success"] is True and done["finished_result"] == {}
    assert done["finished_message"] == "Completed successfully"
    assert done["resource_id"].startswith("db_") and len(done["resource_id"]) == 15
    truth = [db for db in state_group(sim)["databases"] if db["name"] == "new_app_db"]
    assert truth and truth[0]["uid"] == done["resource_id"]
    if time.time() < start + 1.25:
        assert "new_app_db" not in listed_names(sim)
        assert truth[0]["listed"] is False
    time.sleep(max(0.0, start + 1.4 - time.time()))
    dbs = listed_dbs(sim)
    new = [db for db in dbs if db["name"] == "new_app_db"][0]
    assert new["uid"] == done["resource_id"] and new["size_bytes"] == 0
    assert new["users"] == ["app_user", "readonly_user"] and new["charset"] == "utf8mb4"
    users = api(sim, "GET", MYSQL + "/database_users").json["response"]
    assert "new_app_db" in users[0]["databases"]
    actions = api(sim, "GET", SHOP_ACTIONS).json
    assert actions["count"] == 1 and actions["response"][0]["id"] == 1001


def test_postgres_defaults_form_body_and_action_order(sim):
    resp = api(
        sim,
        "POST",
        PG + "/databases",
        raw_body=b"database_name=pg_db&database_user_ids%5B%5D=user_pg001",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status == 200, resp
    second = create_db(sim, "pg_db2", group=PG)
    assert second.json["response"]["id"] == 1002
    wait_listed(sim, "pg_db", group=PG)
    db = listed_db(sim, "pg_db", PG)
    assert (db["charset"], db["collation"], db["users"]) == ("UTF8", "en_US.UTF-8", ["pg_app"])
    ids = listed_action_ids(sim)
    assert ids == [1002, 1001]


def test_legacy_shape(sim):
    configure(sim, action_shape="legacy")
    action = create_db(sim, "legacy_db").json["response"]
    assert (
        "status" not in action
        and action["finished_success"] is None
        and action["finished_at"] is None
    )
    done = wait_finished(sim, action["id"])
    assert "status" not in done and done["finished_success"] == "true"
    add_fault(sim, method="POST", fail_action="Disk full")
    failing = create_db(sim, "legacy_fail").json["response"]
    failed = wait_finished(sim, failing["id"])
    assert failed["finished_success"] == "false" and failed["finished_message"] == "Disk full"


def test_model_profile_speaks_the_model_pages(sim):
    configure(sim, profile="model")
    groups = api(sim, "GET", SHOP_GROUPS).json
    # The Server Group model page: with a type.
    assert set(groups["response"][0]) == {"id", "name", "type", "created_at", "updated_at"}
    assert "prev" in groups["pagination"] and "previous" not in groups["pagination"]
    action = create_db(sim, "model_db").json["response"]
    assert (
        "status" not in action
        and "action_type" not in action
        and action["action"] == "database_create"
    )
    assert (
        action["resource_id"].isdigit()
        and action["finished_at"] is None
        and action["finished_success"] is None
    )
    done = wait_finished(sim, action["id"])
    assert done["finished_success"] is True and done["finished_message"] == "Completed successfully"
    duplicate = create_db(sim, "model_db")
    assert duplicate.status == 409 and duplicate.json["error"] == "conflict"
    create_db(sim, "model_db2")
    ids = listed_action_ids(sim)
    assert ids == sorted(ids) and len(ids) == 2
    record = wait_for(
        lambda: [d for d in listed_dbs(sim) if d["database_name"] == "model_db"], "model_db listed"
    )[0]
    assert set(record) == {
        "uid",
        "stack_uid",
        "server_group_id",
        "database_name",
        "collation",
        "encoding",
        "size_bytes",
        "size_rows",
        "created_at_iso",
        "updated_at_iso",
    }
    user = api(sim, "GET", MYSQL + "/database_users").json["response"][0]
    assert "databases" not in user and user["username"] == "app_user" and "created_at_iso" in user
    control(sim, "POST", "/reset", {"config": {"profile": "model", "group_types": False}})
    assert "type" not in api(sim, "GET", SHOP_GROUPS).json["response"][0]
    control(sim, "POST", "/reset", {})
    assert "type" not in api(sim, "GET", SHOP_GROUPS).json["response"][0]


def test_held_actions_finish_only_when_released(sim):
    configure(sim, hold_actions=True, list_lag_seconds=0)
    action = create_db(sim, "held_db").json["response"]
    doomed = api(sim, "DELETE", MYSQL + "/databases/db_abc123").json["response"]
    time.sleep(0.5)  # longer than action_seconds: without the hold both would have finished
    assert get_action(sim, action["id"])["finished_at"] is None
    names = listed_names(sim)
    assert "held_db" not in names and "app_production" in names
    assert create_db(sim, "held_db").status == 400, "a held create still holds its name"
    assert control(sim, "POST", "/release", {}).json == {"released": 2}
    assert get_action(sim, action["id"])["finished_success"] is True
    assert get_action(sim, doomed["id"])["finished_success"] is True
    listed = dict((d["name"], d) for d in listed_dbs(sim))
    assert (
        "held_db" in listed
        and "app_production" not in listed
        and listed["held_db"]["created_at"].endswith("Z")
    )


def test_held_lists_show_the_group_as_it_was(sim):
    configure(sim, hold_lists=True, list_lag_seconds=0)
    create_db(sim, "unseen_db")
    api(sim, "DELETE", MYSQL + "/databases/db_abc123")
    wait_finished(sim, 1002)
    names = listed_names(sim)
    assert "unseen_db" not in names and "app_production" in names
    assert api(sim, "DELETE", MYSQL + "/databases/db_abc123").status == 404
    control(sim, "POST", "/release", {})
    names = listed_names(sim)
    assert "unseen_db" in names and "app_production" not in names


def test_a_release_fault_releases_after_answering(sim):
    configure(sim, hold_actions=True)
    action = create_db(sim, "held_db").json["response"]
    configure(sim, hold_actions=False)
    add_fault(sim, method="POST", path="/databases$", release=True)
    duplicate = create_db(sim, "held_db")
    assert duplicate.status == 400 and "already exists" in duplicate.json["error_description"]
    assert get_action(sim, action["id"])["finished_success"] is True
    assert add_fault(sim, release="yes").status == 400


def test_name_validation_and_duplicates(sim):
    dup = create_db(sim, "app_production")
    assert (
        dup.status == 400
        and dup.json["error_description"] == "Database 'app_production' already exists"
    )
    assert create_db(sim, "fresh_db").status == 200
    again = create_db(sim, "fresh_db")
    assert (
        again.status == 400
        and again.json["error_description"] == "Database 'fresh_db' already exists"
    )
    for bad in ("1abc", "bad-name", "a" * 64, "has space", "x\n"):
        resp = create_db(sim, bad)
        assert resp.status == 400 and resp.json["error"] == "bad_request", bad
    assert create_db(sim, "a" * 63).status == 200
    for reserved in (
        "mysql",
        "information_schema",
        "performance_schema",
        "sys",
        "postgres",
        "template0",
        "template1",
    ):
        resp = create_db(sim, reserved)
        assert resp.status == 400 and "reserved" in resp.json["error_description"], reserved
    for body in ({}, {"database_name": ""}, {"database_name": "   "}):
        resp = api(sim, "POST", MYSQL + "/databases", body)
        assert resp.status == 400 and "database_name" in resp.json["error_description"]
    unknown = create_db(sim, "other_db", ["user_nope"])
    assert unknown.status == 400 and "'user_nope'" in unknown.json["error_description"]
    bad_json = api(
        sim,
        "POST",
        MYSQL + "/databases",
        raw_body=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert bad_json.status == 400
    # a user of another group is unknown here
    assert create_db(sim, "other_db", ["user_pg001"]).status == 400


def test_delete_and_404_after(sim):
    first = api(sim, "DELETE", MYSQL + "/databases/db_abc123")
    assert first.status == 200, first
    action = first.json["response"]
    assert (
        action["action_type"] == "database_delete"
        and action["resource_id"] == "db_abc123"
        and action["status"] == "queued"
    )
    second = api(sim, "DELETE", MYSQL + "/databases/db_abc123.json")
    assert second.status == 200 and second.json["response"]["id"] == action["id"] + 1
    assert wait_finished(sim, action["id"])["finished_success"] is True
    assert wait_finished(sim, action["id"] + 1)["finished_success"] is True
    gone = api(sim, "DELETE", MYSQL + "/databases/db_abc123")
    assert gone.status == 404 and gone.json["error_description"] == "Database not found"
    assert "app_production" not in truth_names(sim)
    wait_listed(sim, "app_production", present=False)
    users = api(sim, "GET", MYSQL + "/database_users").json["response"]
    assert users[0]["databases"] == ["analytics_db"]
    # the name can be used again
    assert create_db(sim, "app_production").status == 200


def test_list_lags_after_delete(sim):
    configure(sim, action_seconds=0.1, queue_seconds=0.0, list_lag_seconds=0.6)
    start = time.time()
    api(sim, "DELETE", MYSQL + "/databases/db_def456")
    time.sleep(0.25)
    assert "analytics_db" not in truth_names(sim)
    if time.time() < start + 0.65:
        assert "analytics_db" in listed_names(sim)
    wait_listed(sim, "analytics_db", present=False)


def test_database_users(sim):
    resp = create_user(sim, "report_user", database_ids=["db_def456"], user_type="readonly")
    assert resp.status == 200, resp
    action = resp.json["response"]
    assert action["action_type"] == "database_user_create"
    done = wait_finished(sim, action["id"])
    assert done["resource_id"].startswith("user_")
    new = wait_user(sim, "report_user")
    assert new["databases"] == ["analytics_db"] and new["user_type"] == "readonly"
    assert create_db(sim, "with_new_user", [new["uid"]]).status == 200
    analytics = listed_db(sim, "analytics_db")
    assert analytics["users"] == ["app_user", "report_user"]
    assert create_user(sim, "app_user").status == 400
    assert create_user(sim, "x", user_type="root").status == 400
    # The Create Database User page: user_type is required.
    untyped = api(sim, "POST", MYSQL + "/database_users", {"username": "untyped"})
    assert untyped.status == 400 and "user_type is required" in untyped.json["error_description"]
    assert create_user(sim, "y", database_ids=["db_nope"]).status == 400
    assert create_user(sim, "z", token=READ).status == 403


def test_database_user_list_lags_and_hides_passwords(sim):
    configure(sim, action_seconds=0.1, queue_seconds=0.0, list_lag_seconds=30)
    action = create_user(sim, "lagging", user_type="application").json["response"]
    wait_finished(sim, action["id"])
    assert "lagging" not in listed_users(sim)
    in_state = [
        user for user in state_group(sim)["database_users"] if user["username"] == "lagging"
    ][0]
    assert in_state["listed"] is False and in_state["password"].startswith("pw_")
    # A second create of the same name is refused even while the list does not show the first one yet.
    again = create_user(sim, "lagging")
    assert again.status == 400 and "already exists" in again.json["error_description"]
    configure(sim, list_lag_seconds=0)
    users = listed_users(sim)
    assert "password" not in users["lagging"] and "password" not in users["app_user"]
    shown = listed_users(sim, show_password=True)
    assert shown["lagging"]["password"] == in_state["password"]
    forbidden = api(sim, "GET", MYSQL + "/database_users?show_password=true", token=READ)
    assert forbidden.status == 403 and "admin" in forbidden.json["error_description"]
    assert "password" not in listed_users(sim, token=READ)["app_user"]


def test_database_user_regenerate_and_delete(sim):
    configure(sim, action_seconds=0.2, queue_seconds=0.0, list_lag_seconds=0)
    before = listed_users(sim, show_password=True)["app_user"]
    resp = api(sim, "POST", MYSQL + "/database_users/%s/regenerate_password" % before["uid"])
    assert resp.status == 200, resp
    action = resp.json["response"]
    # As the Regenerate Password example: the action names the user's uid from the start.
    assert action["action_type"] == "database_user_password_change"
    assert action["resource_id"] == before["uid"]
    assert listed_users(sim, show_password=True)["app_user"]["password"] == before["password"]
    wait_finished(sim, action["id"])
    after = listed_users(sim, show_password=True)["app_user"]["password"]
    assert after != before["password"] and after.startswith("pw_")
    assert api(sim, "POST", MYSQL + "/database_users/user_nope/regenerate_password").status == 404
    assert (
        api(
            sim,
            "POST",
            MYSQL + "/database_users/%s/regenerate_password" % before["uid"],
            token=READ,
        ).status
        == 403
    )

    deleted = api(sim, "DELETE", MYSQL + "/database_users/%s" % before["uid"]).json["response"]
    assert (
        deleted["action_type"] == "database_user_delete" and deleted["resource_id"] == before["uid"]
    )
    wait_finished(sim, deleted["id"])
    wait_user(sim, "app_user", present=False)
    assert listed_names(sim) == ["app_production", "analytics_db"]
    analytics = listed_db(sim, "analytics_db")
    assert analytics["users"] == []
    assert api(sim, "DELETE", MYSQL + "/database_users/%s" % before["uid"]).status == 404
    # The name is free again once the user is gone.
    assert create_user(sim, "app_user").status == 200


def test_model_profile_users_carry_password_fields_only_with_show_password(sim):
    configure(sim, profile="model", list_lag_seconds=0)
    hidden = listed_users(sim)["app_user"]
    assert "password" not in hidden and "password_hash" not in hidden
    assert "databases" not in hidden and "user_type" not in hidden and hidden["created_at_iso"]
    shown = listed_users(sim, show_password=True)["app_user"]
    assert shown["password"] == state_group(sim)["database_users"][0]["password"]
    assert shown["password_hash"].startswith("*")
    again = create_user(sim, "app_user")
    assert again.status == 409


def test_fault_status_with_headers(sim):
    rule = add_fault(
        sim,
        method="POST",
        path="/databases$",
        status=503,
        body={"error": "throttled", "error_description": "slow down"},
        headers={"Retry-After": "1"},
    ).json["id"]
    resp = create_db(sim, "faulted_db")
    assert (
        resp.status == 503
        and resp.headers["Retry-After"] == "1"
        and resp.json["error_description"] == "slow down"
    )
    assert "X-RateLimit-Limit" in resp.headers
    assert action_targets(sim) == []
    assert create_db(sim, "faulted_db").status == 200
    add_fault(sim, path="/stacks$", status=502, body="<html>Bad gateway</html>")
    html = api(sim, "GET", "/stacks.json")
    assert (
        html.status == 502
        and html.headers["Content-Type"].startswith("text/html")
        and html.raw == b"<html>Bad gateway</html>"
    )
    default = add_fault(sim, path="/stacks$", status=500)
    assert default.status == 200
    plain = api(sim, "GET", "/stacks")
    assert plain.status == 500 and plain.json["error"] == "internal_server_error"
    log = requests_log(sim)
    assert log[0]["fault"] == rule and log[0]["status"] == 503 and log[1]["fault"] is None


def test_fault_drop_and_lost_answer(sim):
    add_fault(sim, method="POST", path="/databases$", drop=True)
    with pytest.raises((OSError, http.client.HTTPException)):
        create_db(sim, "dropped_db")
    assert action_targets(sim) == []
    add_fault(sim, method="POST", path="/databases$", lost_answer=True)
    with pytest.raises((OSError, http.client.HTTPException)):
        create_db(sim, "lost_db")
    assert action_targets(sim) == ["lost_db"]
    retry = create_db(sim, "lost_db")
    assert retry.status == 400 and "already exists" in retry.json["error_description"]
    log = requests_log(sim)
    assert [entry["status"] for entry in log] == [None, None, 400]
    assert log[1]["handled_status"] == 200


def test_fault_fail_action(sim):
    add_fault(sim, path="/databases", fail_action="Server unreachable")
    # a GET matching the path does not use up a fail_action rule without a method
    assert api(sim, "GET", MYSQL + "/databases").status == 200
    action = create_db(sim, "doomed_db").json["response"]
    done = wait_finished(sim, action["id"])
    assert done["finished_success"] is False
    assert done["finished_message"] == "Server unreachable" and done["resource_id"] is None
    assert "doomed_db" not in truth_names(sim)
    time.sleep(0.25)
    assert "doomed_db" not in listed_names(sim)
    assert create_db(sim, "doomed_db").status == 200
    add_fault(sim, method="DELETE", fail_action="Locked")
    delete = api(sim, "DELETE", MYSQL + "/databases/db_def456").json["response"]
    assert wait_finished(sim, delete["id"])["finished_success"] is False
    assert "analytics_db" in truth_names(sim)


def test_fault_delay(sim):
    add_fault(sim, method="POST", delay=0.5)
    with pytest.raises((socket.timeout, OSError)):
        create_db(sim, "slow_db", timeout=0.15)
    assert action_targets(sim) == []
    time.sleep(0.6)
    assert action_targets(sim) == ["slow_db"]
    started = time.time()
    add_fault(sim, path="/stacks$", delay=0.2)
    assert api(sim, "GET", "/stacks").status == 200
    assert time.time() - started >= 0.2


def test_fault_times_and_skip(sim):
    rule = {"method": "get", "path": "^/stacks$", "status": 500, "times": 2, "skip": 1}
    assert control(sim, "POST", "/faults", rule).json["id"] == 1
    statuses = [api(sim, "GET", "/stacks").status for _unused in range(4)]
    assert statuses == [200, 500, 500, 200]
    assert api(sim, "GET", "/stacks/%s" % SHOP).status == 200
    listed = control(sim, "GET", "/faults").json["faults"]
    assert (
        listed[0]["remaining"] == 0 and listed[0]["hits"] == 2 and listed[0]["skip_remaining"] == 0
    )
    add_fault(sim, path="/stacks$", status=500, times=None)
    assert [api(sim, "GET", "/stacks").status for _unused in range(3)] == [500, 500, 500]
    assert control(sim, "DELETE", "/faults").status == 200
    assert control(sim, "GET", "/faults").json["faults"] == []
    assert api(sim, "GET", "/stacks").status == 200
    for bad in (
        {"status": 500, "drop": True},
        {},
        {"status": "x"},
        {"drop": True, "body": "x"},
        {"path": "(", "drop": True},
        {"drop": True, "bogus": 1},
        {"status": 500, "times": 0},
    ):
        assert add_fault(sim, **bad).status == 400, bad


def test_fault_cut_body_acts_then_sends_half_the_body(sim):
    add_fault(sim, method="POST", path="/databases$", cut_body=True)
    with pytest.raises(http.client.IncompleteRead):
        create_db(sim, "cut_db")
    assert action_targets(sim) == ["cut_db"]
    add_fault(sim, method="GET", path="/databases$", cut_body=True)
    with pytest.raises(http.client.IncompleteRead):
        api(sim, "GET", MYSQL + "/databases")
    assert [entry["status"] for entry in requests_log(sim)] == [200, 200]


def test_fault_trickle_sends_the_body_one_byte_at_a_time(sim):
    add_fault(sim, method="GET", path="^/stacks$", trickle=0.5)
    with connection(sim.url) as (conn, prefix):
        conn.request("GET", prefix + "/stacks", headers={"Authorization": "Bearer %s" % ADMIN})
        response = conn.getresponse()
        assert response.status == 200 and int(response.headers["Content-Length"]) > 100
        # The first byte is there; the rest is not sent until the rule's interval has passed for each byte.
        assert response.read(1) == b"{"
    for bad in (0, -1, 61, "slow", True):
        assert add_fault(sim, trickle=bad).status == 400, bad


def test_fault_echo_headers_quotes_the_request_headers(sim):
    add_fault(sim, path="^/stacks$", echo_headers=400, body="x" * 20)
    resp = api(sim, "GET", "/stacks")
    assert resp.status == 400 and resp.headers["Content-Type"].startswith("text/html")
    assert resp.raw.startswith(b"x" * 20 + b" Authorization: Bearer " + ADMIN.encode("ascii"))
    assert action_targets(sim) == []
    for bad in ({"echo_headers": "x"}, {"echo_headers": 400, "body": {"a": 1}}):
        assert add_fault(sim, **bad).status == 400, bad


def test_fault_ignore_page_serves_page_one_for_ever(sim):
    add_fault(sim, method="GET", path="/databases$", ignore_page=True, times=None)
    first = api(sim, "GET", BLOG_DBS + "?page=1").json
    third = api(sim, "GET", BLOG_DBS + "?page=3").json
    assert first["response"] == third["response"] and len(third["response"]) == 30
    assert third["pagination"] == {"next": 4, "current": 3}
    assert "pages" not in first["pagination"]
    assert add_fault(sim, ignore_page="yes").status == 400


@pytest.mark.parametrize(
    "kind, raw", [("html", b"<html><body><h1>Request accepted</h1></body></html>"), ("empty", b"")]
)
def test_fault_odd_answer_acts_then_answers_200_without_json(sim, kind, raw):
    add_fault(sim, method="POST", odd_answer=kind)
    resp = create_db(sim, "odd_db")
    assert resp.status == 200 and resp.raw == raw and resp.json is None
    assert action_targets(sim) == ["odd_db"]
    assert requests_log(sim)[0]["handled_status"] == 200


def test_fault_odd_answer_without_an_action_id(sim):
    add_fault(sim, method="POST", odd_answer="no_id")
    resp = create_db(sim, "odd_db")
    assert resp.status == 200 and "id" not in resp.json["response"]
    assert resp.json["response"]["action_type"] == "database_create"
    assert add_fault(sim, odd_answer="xml").status == 400


def test_fault_status_after_acting(sim):
    add_fault(sim, method="POST", status_after_acting=503, body="<html>Service Unavailable</html>")
    resp = create_db(sim, "acted_db")
    assert resp.status == 503 and resp.raw == b"<html>Service Unavailable</html>"
    assert action_targets(sim) == ["acted_db"]
    entry = requests_log(sim)[0]
    assert entry["status"] == 503 and entry["handled_status"] == 200
    assert add_fault(sim, status_after_acting="x").status == 400
    assert add_fault(sim, cut_body=True, body="x").status == 400


def test_throttling(sim):
    configure(sim, rate_limit=3)
    remaining = []
    for _unused in range(3):
        resp = api(sim, "GET", "/stacks")
        assert resp.status == 200 and resp.headers["X-RateLimit-Limit"] == "3"
        remaining.append(resp.headers["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    throttled = api(sim, "GET", "/stacks")
    assert throttled.status == 503 and throttled.json["error"] == "throttled"
    assert throttled.headers["X-RateLimit-Remaining"] == "0"
    assert api(sim, "GET", "/stacks", token=READ).status == 200
    control(sim, "POST", "/reset", {"config": {"rate_limit": 3}})
    assert api(sim, "GET", "/stacks").status == 200


def test_request_log(sim):
    api(sim, "GET", BLOG_DBS + "?page=2&x=1", token=READ)
    create_db(sim, "logged_db", ["user_abc123"], token=READ)
    create_db(sim, "logged_db", ["user_abc123"])
    api(sim, "GET", "/stacks", token="secret-wrong-token", account=2)
    api(sim, "GET", "/stacks.json", token=None)
    control(sim, "GET", "/health")
    log = requests_log(sim)
    assert [entry["seq"] for entry in log] == [1, 2, 3, 4, 5]
    first = log[0]
    assert (
        first["method"] == "GET" and first["path"] == "/stacks/%s/server_groups/62/databases" % BLOG
    )
    assert (
        first["query"] == {"page": "2", "x": "1"}
        and first["auth"] == "valid"
        and first["scopes_ok"] is True
    )
    assert (
        first["status"] == 200
        and first["body"] is None
        and first["account"] is None
        and first["fault"] is None
    )
    assert isinstance(first["time"], float)
    assert log[1]["scopes_ok"] is False and log[1]["status"] == 403
    assert log[1]["body"] == {"database_name": "logged_db", "database_user_ids": ["user_abc123"]}
    assert log[2]["scopes_ok"] is True and log[2]["status"] == 200
    assert log[3]["auth"] == "invalid" and log[3]["account"] == "2" and log[3]["status"] == 401
    assert log[4]["auth"] == "missing" and log[4]["path"] == "/stacks.json"
    text = json.dumps(log)
    for token in (ADMIN, READ, "secret-wrong-token"):
        assert token not in text
    assert token_free(sim)
    control(sim, "DELETE", "/requests")
    assert requests_log(sim) == []


def test_bulk_seed(sim):
    started = time.time()
    resp = control(
        sim,
        "POST",
        "/databases",
        {
            "stack_id": SHOP,
            "server_group_id": 44,
            "count": 3000,
            "prefix": "bulk_",
            "users": ["pg_app"],
        },
    )
    assert resp.status == 200, resp
    assert time.time() - started < 2.0
    names = resp.json["names"]
    assert len(names) == 3000 and names[0] == "bulk_0001" and names[-1] == "bulk_3000"
    page = api(sim, "GET", PG + "/databases").json
    assert (
        page["pagination"]["count"] == 3000
        and page["pagination"]["pages"] == 100
        and page["count"] == 30
    )
    assert page["response"][0]["name"] == "bulk_0001" and page["response"][0]["users"] == ["pg_app"]
    last = api(sim, "GET", PG + "/databases?page=100").json
    assert last["response"][-1]["name"] == "bulk_3000" and last["pagination"]["next"] is None
    again = control(
        sim, "POST", "/databases", {"stack_id": SHOP, "server_group_id": "44", "count": 1}
    )
    assert again.status == 400
    assert (
        control(
            sim, "POST", "/databases", {"stack_id": SHOP, "server_group_id": 43, "count": 1}
        ).status
        == 400
    )
    assert (
        control(
            sim, "POST", "/databases", {"stack_id": "nope", "server_group_id": 44, "count": 1}
        ).status
        == 404
    )
    assert (
        control(
            sim,
            "POST",
            "/databases",
            {"stack_id": SHOP, "server_group_id": 44, "count": 1, "users": ["x"]},
        ).status
        == 400
    )
    started = time.time()
    for number in range(1, 101):
        assert api(sim, "GET", PG + "/databases?page=%d" % number).status == 200
    assert time.time() - started < 5.0


def test_keep_alive(sim):
    with connection(sim.url) as (conn, prefix):
        headers = {"Authorization": "Bearer " + ADMIN}
        conn.request("GET", prefix + "/stacks", headers=headers)
        first = conn.getresponse()
        assert first.status == 200 and first.getheader("Content-Length") is not None
        first.read()
        sock = conn.sock
        assert sock is not None
        conn.request(
            "POST",
            prefix + MYSQL + "/databases",
            body=json.dumps({"database_name": "ka_db"}),
            headers=dict(headers, **{"Content-Type": "application/json"}),
        )
        second = conn.getresponse()
        assert second.status == 200
        second.read()
        conn.request("GET", prefix + "/nowhere", headers=headers)
        third = conn.getresponse()
        assert third.status == 404
        third.read()
        assert conn.sock is sock


def test_json_suffix(sim):
    assert api(sim, "GET", "/stacks.json").json["count"] == 3
    assert api(sim, "GET", "/stacks/%s.json" % SHOP).json["response"]["uid"] == SHOP
    assert api(sim, "GET", "/stacks/%s/server_groups.json" % SHOP).status == 200
    assert api(sim, "GET", MYSQL + "/databases.json?page=1").json["count"] == 2
    created = api(sim, "POST", MYSQL + "/databases.json", {"database_name": "json_db"})
    assert created.status == 200
    assert (
        api(
            sim, "GET", "/stacks/%s/actions/%d.json" % (SHOP, created.json["response"]["id"])
        ).status
        == 200
    )


def test_config_and_reset(sim):
    config = control(sim, "GET", "/config").json
    assert config == {
        "action_seconds": 0.3,
        "queue_seconds": 0.1,
        "list_lag_seconds": 0.2,
        "action_shape": "status",
        "profile": "endpoint",
        "group_types": None,
        "hold_actions": False,
        "hold_lists": False,
        "rate_limit": 3000,
        "backup_url_seconds": 600,
        "backup_url_encoding": "double",
    }
    updated = configure(sim, action_seconds=5, action_shape="legacy").json
    assert updated["action_seconds"] == 5.0 and updated["action_shape"] == "legacy"
    for bad in (
        {"nope": 1},
        {"action_seconds": -1},
        {"action_shape": "x"},
        {"profile": "x"},
        {"group_types": "no"},
        {"hold_actions": 1},
        {"hold_lists": "yes"},
        {"rate_limit": 0},
        {"rate_limit": True},
        {"queue_seconds": "1"},
    ):
        assert configure(sim, **bad).status == 400, bad
    create_db(sim, "before_reset")
    add_fault(sim, drop=True, path="^/nothing$")
    reset = control(sim, "POST", "/reset", {"config": {"list_lag_seconds": 0.0}})
    assert (
        reset.status == 200
        and reset.json["config"]["action_seconds"] == 0.3
        and reset.json["config"]["list_lag_seconds"] == 0.0
    )
    assert control(sim, "GET", "/faults").json["faults"] == []
    assert requests_log(sim) == []
    assert create_db(sim, "before_reset").json["response"]["id"] == 1001
    tiny = {
        "tokens": [{"token": "t1", "scopes": ["public", "admin"], "accounts": [7]}],
        "stacks": [
            {
                "uid": "s1",
                "name": "tiny",
                "account": 7,
                "server_groups": [
                    {
                        "id": 1,
                        "name": "db",
                        "type": "postgresql",
                        "generate": {"prefix": "g_", "count": 3},
                    }
                ],
            }
        ],
    }
    assert control(sim, "POST", "/reset", {"fixture": tiny}).status == 200
    assert api(sim, "GET", "/stacks").status == 401
    assert [
        d["name"]
        for d in api(sim, "GET", "/stacks/s1/server_groups/1/databases", token="t1").json[
            "response"
        ]
    ] == ["g_0001", "g_0002", "g_0003"]
    assert control(sim, "POST", "/reset", {"fixture": {"stacks": [{"uid": "x"}]}}).status == 400
    assert control(sim, "POST", "/reset", {"fixture_file": "default.json"}).status == 200
    assert api(sim, "GET", "/stacks").status == 200
    assert control(sim, "POST", "/reset", {"fixture_file": "/nonexistent.json"}).status == 400
    assert control(sim, "POST", "/reset", {"bogus": 1}).status == 400
    assert control(sim, "GET", "/health").json == {"ok": True}
    assert control(sim, "GET", "/unknown").status == 404


def test_state_shows_pending_and_unlisted(sim):
    configure(sim, action_seconds=0.2, queue_seconds=0.0, list_lag_seconds=5.0)
    action = create_db(sim, "hidden_db").json["response"]
    group = state_group(sim)
    assert [p["id"] for p in group["pending"]] == [action["id"]]
    assert group["pending"][0]["stack_id"] == SHOP and group["pending"][0]["server_group_id"] == 42
    wait_finished(sim, action["id"])
    group = state_group(sim)
    assert group["pending"] == []
    hidden = [db for db in group["databases"] if db["name"] == "hidden_db"][0]
    assert hidden["listed"] is False
    assert "hidden_db" not in listed_names(sim)
    assert create_db(sim, "hidden_db").status == 400


def test_simulator_object_api():
    fixture = {
        "tokens": [{"token": "tok", "scopes": ["public"], "accounts": [1]}],
        "stacks": [{"uid": "abc", "name": "one", "account": 1, "server_groups": []}],
    }
    with cloud66_sim.Simulator(fixture, rate_limit=10) as local:
        assert local.url.startswith("http://127.0.0.1:") and local.url.endswith("/api/3")
        assert local.control_url == local.url.replace("/api/3", "/_sim")
        assert api(local, "GET", "/stacks", token="tok").json["count"] == 1
    with pytest.raises(ValueError):
        cloud66_sim.Simulator(fixture, host="0.0.0.0")
    with pytest.raises(ValueError):
        cloud66_sim.Simulator(fixture, bogus=1)


def test_command_line(tmp_path):
    script = os.path.join(HERE, "cloud66_sim.py")
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [
            sys.executable,
            script,
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--action-seconds",
            "0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith(
            "Cloud66 simulator listening on http://127.0.0.1:"
        ) and line.rstrip().endswith("/api/3")
        port = int(line.rstrip().rsplit(":", 1)[1].split("/")[0])
        wait_for(port_file.exists, "the port file")
        assert int(port_file.read_text().strip()) == port
        control_url = "http://127.0.0.1:%d/_sim" % port
        assert request(control_url, "GET", "/health").json == {"ok": True}
        config = request(control_url, "GET", "/config").json
        assert config["action_seconds"] == 0.1 and config["queue_seconds"] == 0.3
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert proc.stderr.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    refused = subprocess.run(
        [sys.executable, script, "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert refused.returncode == 2 and "loopback" in refused.stderr and refused.stdout == ""


def test_backups_and_their_object_store(sim):
    backups = "/stacks/%s/backups" % SHOP
    listed = api(sim, "GET", backups + "?db_type=mysql", token=READ).json
    assert [b["id"] for b in listed["response"]] == [4103, 4104, 4102, 4101]
    assert api(sim, "GET", backups + "/4102", token=READ).json["response"]["verify_status"] == 2
    assert api(sim, "GET", backups + "/999", token=READ).status == 404
    files = api(sim, "GET", backups + "/4102/files", token=READ).json["response"]
    assert [item["id"] for item in files] == ["tar-aa", "tar-ab", "tar-ac"]
    url = api(sim, "GET", backups + "/4102/files/tar-ab", token=READ).json["response"]["public_url"]
    store = url.split("/store/", 1)[0]
    assert store.startswith("http://127.0.0.1:") and store != sim.base
    path = "/store/" + url.split("/store/", 1)[1]
    # As published, the signature comes percent-encoded twice: used as given, the store refuses it.
    assert "%25" in url and request(store, "GET", path).status == 403
    path = path.replace("%25", "%")
    assert request(store, "GET", path).raw == file_bytes(4102, "tar-ab", 5000)
    refused = request(store, "GET", path, headers={"Authorization": "Bearer " + READ})
    assert refused.status == 400 and b"InvalidArgument" in refused.raw
    configure(sim, backup_url_seconds=0)
    url = api(sim, "GET", backups + "/4102/files/tar-ab", token=READ).json["response"]["public_url"]
    expired = request(store, "GET", "/store/" + url.split("/store/", 1)[1].replace("%25", "%"))
    assert expired.status == 403 and b"Request has expired" in expired.raw
    seeded = control(
        sim, "POST", "/backups", {"stack_id": SHOP, "database_name": "x", "age_seconds": 5}
    )
    assert seeded.json == {"id": 4106, "size": 4096, "ids": [4106]}
    assert [b["id"] for b in control(sim, "GET", "/state").json["backups"]][-1] == 4106

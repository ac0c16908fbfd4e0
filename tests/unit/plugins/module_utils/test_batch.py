# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The batch planner's decisions, without HTTP: records and asks in, writes out (or a refusal)."""

from __future__ import annotations

import pytest

from ansible_collections.cloud66.cloud.plugins.module_utils._backups import DeleteGuard, parse_time
from ansible_collections.cloud66.cloud.plugins.module_utils._batch import (
    DATABASES,
    FIRST,
    LAST,
    DatabaseAsk,
    Refused,
    Request,
    UserAsk,
    check_asks,
    group_requests,
    listed_deletes,
    plan,
)
from ansible_collections.cloud66.cloud.plugins.module_utils._stacks import GroupKey

KEY = GroupKey("s1", "42")
OTHER_KEY = GroupKey("s2", "7")


def db(uid, name, users=None):
    record = {"uid": uid, "name": name}
    if users is not None:
        record["users"] = users
    return record


def user(uid, username, databases=None, user_type="application"):
    return {"uid": uid, "username": username, "user_type": user_type, "databases": databases or []}


def listed(*records):
    """The database list as the planner gets it: name -> every record listed under it."""
    found = {}
    for record in records:
        found.setdefault(record["name"], []).append(record)
    return found


def ask(*requests):
    """One group's asks: each request is (source, [DatabaseAsk], [UserAsk])."""
    groups = group_requests(
        [
            Request(source, KEY, list(databases), list(users))
            for source, databases, users in requests
        ]
    )
    assert len(groups) == 1
    return groups[0]


def writes(result):
    """Each write as (phase, kind, name, create or delete, grants)."""
    return [
        (
            write.phase,
            write.entry.kind,
            write.entry.name,
            "create" if write.create else "delete",
            write.grants,
        )
        for write in result.writes
    ]


def refusal(group, databases, users):
    with pytest.raises(Refused) as info:
        plan(group, databases, users)
    return str(info.value)


def test_create_keep_and_delete():
    group = ask(
        (
            None,
            [
                DatabaseAsk("keep"),
                DatabaseAsk("new"),
                DatabaseAsk("old", "absent"),
                DatabaseAsk("gone", "absent"),
            ],
            [],
        )
    )
    result = plan(group, listed(db("d1", "keep"), db("d2", "old")), [])
    assert writes(result) == [
        (DATABASES, "database", "new", "create", ()),
        (DATABASES, "database", "old", "delete", ()),
    ]
    assert [(entry.name, entry.changed) for entry in result.databases] == [
        ("keep", False),
        ("new", True),
        ("old", True),
        ("gone", False),
    ]
    assert [write.uid for write in result.writes] == [None, "d2"]
    assert not result.waits_between


def test_a_new_database_grants_listed_users_by_name_or_uid():
    group = ask(
        (
            None,
            [
                DatabaseAsk("a", database_users=("app",)),
                DatabaseAsk("b", database_user_ids=("u2",)),
            ],
            [],
        )
    )
    result = plan(group, listed(), [user("u1", "app"), user("u2", "reader")])
    assert writes(result) == [
        (DATABASES, "database", "a", "create", ("app",)),
        (DATABASES, "database", "b", "create", ("reader",)),
    ]
    assert result.user_uids == {"app": "u1", "reader": "u2"}


def test_a_new_user_and_a_new_database_that_grants_it_come_user_first():
    group = ask(
        (
            None,
            [DatabaseAsk("app_db", database_users=("app",))],
            [UserAsk("app", databases=("app_db", "shared"))],
        )
    )
    result = plan(group, listed(db("d9", "shared")), [])
    assert writes(result) == [
        (FIRST, "database user", "app", "create", ("shared",)),
        (DATABASES, "database", "app_db", "create", ("app",)),
    ]
    assert result.waits_between
    assert [write.entry.name for write in result.granted_new_users] == ["app"]
    assert result.database_uids == {"shared": "d9"}


def test_a_new_user_that_needs_a_new_database_comes_after_it():
    group = ask(
        (
            None,
            [DatabaseAsk("reports")],
            [UserAsk("reader", user_type="readonly", databases=("reports",))],
        )
    )
    result = plan(group, listed(), [])
    assert writes(result) == [
        (DATABASES, "database", "reports", "create", ()),
        (LAST, "database user", "reader", "create", ("reports",)),
    ]
    assert [write.entry.name for write in result.needed_new_databases] == ["reports"]
    assert result.writes[-1].user_type == "readonly"


def test_grants_that_cannot_be_ordered_are_refused():
    group = ask(
        (
            None,
            [DatabaseAsk("one", database_users=("tangled",)), DatabaseAsk("two")],
            [UserAsk("tangled", databases=("one", "two"))],
        )
    )
    message = refusal(group, listed(), [])
    assert "'tangled' asks for the new databases one, two, but only one grant it" in message


def test_a_database_granting_a_user_made_after_it_is_refused():
    group = ask(
        (
            None,
            [DatabaseAsk("one"), DatabaseAsk("two", database_users=("late",))],
            [UserAsk("late", databases=("one",))],
        )
    )
    assert "Database 'two' grants late, which asks for databases this task creates" in refusal(
        group, listed(), []
    )


def test_a_database_granting_a_user_the_run_deletes_is_refused():
    group = ask((None, [DatabaseAsk("one", database_users=("old",))], [UserAsk("old", "absent")]))
    assert "Database 'one' grants old, which this task deletes." in refusal(
        group, listed(), [user("u1", "old")]
    )


def test_a_new_user_asking_for_a_database_the_run_deletes_is_refused():
    group = ask(
        ("web1", [DatabaseAsk("old", "absent")], []),
        ("web2", [], [UserAsk("reader", databases=("old",))]),
    )
    assert "Database user 'reader' asks for old, which this task deletes." in refusal(
        group, listed(db("d1", "old")), []
    )


def test_missing_users_and_databases_are_refused_together():
    group = ask(
        (
            None,
            [DatabaseAsk("one", database_users=("nobody",))],
            [UserAsk("app", databases=("nowhere",))],
        )
    )
    message = refusal(group, listed(), [user("u1", "someone")])
    assert "'app' asks for nowhere, which server group 42 of stack s1 does not list" in message
    assert "has no database user named nobody. Its users: someone." in message


def test_uids_the_group_does_not_list_are_refused():
    group = ask((None, [DatabaseAsk("one", database_user_ids=("u404",))], []))
    assert "lists no database user with uid u404" in refusal(group, listed(), [])


@pytest.mark.parametrize(
    "databases, users, words",
    [
        (listed(db("d1", "twin"), db("d2", "twin")), [], "2 databases named 'twin' (uids d1, d2)"),
        (
            listed(),
            [user("u1", "twin"), user("u2", "twin")],
            "2 database users named 'twin' (uids u1, u2)",
        ),
    ],
)
def test_a_name_listed_twice_is_refused_naming_the_uids(databases, users, words):
    group = ask((None, [DatabaseAsk("twin", "absent")], [UserAsk("twin", "absent")]))
    assert words in refusal(group, databases, users)


def test_a_listed_record_without_a_uid_is_never_written():
    group = ask((None, [DatabaseAsk("broken", "absent")], []))
    assert "without a usable uid (got None)" in refusal(group, {"broken": [{"name": "broken"}]}, [])


def test_existing_items_that_differ_warn_and_are_kept():
    group = ask(
        (
            None,
            [DatabaseAsk("app_db", database_users=("app",))],
            [UserAsk("app", user_type="readonly", databases=("app_db",))],
        )
    )
    result = plan(
        group, listed(db("d1", "app_db", users=["other"])), [user("u1", "app", ["app_db"])]
    )
    assert result.writes == []
    assert len(result.warnings) == 2
    assert "Database 'app_db' already exists with users ['other'], not ['app']" in " ".join(
        result.warnings
    )
    assert "type 'application', not 'readonly'" in " ".join(result.warnings)


def test_an_existing_users_type_is_not_compared_when_none_is_asked():
    group = ask((None, [], [UserAsk("app")]))
    result = plan(group, listed(), [user("u1", "app", user_type="readonly")])
    assert result.writes == [] and result.warnings == []


def test_a_new_user_without_a_type_is_an_application_user():
    result = plan(ask((None, [], [UserAsk("app")])), listed(), [])
    assert [write.user_type for write in result.writes] == [None]


# --- asks of several hosts for one resolved group ------------------------------------------------------------------


def test_the_same_ask_from_several_hosts_is_one_write():
    group = ask(
        ("web1", [DatabaseAsk("app", database_users=("u",))], []),
        ("web2", [DatabaseAsk("app", "present", database_users=("u",))], []),
        ("web3", [DatabaseAsk("app")], []),
    )
    result = plan(group, listed(), [user("x1", "u")])
    assert writes(result) == [(DATABASES, "database", "app", "create", ("u",))]
    assert result.databases[0].sources == ["web1", "web2", "web3"]
    assert result.sources == ["web1", "web2", "web3"]


def test_users_given_by_name_and_by_uid_are_one_ask():
    group = ask(
        ("web1", [DatabaseAsk("app", database_users=("app_user",))], []),
        ("web2", [DatabaseAsk("app", database_user_ids=("u1",))], []),
    )
    assert len(plan(group, listed(), [user("u1", "app_user")]).writes) == 1


@pytest.mark.parametrize(
    "first, second, words",
    [
        (
            DatabaseAsk("app"),
            DatabaseAsk("app", "absent"),
            'web1 asks {"state": "present"}; web2 asks {"state": "absent"}',
        ),
        (
            DatabaseAsk("app", database_users=("a",)),
            DatabaseAsk("app", database_users=("b",)),
            '"database_users": ["a"]',
        ),
    ],
)
def test_databases_asked_for_differently_are_refused_naming_hosts(first, second, words):
    group = ask(("web1", [first], []), ("web2", [second], []))
    message = refusal(group, listed(db("d1", "app")), [user("x", "a"), user("y", "b")])
    assert message.startswith(
        "Database 'app' of server group 42 of stack s1 is asked for differently by the hosts of the play, "
        "so nothing was sent: "
    )
    assert words in message


def test_users_asked_for_with_other_types_are_refused():
    group = ask(
        ("web1", [], [UserAsk("app", user_type="readonly")]),
        ("web2", [], [UserAsk("app", user_type="application")]),
    )
    message = refusal(group, listed(), [])
    assert "Database user 'app' of server group 42 of stack s1 is asked for differently" in message
    assert 'web1 asks {"state": "present", "user_type": "readonly"}' in message


def test_deletes_agree_whatever_else_they_say():
    group = ask(
        ("web1", [DatabaseAsk("old", "absent")], []),
        ("web2", [DatabaseAsk("old", "absent", database_users=("a",))], []),
    )
    assert writes(plan(group, listed(db("d1", "old")), [])) == [
        (DATABASES, "database", "old", "delete", ())
    ]


def test_requests_are_grouped_by_resolved_key_in_first_named_order():
    groups = group_requests(
        [
            Request("web1", OTHER_KEY, [DatabaseAsk("a")], []),
            Request("web2", KEY, [DatabaseAsk("b")], []),
            Request("web3", OTHER_KEY, [DatabaseAsk("a")], []),
        ]
    )
    assert [(group.key, group.sources) for group in groups] == [
        (OTHER_KEY, ["web1", "web3"]),
        (KEY, ["web2"]),
    ]


@pytest.mark.parametrize(
    "databases, users, words",
    [
        ([{"name": "a"}, {"name": "a"}], [], "Database 'a' is listed more than once in databases."),
        (
            [{"name": "a", "database_users": ["x"], "database_user_ids": ["u"]}],
            [],
            "gives both database_user_ids and database_users",
        ),
        ([], [{"username": "x"}, {"username": "x"}], "Database user 'x' is listed more than once"),
        (
            [],
            [{"username": "x", "databases": [], "database_ids": []}],
            "gives both databases and database_ids",
        ),
    ],
)
def test_one_source_names_each_item_once_and_one_way(databases, users, words):
    assert words in check_asks(databases, users)


def test_guarded_deletes_need_a_recent_backup_of_each_listed_database():
    now = parse_time("2024-01-15T12:00:00Z")
    fresh = {
        "id": 1,
        "database_name": "fresh",
        "db_type": "mysql",
        "backup_date_iso": "2024-01-15T11:00:00Z",
        "backup_status": 0,
    }
    stale = dict(fresh, id=2, database_name="stale", backup_date_iso="2024-01-01T00:00:00Z")
    guard = DeleteGuard(3 * 3600, now, "mysql", (fresh, stale))
    group = ask(
        (
            None,
            [DatabaseAsk("fresh", "absent"), DatabaseAsk("missing", "absent"), DatabaseAsk("new")],
            [],
        )
    )
    listed_databases = listed(db("db_1", "fresh"), db("db_3", "stale"))
    # A database that does not exist needs no backup: only listed ones are read for.
    assert listed_deletes(group, listed_databases) == ["fresh"]
    assert writes(plan(group, listed_databases, [], guard)) == [
        (DATABASES, "database", "fresh", "delete", ()),
        (DATABASES, "database", "new", "create", ()),
    ]
    stale_group = ask((None, [DatabaseAsk("fresh", "absent"), DatabaseAsk("stale", "absent")], []))
    with pytest.raises(Refused) as refused:
        plan(stale_group, listed_databases, [], guard)
    assert str(refused.value) == (
        "Server group 42 of stack s1: Refusing to delete database 'stale': require_backup_within asks for a "
        "successful backup taken within the last 3 hours (10800 s), and its newest successful backup is backup 2 "
        "(mysql, taken 2024-01-01T00:00:00Z, 14 days ago, status Ok). Take a backup first (or download one with "
        "cloud66.cloud.cloud66_backup_download)."
    )

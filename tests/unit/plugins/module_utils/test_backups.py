# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Backups without HTTP: status words, the newest of each database, the download URL as it must be requested, and
whether a guarded delete may go ahead."""

from __future__ import annotations

import pytest

from ansible_collections.cloud66.cloud.plugins.module_utils._backups import (
    Backups,
    DeleteGuard,
    backup_record,
    engine_of,
    latest_of_each,
    parse_time,
    usable_url,
)
from ansible_collections.cloud66.cloud.plugins.module_utils._errors import Cloud66Error
from ansible_collections.cloud66.cloud.tests.unit.plugins.fake_api import (
    STACK,
    STACK_URL,
    add_pages,
)

NOW = parse_time("2024-01-15T12:00:00Z")
HOUR = 3600


def backup(backup_id, name="shop", when="2024-01-15T11:30:00Z", status=0, db_type="mysql"):
    return {
        "id": backup_id,
        "database_name": name,
        "db_type": db_type,
        "backup_date_iso": when,
        "backup_status": status,
    }


def guard(*backups, engine="mysql", within=HOUR):
    return DeleteGuard(within, NOW, engine, tuple(backups))


def test_status_codes_also_in_words():
    record = backup_record(dict(backup(1, status=1), restore_status=2, verify_status=9))
    assert (
        record["backup_status_text"],
        record["restore_status_text"],
        record["verify_status_text"],
    ) == (
        "Failed",
        "Restored",
        "Unknown (9)",
    )
    with pytest.raises(Cloud66Error, match="needs an integer 'id'"):
        backup_record({"id": "tar"})


def test_latest_is_the_newest_of_each_database_whatever_its_status():
    backups = [
        backup(1, when="2024-01-14T00:00:00Z"),
        backup(2, when="2024-01-15T00:00:00Z", status=1),
        backup(3, name="other", when="2024-01-13T00:00:00Z"),
        backup(4, db_type="postgresql", when="2024-01-12T00:00:00Z"),
    ]
    assert [record["id"] for record in latest_of_each(backups)] == [2, 3, 4]


def test_the_published_double_encoding_of_the_signature_is_undone_once():
    published = (
        "https://b.s3.amazonaws.com/k/f.tar?AWSAccessKeyId=A&Expires=1&Signature=C2%252F1%253D"
    )
    assert (
        usable_url(published)
        == "https://b.s3.amazonaws.com/k/f.tar?AWSAccessKeyId=A&Expires=1&Signature=C2%2F1%3D"
    )
    once = "https://b.s3.amazonaws.com/a%20b/f.tar?X-Amz-Signature=ab%2Fc"
    assert usable_url(once) == once


def test_engine_of_the_listed_group():
    groups = [{"id": 42, "type": "mysql"}, {"id": 44}]
    assert (engine_of(groups, "42"), engine_of(groups, "44"), engine_of(groups, "9")) == (
        "mysql",
        None,
        None,
    )


def test_a_recent_successful_backup_of_that_database_allows_the_delete():
    assert guard(backup(1)).refusal("shop") is None
    # A backup dated after "now" (clocks differ) counts as recent.
    assert guard(backup(1, when="2024-01-15T12:05:00Z")).refusal("shop") is None


@pytest.mark.parametrize(
    "backups, words",
    [
        ((), "Cloud66 lists no mysql backups of it"),
        (
            (backup(1, name="shop_v2"), backup(2, db_type="postgresql")),
            "Cloud66 lists no mysql backups of it",
        ),
        (
            (backup(1, status=1),),
            "no successful backup of it; its newest is backup 1 (mysql, taken 2024-01-15T11:30",
        ),
        (
            (backup(1, when="2024-01-15T10:00:00Z"),),
            "its newest successful backup is backup 1 (mysql, taken 2024-01-15T10:00:00Z, 2 hours ago, status Ok)",
        ),
        (
            (backup(1, when="2024-01-15T09:00:00Z"), backup(2, status=1)),
            "and a newer one failed: backup 2",
        ),
    ],
)
def test_a_delete_without_a_recent_successful_backup_is_refused_naming_what_there_is(
    backups, words
):
    refusal = guard(*backups).refusal("shop")
    assert refusal.startswith(
        "Refusing to delete database 'shop': require_backup_within asks for a successful"
    )
    assert "within the last 1 hour (3600 s)" in refusal and words in refusal


def test_without_the_groups_engine_backups_of_two_engines_cannot_be_told_apart():
    assert guard(backup(1), engine=None).refusal("shop") is None
    refusal = guard(backup(1), backup(2, db_type="postgresql"), engine=None).refusal("shop")
    assert "backups of a mysql and a postgresql database of that name" in refusal


def test_the_newest_successful_backup_of_a_name_two_engines_share_needs_db_type(api, client):
    backups = [
        backup(1, when="2024-01-15T10:00:00Z"),
        backup(2, db_type="postgresql", when="2024-01-15T09:00:00Z"),
        backup(3, when="2024-01-15T11:00:00Z", status=1),
    ]
    add_pages(api, STACK_URL + "/backups", [backups])
    found = Backups(client, STACK)

    with pytest.raises(
        Cloud66Error,
        match="backups of a mysql and a postgresql database named 'shop'; give db_type",
    ):
        found.newest_successful("shop")
    add_pages(api, STACK_URL + "/backups", [backups[:1] + backups[2:]], query={"db_type": "mysql"})
    assert found.newest_successful("shop", "mysql")["id"] == 1

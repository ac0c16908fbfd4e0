#!/usr/bin/python
# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloud66_backup_info
short_description: List the managed database backups of a Cloud66 stack
version_added: 1.1.0
description:
  - Returns the backups that Cloud66 manages for the databases of a stack, read over every page of Cloud66's list,
    newest first, optionally only those of one engine or one database, or only the newest of each database.
  - Each backup comes with every field Cloud66 sent, and its backup, restore and verification status codes also in
    words.
  - Reading backups needs only the C(public) scope, so a read-only token is enough.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - cloud66.cloud.cloud66
  - cloud66.cloud.cloud66.stack
  - cloud66.cloud.cloud66.info
options:
  db_type:
    description:
      - Return only the backups of this database engine. Cloud66 filters the list itself.
    type: str
    choices: [mysql, postgresql, redis, mongodb]
  database_name:
    description:
      - Return only the backups of the database with this name.
    type: str
  latest:
    description:
      - Return only the newest backup of each database (engine and name), whether it succeeded or not, so that a
        failed last backup shows.
    type: bool
    default: false
  files:
    description:
      - Add the files of each returned backup (one more request for each backup).
      - A large backup is split into segments that make up the backup when joined in order;
        M(cloud66.cloud.cloud66_backup_download) joins them.
    type: bool
    default: false
seealso:
  - module: cloud66.cloud.cloud66_backup_download
  - ref: ansible_collections.cloud66.cloud.docsite.backups
    description: Backups and safe deletes.
"""

EXAMPLES = r"""
- name: List the newest backup of each database of the shop
  cloud66.cloud.cloud66_backup_info:
    stack_name: shop
    environment: production
    latest: true
  register: latest_backups
  delegate_to: localhost

- name: Show when each database was last backed up, and how that went
  ansible.builtin.debug:
    msg: "{{ item.database_name }}: {{ item.backup_date_iso }} {{ item.backup_status_text }}"
  loop: "{{ latest_backups.backups }}"

- name: List every MySQL backup of one database, with its files
  cloud66.cloud.cloud66_backup_info:
    stack_id: 5999b763474b0eafa5fafb64bff0ba80
    db_type: mysql
    database_name: app_production
    files: true
  register: app_backups
  delegate_to: localhost
"""

RETURN = r"""
backups:
  description:
    - The backups that match, newest first (by C(backup_date_iso), then by id), with every field Cloud66 sent.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The backup's id.
      type: int
      sample: 4153
    db_type:
      description: The database engine.
      type: str
      sample: mysql
    database_name:
      description: The name of the database backed up.
      type: str
      sample: app_production
    backup_date_iso:
      description: When the backup was taken.
      type: str
      sample: "2024-01-15T10:30:00Z"
    backup_status:
      description: The backup's status code (0 when it succeeded).
      type: int
      sample: 0
    backup_status_text:
      description: The backup's status in words, as Cloud66's own client shows it (V(Ok), V(Failed)).
      type: str
      sample: Ok
    restore_status:
      description: The status code of the last restore from this backup.
      type: int
      sample: 0
    restore_status_text:
      description: The restore status in words (V(Not restored), V(Restoring), V(Restored), V(Restore failed)).
      type: str
      sample: Not restored
    verify_status:
      description: The status code of the backup's verification.
      type: int
      sample: 2
    verify_status_text:
      description:
        - The verification status in words (V(Not verified), V(Verifying), V(Verified), V(Verification failed),
          V(Unable to verify)).
      type: str
      sample: Verified
    backup_size:
      description: The size of the backup in bytes, as Cloud66 reports it.
      type: int
      sample: 1024000000
    storage_path:
      description: Where Cloud66 stores the backup's files.
      type: str
    files:
      description: The backup's files in the order they are joined, each with its C(id) and C(name).
      returned: with O(files=true)
      type: list
      elements: dict
      sample: [{"id": "tar-aa", "name": "app_production.tar-aa"}, {"id": "tar-ab", "name": "app_production.tar-ab"}]
"""

from ansible_collections.cloud66.cloud.plugins.module_utils._backups import (
    DB_TYPES,
    Backups,
    backups_of,
    latest_of_each,
    newest_first,
)
from ansible_collections.cloud66.cloud.plugins.module_utils._module import Cloud66Module


class Cloud66BackupInfo(Cloud66Module):
    def check_module_params(self):
        name = self.params["database_name"]
        if name is not None and not name.strip():
            return "database_name must not be empty."
        return None

    def gather(self):
        backups = Backups(self.client, self.stack_id())
        found = backups.all(self.params["db_type"])
        name = self.params["database_name"]
        found = backups_of(found, name) if name is not None else newest_first(found)
        if self.params["latest"]:
            found = latest_of_each(found)
        if self.params["files"]:
            for record in found:
                record["files"] = backups.files(record["id"])
        self.result["backups"] = found


def main():
    module = Cloud66BackupInfo.define_stack_module(
        dict(
            db_type=dict(type="str", choices=list(DB_TYPES)),
            database_name=dict(type="str"),
            latest=dict(type="bool", default=False),
            files=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    info = Cloud66BackupInfo(module)
    info.execute(info.gather)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloud66_database
short_description: Create or delete a database in a Cloud66 server group
version_added: 1.0.0
description:
  - Ensures that one database exists, or does not exist, in a MySQL or PostgreSQL server group of a Cloud66 stack.
  - The module is idempotent. It looks the database up by name (or uid) in the group's database list before acting,
    and sends nothing when the database is already as requested.
  - Creating and deleting are asynchronous in Cloud66. With O(wait=true) the module waits until the action has
    finished and the database list shows the result, all within one O(wait_timeout) budget.
  - Cloud66 cannot change the users, charset or collation of an existing database. When O(database_user_ids) differ
    from the users of an existing database the module warns and changes nothing.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - cloud66.cloud.cloud66
  - cloud66.cloud.cloud66.server_group
  - cloud66.cloud.cloud66.state
options:
  name:
    description:
      - The name of the database.
      - Required with O(state=present). With O(state=absent), give O(name) or O(uid).
      - Must not be empty and must be at most 63 ASCII characters without spaces, slashes,
        C(..), C(?), C(#), C(;) or C(%). Cloud66 may refuse further names; its reason is shown then.
    type: str
    aliases: [database_name]
  uid:
    description:
      - The uid of the database, such as C(db_abc123).
      - With O(state=absent) it may replace O(name). When both are given they must name the same database.
    type: str
  state:
    description:
      - Whether the database should exist.
      - V(absent) permanently deletes the database and all of its data; see O(require_backup_within).
    type: str
    choices: [present, absent]
    default: present
  require_backup_within:
    description:
      - With O(state=absent), refuse to delete the database unless Cloud66 lists a successful backup of that very
        database (the same name, and the engine of its server group) taken no more than this many seconds ago.
      - Checked before any write, in check mode too; the task fails naming the newest backup seen, or saying there
        is none. A database that does not exist needs no backup.
      - Costs one read of the stack's backup list of that engine (every page), and of its server groups when the
        group was given by id.
    type: int
    version_added: 1.1.0
  database_user_ids:
    description:
      - Uids of the database users to grant access to a new database, such as C(user_abc123).
      - Used only when the database is created. Cloud66 cannot change the users of an existing database.
      - Mutually exclusive with O(database_users).
    type: list
    elements: str
  database_users:
    description:
      - Usernames of the database users to grant access to a new database, instead of O(database_user_ids).
      - Each must be a database user of the server group; the module fails before creating anything otherwise.
    type: list
    elements: str
seealso:
  - module: cloud66.cloud.cloud66_database_info
  - module: cloud66.cloud.cloud66_backup_info
  - module: cloud66.cloud.cloud66_backup_download
"""

EXAMPLES = r"""
- name: Ensure the shop's production database exists
  cloud66.cloud.cloud66_database:
    api_token: "{{ lookup('ansible.builtin.env', 'CLOUD66_API_TOKEN') }}"
    stack_id: 5999b763474b0eafa5fafb64bff0ba80
    server_group_id: "42"
    name: app_production
    database_user_ids:
      - user_abc123
  delegate_to: localhost

- name: Start creating a database without waiting for Cloud66 to finish
  cloud66.cloud.cloud66_database:
    stack_id: 5999b763474b0eafa5fafb64bff0ba80
    server_group_id: "42"
    name: reports
    wait: false
  register: started
  delegate_to: localhost

- name: Delete a database by its uid
  cloud66.cloud.cloud66_database:
    stack_id: 5999b763474b0eafa5fafb64bff0ba80
    server_group_id: "42"
    uid: db_abc123
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
database:
  description:
    - The database as Cloud66 lists it, with every field Cloud66 sent.
    - Cloud66 documents two shapes for a database. Where it sends the other spelling, the fields below are added
      with the value of C(database_name), C(encoding) and C(created_at_iso); C(users) is there only when Cloud66
      lists it.
    - Empty when there is no such database, after a delete, or when a new database is not listed yet (O(wait=false)
      or check mode).
  returned: always
  type: dict
  contains:
    uid:
      description: The database's uid.
      type: str
      sample: db_abc123
    name:
      description: The database's name.
      type: str
      sample: app_production
    charset:
      description: The character set.
      type: str
      sample: utf8mb4
    collation:
      description: The collation.
      type: str
      sample: utf8mb4_unicode_ci
    size_bytes:
      description: The size of the database in bytes.
      type: int
      sample: 104857600
    created_at:
      description: When the database was created.
      type: str
      sample: "2023-01-15T10:30:00Z"
    users:
      description: The usernames of the database users that can access it.
      returned: when Cloud66 lists them
      type: list
      elements: str
      sample: [app_user, readonly_user]
action:
  description:
    - The Cloud66 asynchronous action that this run started, as last seen. Empty when no action was started.
    - On a failed action the task fails and this holds the action with its C(finished_message).
  returned: always
  type: dict
  sample:
    id: 792
    status: completed
    action_type: database_create
    resource_type: database
    finished_success: true
    finished_message: Completed successfully
"""

from ansible_collections.cloud66.cloud.plugins.module_utils._backups import engine_of, guard_for
from ansible_collections.cloud66.cloud.plugins.module_utils._databases import (
    name_problem,
    users_warning,
)
from ansible_collections.cloud66.cloud.plugins.module_utils._module import Cloud66Module


class Cloud66Database(Cloud66Module):
    def __init__(self, module):
        super().__init__(module)
        self.result.update(database={}, action={})

    def check_module_params(self):
        name = self.params["name"]
        if name is not None or self.params["state"] == "present":
            problem = name_problem(name)
            if problem:
                return "The database name %r %s." % (name, problem)
        if self.params["uid"] is not None and not self.params["uid"].strip():
            return "uid must not be empty."
        within = self.params["require_backup_within"]
        if within is not None and within < 1:
            return "require_backup_within must be a positive number of seconds, got %d." % within
        return None

    def present(self):
        group = self.server_group()
        record = group.databases.find(name=self.params["name"])
        self._check_uid(record)
        if record:
            warning = users_warning(
                record,
                group.requested_usernames(
                    self.params["database_users"], self.params["database_user_ids"]
                ),
            )
            if warning:
                self.warn(warning)
            self.result["database"] = record
            self.set_diff(record, record)
            return
        user_ids = group.requested_user_ids(
            self.params["database_users"], self.params["database_user_ids"]
        )
        if self.module._diff:
            # The record lists usernames, so the predicted record does too (database_user_ids are uids).
            usernames = group.requested_usernames(
                self.params["database_users"], self.params["database_user_ids"]
            )
            self.set_diff({}, {"name": self.params["name"], "users": usernames or []})
        if self.module.check_mode:
            self.result["changed"] = True
            return
        if self.follow(group, *group.databases.create(self.params["name"], user_ids)):
            self.result["database"] = group.databases.wait_listed(
                self.params["name"], self.deadline
            )
            self.set_diff({}, self.result["database"])

    def absent(self):
        group = self.server_group()
        uid = self.params["uid"]
        record = (
            group.databases.find(uid=uid) if uid else group.databases.find(name=self.params["name"])
        )
        self._check_uid(record)
        if not record:
            self.set_diff({}, {})
            return
        self._check_backup(group, record)
        self.set_diff(record, {})
        if self.module.check_mode:
            self.result["changed"] = True
            return
        if self.follow(group, *group.databases.delete(record.get("uid"))):
            group.databases.wait_unlisted(record["uid"], self.deadline)

    def _check_backup(self, group, record):
        """With require_backup_within, fail before any write unless the database has a recent successful backup."""
        within = self.params["require_backup_within"]
        if within is None:
            return
        engine = engine_of(self.resolver.groups(group.stack_id), group.server_group_id)
        refusal = guard_for(self.client, group.stack_id, engine, within).refusal(record["name"])
        if refusal:
            self.fail(refusal)

    def _check_uid(self, record):
        """Fail, before anything changes, when name and uid point at different databases."""
        name, uid = self.params["name"], self.params["uid"]
        if not (name and uid):
            return
        if record and (record.get("name") != name or record.get("uid") != uid):
            self.fail(
                "uid %s and name %r do not name the same database: Cloud66 lists %s as %r."
                % (uid, name, record.get("uid"), record.get("name"))
            )
        if not record and self.params["state"] == "present":
            self.fail(
                "uid %s was given with name %r, but no database of that name exists; a new database gets its uid "
                "from Cloud66. Leave uid out to create it." % (uid, name)
            )


def main():
    module = Cloud66Database.define_module(
        dict(
            name=dict(type="str", aliases=["database_name"]),
            uid=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            database_user_ids=dict(type="list", elements="str"),
            database_users=dict(type="list", elements="str"),
            require_backup_within=dict(type="int"),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=600),
        ),
        required_if=[("state", "present", ["name"]), ("state", "absent", ["name", "uid"], True)],
        mutually_exclusive=[("database_user_ids", "database_users")],
        supports_check_mode=True,
    )
    database = Cloud66Database(module)
    database.execute(database.present if module.params["state"] == "present" else database.absent)


if __name__ == "__main__":
    main()

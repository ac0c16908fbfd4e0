#!/usr/bin/python
# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloud66_database_user
short_description: Create or delete a database user in a Cloud66 server group, or change its password
version_added: 1.0.0
description:
  - Ensures that one database user exists, or does not exist, in a MySQL or PostgreSQL server group of a Cloud66
    stack. Cloud66 generates the user's password.
  - The module is idempotent. It looks the user up by username in the group's user list before acting, and sends
    nothing when the user is already as requested.
  - Creating, deleting and changing the password are asynchronous in Cloud66. With O(wait=true) the module waits
    until the action has finished and the user list shows the result, all within one O(wait_timeout) budget.
  - Cloud66 cannot change the databases or the type of an existing user. When they differ from the requested ones
    the module warns and changes nothing.
  - The password is never part of the result unless O(return_password=true). Set C(no_log) on a task that asks for
    it, so that Ansible does not print the result.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - cloud66.cloud.cloud66
  - cloud66.cloud.cloud66.server_group
  - cloud66.cloud.cloud66.state
attributes:
  diff_mode:
    details: The diff never shows a password.
options:
  username:
    description:
      - The username of the database user.
      - Must not be empty and must be at most 63 ASCII characters without spaces, slashes,
        C(..), C(?), C(#), C(;) or C(%). Cloud66 may refuse further names; its reason is shown then.
    type: str
    required: true
  state:
    description:
      - Whether the user should exist.
      - V(absent) deletes the user and removes it from every database.
    type: str
    choices: [present, absent]
    default: present
  user_type:
    description:
      - The type of a new user. Cloud66 documents V(application) and V(readonly), and refuses types it does not support.
      - Used only when the user is created; the module warns when an existing user has another type.
    type: str
    default: application
  databases:
    description:
      - Names of the databases of the server group to grant the new user access to.
      - Used only when the user is created. Cloud66 cannot change the databases of an existing user; the module
        warns when they differ.
      - Each must be a database of the server group; the module fails before creating anything otherwise.
      - Mutually exclusive with O(database_ids).
    type: list
    elements: str
  database_ids:
    description:
      - Uids of the databases to grant the new user access to, such as C(db_abc123), instead of O(databases).
    type: list
    elements: str
  regenerate_password:
    description:
      - With V(true), an existing user gets a new password from Cloud66 and the task reports C(changed).
      - Has no effect on a user that this task creates, which gets a fresh password anyway.
    type: bool
    default: false
  return_password:
    description:
      - Return the user's password as RV(password), read with Cloud66's C(show_password) once the user exists or the
        password change has finished. Reading passwords needs edit permission on the stack for the token's user,
        an account permission in Cloud66, not a token scope.
      - Set C(no_log=true) on the task, or Ansible prints the password with the result.
      - With V(false) no password is read and none appears in the result, the diff or verbose output.
      - With O(wait=false) a password that is still being made is not returned; the module warns then.
    type: bool
    default: false
seealso:
  - module: cloud66.cloud.cloud66_database_user_info
  - module: cloud66.cloud.cloud66_database
"""

EXAMPLES = r"""
- name: Ensure the application's user, with access to its database
  cloud66.cloud.cloud66_database_user:
    stack_name: shop
    environment: production
    server_group_type: mysql
    username: shop_app
    databases: [shop_production]
  delegate_to: localhost

- name: Read the password for the application's configuration
  cloud66.cloud.cloud66_database_user:
    stack_name: shop
    environment: production
    server_group_type: mysql
    username: shop_app
    return_password: true
  delegate_to: localhost
  register: shop_app_user
  no_log: true

- name: Give a read-only user a new password
  cloud66.cloud.cloud66_database_user:
    stack_id: 5999b763474b0eafa5fafb64bff0ba80
    server_group_id: "42"
    username: readonly_user
    regenerate_password: true
  delegate_to: localhost

- name: Delete a user
  cloud66.cloud.cloud66_database_user:
    stack_id: 5999b763474b0eafa5fafb64bff0ba80
    server_group_id: "42"
    username: old_report_user
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
user:
  description:
    - The user as Cloud66 lists it, without its password.
    - Empty when there is no such user, after a delete, or when a new user is not listed yet (O(wait=false) or check
      mode).
  returned: always
  type: dict
  contains:
    uid:
      description: The user's uid.
      type: str
      sample: user_abc123
    username:
      description: The username.
      type: str
      sample: shop_app
    user_type:
      description: The type of the user.
      type: str
      sample: application
    databases:
      description: The names of the databases the user can access.
      type: list
      elements: str
      sample: [shop_production]
    created_at:
      description: When the user was created.
      type: str
      sample: "2023-01-15T10:30:00Z"
action:
  description:
    - The Cloud66 asynchronous action that this run started, as last seen. Empty when no action was started.
    - On a failed action the task fails and this holds the action with its C(finished_message).
  returned: always
  type: dict
  sample:
    id: 801
    status: completed
    action_type: database_user_create
    resource_type: database_user
    finished_success: true
    finished_message: Completed successfully
password:
  description: The user's password.
  returned: when O(return_password=true) and the user exists (after the wait, when one was needed)
  type: str
  sample: Yh3xzW8q
"""

from ansible_collections.cloud66.cloud.plugins.module_utils._databases import name_problem
from ansible_collections.cloud66.cloud.plugins.module_utils._module import Cloud66Module
from ansible_collections.cloud66.cloud.plugins.module_utils._users import (
    user_warning,
    without_password,
)


class Cloud66DatabaseUser(Cloud66Module):
    def __init__(self, module):
        super().__init__(module)
        self.result.update(user={}, action={})

    def check_module_params(self):
        username = self.params["username"]
        problem = name_problem(username)
        if problem:
            return "The username %r %s." % (username, problem)
        if not self.params["user_type"].strip():
            return "user_type must not be empty."
        for option in ("databases", "database_ids"):
            if any(not value.strip() for value in self.params[option] or []):
                return "%s must not hold empty entries." % option
        return None

    def present(self):
        group = self.server_group()
        users = group.users
        record = users.find(username=self.params["username"])
        if record:
            self._existing(group, record)
            return
        database_ids = self._requested_ids(group)
        if self.module._diff:
            self.set_diff(
                {},
                {
                    "username": self.params["username"],
                    "user_type": self.params["user_type"],
                    "databases": self._requested_names(group) or [],
                },
            )
        if self.module.check_mode:
            self.result["changed"] = True
            return
        action, acted = users.create(
            self.params["username"], self.params["user_type"], database_ids
        )
        if self.follow(group, action, acted):
            record = users.wait_listed(self.params["username"], self.deadline)
            self.result["user"] = without_password(record)
            self.set_diff({}, self.result["user"])
            self._read_password(users)
        else:
            self._password_not_ready()

    def _existing(self, group, record):
        warning = user_warning(record, self._requested_names(group), self.params["user_type"])
        if warning:
            self.warn(warning)
        users = group.users
        self.result["user"] = without_password(record)
        if not self.params["regenerate_password"]:
            self.set_diff(self.result["user"], self.result["user"])
            self._read_password(users)
            return
        self.set_diff(self.result["user"], dict(self.result["user"], password_regenerated=True))
        if self.module.check_mode:
            self.result["changed"] = True
            return
        if self.follow(group, *users.regenerate_password(record["uid"])):
            self._read_password(users)
        else:
            self._password_not_ready()

    def absent(self):
        group = self.server_group()
        users = group.users
        record = users.find(username=self.params["username"])
        if not record:
            self.set_diff({}, {})
            return
        self.result["user"] = without_password(record)
        self.set_diff(self.result["user"], {})
        if self.module.check_mode:
            self.result["changed"] = True
            return
        if self.follow(group, *users.delete(record["uid"])):
            users.wait_unlisted(record["uid"], self.deadline)
        self.result["user"] = {}

    def _read_password(self, users):
        """Put the password into the result, only when the task asked for it."""
        if not self.params["return_password"]:
            return
        password = users.password(self.params["username"])
        if password is None:
            self.fail(
                "Cloud66 listed database user %r without a password although show_password was asked for."
                % self.params["username"]
            )
        self.result["password"] = password

    def _password_not_ready(self):
        if self.params["return_password"]:
            self.warn(
                "The password of %r is not returned: with wait=false it may still be in the making. Read it "
                "later with return_password." % self.params["username"]
            )

    def _requested_names(self, group):
        if self.params["databases"] is not None:
            return self.params["databases"]
        return (
            None
            if self.params["database_ids"] is None
            else group.database_names(self.params["database_ids"])
        )

    def _requested_ids(self, group):
        if self.params["databases"] is not None:
            return group.database_ids(self.params["databases"])
        return self.params["database_ids"] or []


def main():
    module = Cloud66DatabaseUser.define_module(
        dict(
            username=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            user_type=dict(type="str", default="application"),
            databases=dict(type="list", elements="str"),
            database_ids=dict(type="list", elements="str"),
            regenerate_password=dict(type="bool", default=False, no_log=False),
            return_password=dict(type="bool", default=False, no_log=False),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=600),
        ),
        mutually_exclusive=[("databases", "database_ids")],
        supports_check_mode=True,
    )
    user = Cloud66DatabaseUser(module)
    user.execute(user.present if module.params["state"] == "present" else user.absent)


if __name__ == "__main__":
    main()

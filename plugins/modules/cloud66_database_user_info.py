#!/usr/bin/python
# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloud66_database_user_info
short_description: List the database users of a Cloud66 server group
version_added: 1.0.0
description:
  - Returns the database users of a MySQL or PostgreSQL server group of a Cloud66 stack as one flat list, read over
    all pages of the Cloud66 list, optionally filtered by username.
  - Passwords are left out unless O(show_password=true).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - cloud66.cloud.cloud66
  - cloud66.cloud.cloud66.server_group
  - cloud66.cloud.cloud66.info
options:
  username:
    description:
      - Return only the user with this username.
    type: str
  show_password:
    description:
      - Add each user's C(password), as Cloud66's C(show_password) gives it. This needs edit permission on the
        stack for the token's user, an account permission in Cloud66, not a token scope; Cloud66 answers 403
        otherwise and the task fails saying so.
      - Set C(no_log=true) on the task, or Ansible prints the passwords with the result.
    type: bool
    default: false
seealso:
  - module: cloud66.cloud.cloud66_database_user
"""

EXAMPLES = r"""
- name: List every database user of the group
  cloud66.cloud.cloud66_database_user_info:
    stack_id: 5999b763474b0eafa5fafb64bff0ba80
    server_group_id: "42"
  register: listing
  delegate_to: localhost

- name: Show the usernames
  ansible.builtin.debug:
    msg: "{{ listing.users | map(attribute='username') | list }}"

- name: Read one user's password for a later task
  cloud66.cloud.cloud66_database_user_info:
    stack_id: 5999b763474b0eafa5fafb64bff0ba80
    server_group_id: "42"
    username: app_user
    show_password: true
  register: app_user
  delegate_to: localhost
  no_log: true
"""

RETURN = r"""
users:
  description: The database users of the server group that match the filter, in the order Cloud66 lists them.
  returned: always
  type: list
  elements: dict
  contains:
    uid:
      description: The user's uid.
      type: str
      sample: user_abc123
    username:
      description: The username.
      type: str
      sample: app_user
    user_type:
      description: The type of the user.
      type: str
      sample: application
    databases:
      description: The names of the databases the user can access.
      type: list
      elements: str
      sample: [app_production]
    created_at:
      description: When the user was created.
      type: str
      sample: "2023-01-15T10:30:00Z"
    password:
      description: The user's password.
      type: str
      returned: when O(show_password=true)
      sample: Yh3xzW8q
"""

from ansible_collections.cloud66.cloud.plugins.module_utils._module import Cloud66Module
from ansible_collections.cloud66.cloud.plugins.module_utils._users import (
    SHOW_PASSWORD,
    without_password,
)


class Cloud66DatabaseUserInfo(Cloud66Module):
    def check_module_params(self):
        for option in ("username",):
            if self.params[option] is not None and not self.params[option].strip():
                return "%s must not be empty." % option
        return None

    def gather(self):
        show = self.params["show_password"]
        username = self.params["username"]
        users = self.server_group().users.all(SHOW_PASSWORD if show else None)
        self.result["users"] = [
            user if show else without_password(user)
            for user in users
            if username is None or user.get("username") == username
        ]


def main():
    module = Cloud66DatabaseUserInfo.define_module(
        dict(
            username=dict(type="str"),
            show_password=dict(type="bool", default=False, no_log=False),
        ),
        supports_check_mode=True,
    )
    info = Cloud66DatabaseUserInfo(module)
    info.execute(info.gather)


if __name__ == "__main__":
    main()

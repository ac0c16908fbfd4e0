#!/usr/bin/python
# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloud66_database_info
short_description: List the databases of a Cloud66 server group
version_added: 1.0.0
description:
  - Returns the databases of a MySQL or PostgreSQL server group of a Cloud66 stack as one flat list, read over all
    pages of the Cloud66 list, optionally filtered by name or uid.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - cloud66.cloud.cloud66
  - cloud66.cloud.cloud66.server_group
  - cloud66.cloud.cloud66.info
options:
  name:
    description:
      - Return only the database with this name.
    type: str
    aliases: [database_name]
  uid:
    description:
      - Return only the database with this uid.
    type: str
seealso:
  - module: cloud66.cloud.cloud66_database
"""

EXAMPLES = r"""
- name: List every database of the group
  cloud66.cloud.cloud66_database_info:
    stack_id: 5999b763474b0eafa5fafb64bff0ba80
    server_group_id: "42"
  register: listing
  delegate_to: localhost

- name: Show their names
  ansible.builtin.debug:
    msg: "{{ listing.databases | map(attribute='name') | list }}"

- name: Look one database up by name
  cloud66.cloud.cloud66_database_info:
    stack_id: 5999b763474b0eafa5fafb64bff0ba80
    server_group_id: "42"
    name: app_production
  register: found
  delegate_to: localhost
"""

RETURN = r"""
databases:
  description:
    - The databases of the server group that match the filters, in the order Cloud66 lists them, with every field
      Cloud66 sent.
    - Cloud66 documents two shapes for a database. Where it sends the other spelling, the fields below are added
      with the value of C(database_name), C(encoding) and C(created_at_iso); C(users) is there only when Cloud66
      lists it.
  returned: always
  type: list
  elements: dict
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
"""

from ansible_collections.cloud66.cloud.plugins.module_utils._module import Cloud66Module
from ansible_collections.cloud66.cloud.plugins.module_utils._records import database_names


class Cloud66DatabaseInfo(Cloud66Module):
    def check_module_params(self):
        for option in ("name", "uid"):
            if self.params[option] is not None and not self.params[option].strip():
                return "%s must not be empty." % option
        return None

    def gather(self):
        name, uid = self.params["name"], self.params["uid"]
        self.result["databases"] = [
            record
            for record in self.server_group().databases.all()
            if (name is None or name in database_names(record))
            and (uid is None or record.get("uid") == uid)
        ]


def main():
    module = Cloud66DatabaseInfo.define_module(
        dict(
            name=dict(type="str", aliases=["database_name"]),
            uid=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    info = Cloud66DatabaseInfo(module)
    info.execute(info.gather)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloud66_databases
short_description: Ensure many databases of a Cloud66 server group at once
version_added: 1.0.0
description:
  - Ensures a whole list of databases in one MySQL or PostgreSQL server group of a Cloud66 stack, at close to the
    fewest API requests possible. It reads the group's database list once (stopping at the page where the last
    requested name shows up, or at the end when one is missing), starts every needed create and delete without
    waiting on each, and then waits on all started actions together, polling them in turns.
  - A loop of M(cloud66.cloud.cloud66_database) reads the list once per item and waits on each action in turn;
    prefer this module, or the C(cloud66.cloud.databases) role built on it, to provision many databases.
  - Cloud66 refreshes its database list some time after an action finished. With O(wait=true) the module returns
    only once the list shows every database it created and none it deleted, so that the next task sees them, and a
    created database is returned as the list shows it. Reading for new databases starts at the last page, where
    Cloud66 lists them.
  - Run this module on the controller (C(hosts=localhost) or C(delegate_to=localhost)); it needs the Python
    C(requests) library there.
author:
  - cloud66.cloud maintainers (@cloud66-community)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - cloud66.cloud.cloud66
  - cloud66.cloud.cloud66.server_group
attributes:
  check_mode:
    support: full
    details: Check mode reports the same C(changed) as a real run and sends no create or delete request.
  diff_mode:
    support: full
  platform:
    platforms: all
options:
  databases:
    description:
      - The databases to ensure. Each name may appear once.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The name of the database, with the same rules as O(cloud66.cloud.cloud66_database#module:name).
        type: str
        required: true
      state:
        description:
          - Whether the database should exist. V(absent) permanently deletes it and its data.
        type: str
        choices: [present, absent]
        default: present
      database_user_ids:
        description:
          - Uids of the database users to grant access to the database when it is created.
        type: list
        elements: str
      database_users:
        description:
          - Usernames of the database users to grant access to the database when it is created, instead of
            O(databases[].database_user_ids).
        type: list
        elements: str
  wait:
    description:
      - Wait until every started action has finished and the database list shows the result.
      - With V(false) the module returns as soon as Cloud66 has accepted every request, with the started actions.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds in total the module may wait, for all actions together and for the list to catch up.
    type: int
    default: 600
seealso:
  - module: cloud66.cloud.cloud66_database
  - module: cloud66.cloud.cloud66_database_info
"""

EXAMPLES = r"""
- name: Ensure the shop's databases
  cloud66.cloud.cloud66_databases:
    stack_name: shop
    environment: production
    server_group_type: mysql
    databases:
      - name: app_production
        database_users: [app_user]
      - name: reports
        database_users: [app_user, readonly_user]
      - name: legacy_import
        state: absent
  delegate_to: localhost
  register: ensured

- name: Show what changed
  ansible.builtin.debug:
    msg: "{{ ensured.databases | selectattr('changed') | map(attribute='name') | list }}"
"""

RETURN = r"""
databases:
  description: One entry for each requested database, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The database's name.
      type: str
      sample: reports
    state:
      description: The requested state.
      type: str
      sample: present
    changed:
      description: Whether this run created or deleted the database (or would, in check mode).
      type: bool
      sample: true
    database:
      description:
        - The database as Cloud66 lists it, in the shape documented for M(cloud66.cloud.cloud66_database)'s
          RV(cloud66.cloud.cloud66_database#module:database) return value.
        - For a database this run created, the listed record once the list shows it (O(wait=true)), or only its
          name (O(wait=false) or check mode). Empty for a database that does not exist or that this run deleted.
      type: dict
      sample: {"uid": "db_abc123", "name": "app_production", "users": ["app_user"]}
    action:
      description: The action this run started for the database, as last seen. Empty when none was started.
      type: dict
      sample: {"id": 1001, "status": "completed", "action_type": "database_create"}
actions:
  description: Every action this run started, as last seen.
  returned: always
  type: list
  elements: dict
  sample: [{"id": 1001, "status": "completed", "action_type": "database_create", "finished_success": true}]
"""

from ansible_collections.cloud66.cloud.plugins.module_utils._actions import FAILED, action_outcome
from ansible_collections.cloud66.cloud.plugins.module_utils._client import Cloud66Error
from ansible_collections.cloud66.cloud.plugins.module_utils._records import action_name
from ansible_collections.cloud66.cloud.plugins.module_utils._databases import name_problem, users_warning
from ansible_collections.cloud66.cloud.plugins.module_utils._module import Cloud66Module


class Cloud66Databases(Cloud66Module):

    def __init__(self, module):
        super().__init__(module)
        self.result.update(databases=[], actions=[])
        self._started = []

    def check_params(self):
        seen = set()
        for item in self.params["databases"]:
            problem = name_problem(item["name"])
            if problem:
                return "The database name %r %s." % (item["name"], problem)
            if item["name"] in seen:
                return "Database %r is listed more than once in databases." % item["name"]
            if item["database_user_ids"] is not None and item["database_users"] is not None:
                return "Database %r gives both database_user_ids and database_users; give one." % item["name"]
            seen.add(item["name"])
        return super().check_params()

    def ensure(self):
        group = self.database_group()
        listed = group.named(item["name"] for item in self.params["databases"])
        entries = [self._plan(group, item, listed.get(item["name"], [])) for item in self.params["databases"]]
        # Usernames are resolved before anything is reported as changed: an unknown one fails the task as a no-op.
        user_ids = dict((item["name"], group.requested_user_ids(item["database_users"], item["database_user_ids"]))
                        for entry, item in zip(entries, self.params["databases"]) if entry["changed"] and entry["state"] == "present")
        self.result["databases"] = entries
        self.result["changed"] = any(entry["changed"] for entry in entries)
        self.set_diff(self._names(entries, before=True), self._names(entries, before=False))
        if self.module.check_mode or not self.result["changed"]:
            return
        # From here on "changed" means "Cloud66 acted", so that a failure part way reports only what happened.
        planned = [entry for entry in entries if entry["changed"]]
        records_before = dict((entry["name"], entry["database"]) for entry in planned)
        self.result["changed"] = False
        for entry in planned:
            entry["changed"] = False
        for entry in planned:
            try:
                self._start(group, entry, user_ids.get(entry["name"]))
            except Cloud66Error as exc:
                exc.message = "Database %r: %s" % (entry["name"], exc.message)
                raise
            self.result["changed"] = self.result["changed"] or entry["changed"]
            if entry["action"]:
                self.result["actions"].append(entry["action"])
        started = [entry for entry in entries if entry["action"]]
        self._started = started
        if not self.params["wait"]:
            return
        failed = self._wait_actions(group, started, records_before) if started else []
        self._settle(group, [entry for entry in planned if entry not in failed], records_before)
        if failed:
            self.fail("%d of %d Cloud66 actions failed: %s" % (len(failed), len(started), "; ".join(
                "%s %s (action %s): %s" % (action_name(entry["action"]), entry["name"], entry["action"].get("id"),
                                           entry["action"].get("finished_message") or "no message given") for entry in failed)))

    def _wait_actions(self, group, started, records_before):
        """Wait for every started action; returns the entries whose action failed, which then count as unchanged."""
        finished = self.waiter(group.stack_id).wait(self.result["actions"], stop_on_failure=False)
        for entry, action in zip(started, finished):
            entry["action"] = action
        self.result["actions"] = finished
        failed = [entry for entry in started if action_outcome(entry["action"]) == FAILED]
        for entry in failed:
            entry["changed"] = False
            entry["database"] = records_before[entry["name"]]
        self.result["changed"] = any(entry["changed"] for entry in self.result["databases"])
        return failed

    def _settle(self, group, entries, records_before):
        """Wait until the database list shows what this run asked for, so that the next task sees it; created
        entries then carry their listed record."""
        created = [entry for entry in entries if entry["state"] == "present"]
        deleted = [records_before[entry["name"]]["uid"] for entry in entries if entry["state"] == "absent"]
        listed = group.wait_settled([entry["name"] for entry in created], deleted, self.deadline)
        for entry in created:
            entry["database"] = listed[entry["name"]]

    def timed_out(self, actions):
        if not actions:
            return
        for entry, action in zip(self._started, actions):
            entry["action"] = action
        self.result["actions"] = actions

    def _plan(self, group, item, records):
        if len(records) > 1:
            self.fail("Server group lists %d databases named %r (uids %s); refusing to pick one."
                      % (len(records), item["name"], ", ".join(record.get("uid", "?") for record in records)))
        record = records[0] if records else {}
        warning = record and users_warning(record, group.requested_usernames(item["database_users"], item["database_user_ids"]))
        if warning:
            self.module.warn(warning)
        changed = bool(record) != (item["state"] == "present")
        return {"name": item["name"], "state": item["state"], "changed": changed, "database": record, "action": {}}

    @staticmethod
    def _names(entries, before):
        exists = [entry["name"] for entry in entries if bool(entry["database"]) != (entry["changed"] and not before)]
        return {"databases": sorted(exists)}

    @staticmethod
    def _start(group, entry, user_ids):
        if entry["state"] == "absent":
            action, entry["changed"] = group.delete(entry["database"]["uid"])
            entry["database"] = {}
        else:
            action, entry["changed"] = group.create(entry["name"], user_ids)
            entry["database"] = {"name": entry["name"]}
        entry["action"] = action or {}


def main():
    module = Cloud66Databases.define_module(
        dict(
            databases=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                state=dict(type="str", default="present", choices=["present", "absent"]),
                database_user_ids=dict(type="list", elements="str"),
                database_users=dict(type="list", elements="str"),
            )),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=600),
        ),
        supports_check_mode=True,
    )
    databases = Cloud66Databases(module)
    databases.execute(databases.ensure)


if __name__ == "__main__":
    main()

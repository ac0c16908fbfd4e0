#!/usr/bin/python
# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloud66_databases
short_description: Ensure many databases and database users of a Cloud66 server group at once
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
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - cloud66.cloud.cloud66
  - cloud66.cloud.cloud66.server_group
  - cloud66.cloud.cloud66.state
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
  database_users:
    description:
      - The database users to ensure in the same server group, in the same run. Each username may appear once.
      - The list of users is read once, like the list of databases. The writes are ordered so that a new database
        may grant a user this run creates, and a new user may ask for a database this run creates. First come the
        users whose databases exist already, and the deletes of users; then the databases; then the users that
        need databases created just before. A new user whose new databases all grant it in
        O(databases[].database_users) is made first, and those databases grant it.
      - Cloud66 cannot change a user's databases or a database's users later. A user that a new database grants while
        the user also needs another new database that does not grant it cannot be ordered; the module fails before
        any write then.
      - When a later step needs an earlier one's result (a new user's or a new database's uid), the module waits for
        it even with O(wait=false).
      - Existing users whose databases or type differ get a warning, as databases whose users differ do.
      - Passwords are never read or returned; use M(cloud66.cloud.cloud66_database_user) with
        O(cloud66.cloud.cloud66_database_user#module:return_password=true) for that.
    type: list
    elements: dict
    suboptions:
      username:
        description:
          - The username, with the same rules as O(cloud66.cloud.cloud66_database_user#module:username).
        type: str
        required: true
      state:
        description:
          - Whether the user should exist. V(absent) deletes it and removes it from every database.
        type: str
        choices: [present, absent]
        default: present
      user_type:
        description:
          - The type of a new user, such as V(application) or V(readonly).
        type: str
        default: application
      databases:
        description:
          - Names of the databases to grant a new user access to. Each must exist or be created by this task.
        type: list
        elements: str
      database_ids:
        description:
          - Uids of existing databases to grant a new user access to, instead of O(database_users[].databases).
        type: list
        elements: str
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

- name: Ensure an application's database and its user, each granted the other, in one run
  cloud66.cloud.cloud66_databases:
    stack_name: shop
    environment: production
    server_group_type: mysql
    databases:
      - name: billing
        database_users: [billing_app]
    database_users:
      - username: billing_app
        databases: [billing]
      - username: billing_reports
        user_type: readonly
        databases: [billing]
  delegate_to: localhost
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
database_users:
  description: One entry for each requested database user, in the order given.
  returned: when O(database_users) is given
  type: list
  elements: dict
  contains:
    username:
      description: The username.
      type: str
      sample: shop_app
    state:
      description: The requested state.
      type: str
      sample: present
    changed:
      description: Whether this run created or deleted the user (or would, in check mode).
      type: bool
      sample: true
    user:
      description:
        - The user as Cloud66 lists it, without its password; for a user this run created, as listed once the run
          waited for it. Empty for a user that does not exist.
      type: dict
      sample: {"uid": "user_abc123", "username": "shop_app", "user_type": "application", "databases": ["shop"]}
    action:
      description: The action this run started for the user, as last seen. Empty when none was started.
      type: dict
      sample: {"id": 1002, "status": "completed", "action_type": "database_user_create"}
actions:
  description: Every action this run started, as last seen.
  returned: always
  type: list
  elements: dict
  sample: [{"id": 1001, "status": "completed", "action_type": "database_create", "finished_success": true}]
"""

from ansible_collections.cloud66.cloud.plugins.module_utils._actions import FAILED, action_outcome
from ansible_collections.cloud66.cloud.plugins.module_utils._errors import Cloud66Error
from ansible_collections.cloud66.cloud.plugins.module_utils._databases import (
    name_problem,
    users_warning,
)
from ansible_collections.cloud66.cloud.plugins.module_utils._module import Cloud66Module
from ansible_collections.cloud66.cloud.plugins.module_utils._records import action_name
from ansible_collections.cloud66.cloud.plugins.module_utils._users import (
    user_warning,
    without_password,
)


class Plan:
    """What one run does, filled in step by step.

    ``entries`` holds the result entry of each database item and ``users`` the plan of each user item, in the order
    given; ``listed`` is what the one read of the database list found, ``grants`` the uid of each user a new
    database grants. ``writes`` and ``user_writes`` are what to create or delete, ``before`` the records of the
    databases to write as the run found them. ``started`` fills in as writes start, ``settled`` (the database writes
    the list was seen to show, in that order) and ``failed`` (the entries whose action failed) as the run waits.
    """

    def __init__(self, entries, users, listed, grants):
        self.entries = entries
        self.users = users
        self.listed = listed
        self.grants = grants
        self.writes = [entry for entry in entries if entry["changed"]]
        self.user_writes = [user for user in users if user["write"]]
        self.before = dict((entry["name"], entry["database"]) for entry in self.writes)
        self.started = []
        self.settled = []
        self.failed = []

    @property
    def user_entries(self):
        return [user["entry"] for user in self.users]


class Cloud66Databases(Cloud66Module):
    def __init__(self, module):
        super().__init__(module)
        self.result.update(databases=[], actions=[])
        if module.params["database_users"] is not None:
            self.result["database_users"] = []
        self._items = dict((item["name"], item) for item in module.params["databases"])
        self._plan = None

    def check_module_params(self):
        seen = set()
        for item in self.params["databases"]:
            problem = name_problem(item["name"])
            if problem:
                return "The database name %r %s." % (item["name"], problem)
            if item["name"] in seen:
                return "Database %r is listed more than once in databases." % item["name"]
            if item["database_user_ids"] is not None and item["database_users"] is not None:
                return (
                    "Database %r gives both database_user_ids and database_users; give one."
                    % item["name"]
                )
            seen.add(item["name"])
        seen = set()
        for item in self.params["database_users"] or []:
            problem = name_problem(item["username"])
            if problem:
                return "The username %r %s." % (item["username"], problem)
            if item["username"] in seen:
                return (
                    "Database user %r is listed more than once in database_users."
                    % item["username"]
                )
            if item["databases"] is not None and item["database_ids"] is not None:
                return (
                    "Database user %r gives both databases and database_ids; give one."
                    % item["username"]
                )
            seen.add(item["username"])
        return None

    def ensure(self):
        """Plan from one read of each list, start every write, wait for the actions and the lists, settle."""
        group = self.database_group()
        plan = self._plan = self.plan(group)
        if self.module.check_mode or not (plan.writes or plan.user_writes):
            return
        self.start(group, plan)
        if self.params["wait"]:
            self.wait(group, plan)
            self.settle(plan)

    def final_result(self):
        """``changed`` comes from the entries: what would change in check mode, else what Cloud66 acted on (so that
        a failure part way reports only what happened)."""
        entries = self.result.get("databases", []) + self.result.get("database_users", [])
        return dict(self.result, changed=any(entry["changed"] for entry in entries))

    def plan(self, group):
        """What to create and delete, from one read of each list. Users and databases are resolved here, before any
        write: an unknown one fails the task as a no-op. The result and the diff show the plan."""
        user_items = self.params["database_users"] or []
        wanted = set(self._items)
        wanted.update(name for item in user_items for name in item["databases"] or [])
        listed = group.named(wanted)
        entries = [
            self._plan_database(group, item, listed.get(item["name"], []))
            for item in self.params["databases"]
        ]
        new_databases = [
            entry for entry in entries if entry["changed"] and entry["state"] == "present"
        ]
        users = [self._plan_user(group, item, listed, new_databases) for item in user_items]
        plan = Plan(entries, users, listed, self._grants(group, new_databases, users))
        self.result["databases"] = entries
        if user_items:
            self.result["database_users"] = plan.user_entries
        self.set_diff(self._names(plan, before=True), self._names(plan, before=False))
        return plan

    def start(self, group, plan):
        """Send the writes: first the users whose databases exist and the deletes of users, then the databases, then
        the users that need databases created just before. From here on an entry's ``changed`` says that Cloud66
        acted."""
        for entry in plan.writes + plan.user_entries:
            entry["changed"] = False
        first = [user for user in plan.user_writes if user["phase"] == 1]
        self._start_users(group, first)
        granted = [
            user
            for user in first
            if user["item"]["state"] == "present" and user["item"]["username"] in plan.grants
        ]
        if granted:
            # New databases grant users made just now: they need the users' uids, which the user list gives.
            for username, record in self._wait_for_users(group, granted).items():
                plan.grants[username] = record.get("uid")
        for entry in plan.writes:
            item = self._items[entry["name"]]
            user_ids = item["database_user_ids"]
            if entry["state"] == "present" and item["database_users"] is not None:
                user_ids = [plan.grants[username] for username in item["database_users"]]
            self._start_database(group, entry, user_ids)
        last = [user for user in plan.user_writes if user["phase"] == 3]
        if last:
            self._start_last(group, plan, last)
        plan.started = [entry for entry in plan.entries + plan.user_entries if entry["action"]]
        self.result["actions"] = [entry["action"] for entry in plan.started]

    def wait(self, group, plan):
        """Wait for every started action, then until the lists show what the run did, so that the next task sees
        it. An entry whose action failed counts as unchanged."""
        if plan.started:
            self._wait_all_actions(group, plan)
        unlisted = [
            entry for entry in plan.writes if entry not in plan.failed and entry not in plan.settled
        ]
        if unlisted:
            self._wait_for_databases(group, unlisted, plan.before)
        plan.settled = unlisted + plan.settled
        self._wait_for_users(
            group, [user for user in plan.user_writes if user["entry"] not in plan.failed]
        )

    def settle(self, plan):
        """Complete the results once everything finished, and fail the task when an action failed."""
        self._note_grants(plan.settled, plan.user_entries)
        if plan.failed:
            self.fail(
                "%d of %d Cloud66 actions failed: %s"
                % (
                    len(plan.failed),
                    len(plan.started),
                    "; ".join(
                        "%s %s (action %s): %s"
                        % (
                            action_name(entry["action"]),
                            entry.get("name") or entry.get("username"),
                            entry["action"].get("id"),
                            entry["action"].get("finished_message") or "no message given",
                        )
                        for entry in plan.failed
                    ),
                )
            )

    def _plan_user(self, group, item, listed, new_databases):
        """The plan of one user item: its result entry, whether it needs a write, its databases' uids, and its phase.

        Phase 1 comes before the databases and phase 3 after them. A new user that asks for databases this run
        creates waits for them (phase 3), unless those databases grant it themselves: then it is made first and the
        databases grant it.
        """
        record = dict((user.get("username"), user) for user in group.users()).get(
            item["username"], {}
        )
        if record and item["state"] == "present":
            names = (
                item["databases"]
                if item["database_ids"] is None
                else group.names(item["database_ids"])
            )
            if names is not None:
                # Databases of this task that grant the user count as asked for from their side.
                names = sorted(
                    set(names)
                    | set(
                        database["name"]
                        for database in self.params["databases"]
                        if database["state"] == "present"
                        and item["username"] in (database["database_users"] or [])
                    )
                )
            warning = user_warning(record, names, item["user_type"])
            if warning:
                self.module.warn(warning)
        write = bool(record) != (item["state"] == "present")
        plan = {
            "item": item,
            "write": write,
            "phase": 1,
            "ids": item["database_ids"] or [],
            "entry": {
                "username": item["username"],
                "state": item["state"],
                "changed": write,
                "user": without_password(record),
                "action": {},
            },
        }
        if not (write and item["state"] == "present" and item["databases"]):
            return plan
        creating = dict((entry["name"], self._items[entry["name"]]) for entry in new_databases)
        missing = [
            name for name in item["databases"] if name not in listed and name not in creating
        ]
        if missing:
            self.fail(
                "Database user %r asks for %s, which the server group does not list and this task does not create."
                % (item["username"], ", ".join(missing))
            )
        pending = [name for name in item["databases"] if name in creating]
        granting = [
            name for name in pending if item["username"] in (creating[name]["database_users"] or [])
        ]
        if granting and granting != pending:
            self.fail(
                "Database user %r asks for the new databases %s, but only %s grant it. Cloud66 cannot add databases "
                "to a user or users to a database later, so let every new database the user needs grant it in its "
                "database_users." % (item["username"], ", ".join(pending), ", ".join(granting))
            )
        plan["phase"] = 3 if pending and not granting else 1
        if plan["phase"] == 1:
            # The new databases grant this user themselves; the user is created with the others.
            plan["ids"] = [
                self._single(listed[name], name)["uid"]
                for name in item["databases"]
                if name not in pending
            ]
        return plan

    def _grants(self, group, new_databases, users):
        """username -> uid for every user a new database grants (None for a user this run makes first).

        Fails, before any write, on a username that is neither listed nor made by this run before the databases.
        """
        granted = set(
            username
            for entry in new_databases
            for username in self._items[entry["name"]]["database_users"] or []
        )
        if not granted:
            return {}
        late = [user["item"]["username"] for user in users if user["write"] and user["phase"] == 3]
        for entry in new_databases:
            too_late = [
                username
                for username in self._items[entry["name"]]["database_users"] or []
                if username in late
            ]
            if too_late:
                self.fail(
                    "Database %r grants %s, which asks for databases this task creates and so is made after the "
                    "databases. Let those databases grant the user as well."
                    % (entry["name"], ", ".join(too_late))
                )
        first = set(
            self._new_usernames([user for user in users if user["write"] and user["phase"] == 1])
        )
        listed = sorted(granted - first)
        grants = dict(zip(listed, group.user_ids(listed), strict=False))
        grants.update((username, None) for username in granted & first)
        return grants

    @staticmethod
    def _new_usernames(users):
        return [user["item"]["username"] for user in users if user["item"]["state"] == "present"]

    def _single(self, records, name):
        if len(records) > 1:
            self.fail(
                "Server group lists %d databases named %r (uids %s); refusing to pick one."
                % (len(records), name, ", ".join(str(record.get("uid", "?")) for record in records))
            )
        return records[0]

    def _start_users(self, group, users):
        for user in users:
            entry, item = user["entry"], user["item"]
            try:
                if item["state"] == "absent":
                    action, entry["changed"] = group.user_group.delete(entry["user"]["uid"])
                else:
                    action, entry["changed"] = group.user_group.create(
                        item["username"], item["user_type"], user["ids"]
                    )
            except Cloud66Error as exc:
                exc.message = "Database user %r: %s" % (item["username"], exc.message)
                raise
            entry["action"] = action or {}

    def _start_last(self, group, plan, last):
        """Create the users that need databases this run created, once those are listed with their uids."""
        needed = set(name for user in last for name in user["item"]["databases"])
        created = [entry for entry in plan.writes if entry["name"] in needed]
        self._wait_for_actions(group, created)
        records = group.wait_settled([entry["name"] for entry in created], [], self.deadline)
        for entry in created:
            entry["database"] = records[entry["name"]]
            plan.settled.append(entry)
        for user in last:
            user["ids"] = [
                records[name]["uid"]
                if name in records
                else self._single(plan.listed[name], name)["uid"]
                for name in user["item"]["databases"]
            ]
        self._start_users(group, last)

    def _wait_for_actions(self, group, entries):
        """Wait for the actions of ``entries`` before a later step needs their result; a failed one fails the task."""
        started = [entry for entry in entries if entry["action"]]
        if started:
            for entry, action in zip(
                started,
                self.waiter(group.stack_id).wait([entry["action"] for entry in started]),
                strict=False,
            ):
                entry["action"] = action

    def _wait_for_users(self, group, users):
        """Wait until the user list shows the users created and not those deleted; returns username -> new record."""
        users = [user for user in users if not user.get("settled") and user["entry"]["changed"]]
        self._wait_for_actions(group, [user["entry"] for user in users])
        created = [user["entry"] for user in users if user["entry"]["state"] == "present"]
        deleted = [user["entry"] for user in users if user["entry"]["state"] == "absent"]
        if not users:
            return {}
        records = group.user_group.wait_settled(
            [entry["username"] for entry in created],
            [entry["user"]["uid"] for entry in deleted],
            self.deadline,
        )
        for user in users:
            user["settled"] = True
            user["entry"]["user"] = without_password(records.get(user["entry"]["username"], {}))
        return records

    def _note_grants(self, created, user_entries):
        """Users read before the databases that grant them were made list those databases too now."""
        by_username = dict(
            (entry["username"], entry["user"]) for entry in user_entries if entry["user"]
        )
        for entry in [entry for entry in created if entry["state"] == "present"]:
            for username in self._items[entry["name"]]["database_users"] or []:
                names = by_username.get(username, {}).get("databases")
                if isinstance(names, list) and entry["name"] not in names:
                    names.append(entry["name"])

    def _wait_all_actions(self, group, plan):
        """Wait for every started action; the entries whose action failed go to ``plan.failed``."""
        finished = self.waiter(group.stack_id).wait(self.result["actions"], stop_on_failure=False)
        for entry, action in zip(plan.started, finished, strict=False):
            entry["action"] = action
        self.result["actions"] = finished
        plan.failed = [entry for entry in plan.started if action_outcome(entry["action"]) == FAILED]
        for entry in plan.failed:
            entry["changed"] = False
            if "name" in entry:
                entry["database"] = plan.before[entry["name"]]

    def _wait_for_databases(self, group, entries, records_before):
        """Wait until the database list shows what this run asked for, so that the next task sees it; created
        entries then carry their listed record."""
        created = [entry for entry in entries if entry["state"] == "present"]
        deleted = [
            records_before[entry["name"]]["uid"] for entry in entries if entry["state"] == "absent"
        ]
        listed = group.wait_settled([entry["name"] for entry in created], deleted, self.deadline)
        for entry in created:
            entry["database"] = listed[entry["name"]]

    def timed_out(self, actions):
        if not actions:
            return
        for entry, action in zip(self._plan.started if self._plan else [], actions, strict=False):
            entry["action"] = action
        self.result["actions"] = actions

    def _plan_database(self, group, item, records):
        record = self._single(records, item["name"]) if records else {}
        if record:
            usernames = group.requested_usernames(item["database_users"], item["database_user_ids"])
            if usernames is not None:
                # Users of this task that ask for the database grant it from their side.
                usernames = sorted(
                    set(usernames)
                    | set(
                        user["username"]
                        for user in self.params["database_users"] or []
                        if user["state"] == "present" and item["name"] in (user["databases"] or [])
                    )
                )
            warning = users_warning(record, usernames)
            if warning:
                self.module.warn(warning)
        changed = bool(record) != (item["state"] == "present")
        return {
            "name": item["name"],
            "state": item["state"],
            "changed": changed,
            "database": record,
            "action": {},
        }

    def _names(self, plan, before):
        exists = [
            entry["name"]
            for entry in plan.entries
            if bool(entry["database"]) != (entry["changed"] and not before)
        ]
        names = {"databases": sorted(exists)}
        if self.params["database_users"] is not None:
            names["database_users"] = sorted(
                entry["username"]
                for entry in plan.user_entries
                if bool(entry["user"]) != (entry["changed"] and not before)
            )
        return names

    @staticmethod
    def _start_database(group, entry, user_ids):
        if entry["state"] == "absent":
            action, entry["changed"] = group.delete(entry["database"].get("uid"))
            entry["database"] = {}
        else:
            action, entry["changed"] = group.create(entry["name"], user_ids)
            entry["database"] = {"name": entry["name"]}
        entry["action"] = action or {}


def main():
    module = Cloud66Databases.define_module(
        dict(
            databases=dict(
                type="list",
                elements="dict",
                required=True,
                options=dict(
                    name=dict(type="str", required=True),
                    state=dict(type="str", default="present", choices=["present", "absent"]),
                    database_user_ids=dict(type="list", elements="str"),
                    database_users=dict(type="list", elements="str"),
                ),
            ),
            database_users=dict(
                type="list",
                elements="dict",
                options=dict(
                    username=dict(type="str", required=True),
                    state=dict(type="str", default="present", choices=["present", "absent"]),
                    user_type=dict(type="str", default="application"),
                    databases=dict(type="list", elements="str"),
                    database_ids=dict(type="list", elements="str"),
                ),
            ),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=600),
        ),
        supports_check_mode=True,
    )
    databases = Cloud66Databases(module)
    databases.execute(databases.ensure)


if __name__ == "__main__":
    main()

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
    fewest API requests possible. It reads the group's database list once (every page, so that a name listed twice
    is never missed), starts every needed create and delete without waiting on each, and then waits on all started
    actions together, polling them in turns.
  - A loop of M(cloud66.cloud.cloud66_database) reads the list once per item and waits on each action in turn;
    prefer this module, or the C(cloud66.cloud.databases) role built on it, to provision many databases.
  - Cloud66 refreshes its database list some time after an action finished. With O(wait=true) the module returns
    only once the list shows every database it created and none it deleted, so that the next task sees them, and a
    created database is returned as the list shows it. Reading for new databases starts at the last page, where
    Cloud66 lists them.
  - A name that the group lists more than once, on any page, is refused before any write, naming the uids.
  - With O(server_groups) one task ensures the databases and users of many server groups, as asked by many hosts;
    this is what the C(cloud66.cloud.databases) role uses. Every entry's stack and server group are resolved first
    (one read of the stack list and of each stack's server groups, whatever the number of entries), so that entries
    naming one group by id, by name, by type, or by stack name in another case are one group. Their asks are merged;
    the same database or user asked for the same way is written once, and one asked for differently (for example
    V(present) and V(absent), or with other users) fails the task before anything is sent, naming the entries and
    what each asked. An ask that leaves a field out (such as O(databases[].database_users)) agrees with one that gives
    it.
  - Every group is planned from one read of each of its lists before the first write. Then the writes of every group
    are started, and with O(wait=true) all their actions are waited for together, every stack's in the same turns,
    within one O(wait_timeout); a write that needs the uid of an item made earlier in the run waits for it together
    with the other groups' such writes. Many server groups take about the time of the slowest one.
  - When a write is refused part-way, the module sends no more writes to that server group, waits (with O(wait=true))
    for the actions it started, and fails naming the refused database or user with Cloud66's words; the result lists
    every action started.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - cloud66.cloud.cloud66
  - cloud66.cloud.cloud66.server_group
  - cloud66.cloud.cloud66.state
options:
  databases:
    description:
      - The databases to ensure in the server group the module's options name. Each name may appear once.
      - Give O(databases), O(database_users) or both, or O(server_groups) instead.
    type: list
    elements: dict
    suboptions: &database_options
      name:
        description:
          - The name of the database, with the same rules as O(cloud66.cloud.cloud66_database#module:name).
        type: str
        required: true
      state:
        description:
          - Whether the database should exist. V(absent) permanently deletes it and its data; see
            O(require_backup_within).
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
    suboptions: &user_options
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
          - When left out, a new user is an V(application) user and an existing user's type is not compared.
        type: str
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
  require_backup_within:
    description:
      - Refuse to delete a database unless Cloud66 lists a successful backup of that very database (the same name,
        and the engine of its server group) taken no more than this many seconds ago.
      - Applies to every database that a task item, or an entry of O(server_groups), asks to be V(absent) and that
        the server group lists. A database that does not exist needs no backup.
      - Checked before any write, in check mode too; the task fails naming the newest backup seen, or saying there
        is none, and sends nothing.
      - Costs one read of the stack's backup list (every page) for each stack and engine with such a delete.
    type: int
    version_added: 1.1.0
  server_groups:
    description:
      - The databases and users of many server groups, or of one group as asked by many hosts, ensured together.
      - Each entry names its stack and server group with the same options as the module (all empty values count as
        unset); an entry that names none uses the module's own O(stack_id), O(stack_name), ...
      - An entry whose O(server_groups[].databases) and O(server_groups[].database_users) are both empty or left out
        asks for nothing and is left out. At least one entry must give one of them.
      - Mutually exclusive with O(databases) and O(database_users).
    type: list
    elements: dict
    suboptions:
      requested_by:
        description:
          - Who asks for this entry, such as the inventory host; messages about conflicting asks name it.
        type: str
      stack_id:
        description: The uid of the stack.
        type: str
      stack_name:
        description: The name of the stack, instead of O(server_groups[].stack_id).
        type: str
      environment:
        description: The environment of the stack named by O(server_groups[].stack_name).
        type: str
      server_group_id:
        description: The id of the server group.
        type: str
      server_group_name:
        description: The name of the server group.
        type: str
      server_group_type:
        description: The type of the server group (V(mysql) or V(postgresql)), when the stack has one of that type.
        type: str
      databases:
        description: The databases to ensure in this server group, as in O(databases).
        type: list
        elements: dict
        suboptions: *database_options
      database_users:
        description: The database users to ensure in this server group, as in O(database_users).
        type: list
        elements: dict
        suboptions: *user_options
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

- name: Ensure the databases of two stacks, as two hosts ask for them
  cloud66.cloud.cloud66_databases:
    server_groups:
      - requested_by: web1
        stack_name: shop
        environment: production
        server_group_type: mysql
        databases:
          - name: orders
      - requested_by: blog1
        stack_name: blog
        server_group_name: blog-postgres
        databases:
          - name: posts
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
    hosts:
      description: With O(server_groups), the entries (O(server_groups[].requested_by)) that asked for the database.
      type: list
      elements: str
      returned: with O(server_groups)
      sample: [web1, web2]
database_users:
  description: One entry for each requested database user, in the order given.
  returned: when O(database_users) or O(server_groups) is given
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
    hosts:
      description: With O(server_groups), the entries (O(server_groups[].requested_by)) that asked for the user.
      type: list
      elements: str
      returned: with O(server_groups)
      sample: [web1, web2]
actions:
  description: Every action this run started, as last seen.
  returned: always
  type: list
  elements: dict
  sample: [{"id": 1001, "status": "completed", "action_type": "database_create", "finished_success": true}]
batches:
  description:
    - With O(server_groups), one entry for each server group, in the order first named.
    - Each holds the group's C(stack_id) and C(server_group_id), the C(hosts) that asked, its C(changed), and its
      C(databases), C(database_users) and C(actions) in the shapes above.
  returned: with O(server_groups)
  type: list
  elements: dict
  sample: [{"stack_id": "5999b763474b0eafa5fafb64bff0ba80", "server_group_id": "42", "hosts": ["web1"], "changed": true,
            "databases": [], "database_users": [], "actions": []}]
summary:
  description: One line that says how many databases and users changed (or would, in check mode), and which.
  returned: always
  type: str
  sample: "1 of 2 databases and 0 of 1 database users in 1 server group changed: reports"
"""

from ansible_collections.cloud66.cloud.plugins.module_utils._backups import engine_of, guard_for
from ansible_collections.cloud66.cloud.plugins.module_utils._batch import (
    BatchRun,
    DatabaseAsk,
    Refused,
    Request,
    UserAsk,
    check_asks,
    group_requests,
    listed_deletes,
    plan,
    read_lists,
)
from ansible_collections.cloud66.cloud.plugins.module_utils._databases import name_problem
from ansible_collections.cloud66.cloud.plugins.module_utils._module import (
    Cloud66Module,
    server_group_argument_spec,
    target_problem,
)
from ansible_collections.cloud66.cloud.plugins.module_utils._server_group import ServerGroup
from ansible_collections.cloud66.cloud.plugins.module_utils._stacks import Target


class Cloud66Databases(Cloud66Module):
    def __init__(self, module):
        self.plans = []
        self.batch = None
        super().__init__(module)

    def sources(self):
        """(who asks, the options naming the group, database items, user items) for each asking source."""
        if self.params["server_groups"] is None:
            return [
                (
                    None,
                    self.params,
                    self.params["databases"] or [],
                    self.params["database_users"] or [],
                )
            ]
        sources = []
        for index, entry in enumerate(self.params["server_groups"]):
            if not (entry["databases"] or entry["database_users"]):
                continue
            names_group = any(
                str(entry.get(key) or "").strip() for key in server_group_argument_spec()
            )
            sources.append(
                (
                    entry["requested_by"] or "server_groups[%d]" % index,
                    entry if names_group else self.params,
                    entry["databases"] or [],
                    entry["database_users"] or [],
                )
            )
        return sources

    def check_module_params(self):
        sources = self.sources()
        if not sources and all(
            entry["databases"] is None and entry["database_users"] is None
            for entry in self.params["server_groups"] or []
        ):
            return (
                "No entry of server_groups gives databases or database_users (with the databases role: set "
                "cloud66_databases or cloud66_database_users on at least one host of the play)."
            )
        within = self.params["require_backup_within"]
        if within is not None and within < 1:
            return "require_backup_within must be a positive number of seconds, got %d." % within
        for source, target, databases, users in sources:
            problem = self._source_problem(target, databases, users)
            if problem:
                return "%s: %s" % (source, problem) if source else problem
        return None

    @staticmethod
    def _source_problem(target, databases, users):
        problem = target_problem(target)
        if problem:
            return "Name the server group: %s." % problem
        for item in databases:
            problem = name_problem(item["name"])
            if problem:
                return "The database name %r %s." % (item["name"], problem)
        for item in users:
            problem = name_problem(item["username"])
            if problem:
                return "The username %r %s." % (item["username"], problem)
            if item["user_type"] is not None and not item["user_type"].strip():
                return "user_type of %r must not be empty." % item["username"]
        return check_asks(databases, users)

    def ensure(self):
        """Resolve every group, plan each from one read of its lists, refuse before any write, then run."""
        sources = self.sources()
        keys = self.resolver.resolve_all(
            Target.of(target) for _source, target, _dbs, _users in sources
        )
        requests = [
            Request(
                source,
                key,
                [DatabaseAsk.of(item) for item in databases],
                [UserAsk.of(item) for item in users],
            )
            for (source, _target, databases, users), key in zip(sources, keys, strict=True)
        ]
        problems = []
        backups = {}
        for asks in group_requests(requests):
            group = ServerGroup(self.client, asks.key.stack_id, asks.key.server_group_id)
            listed_databases, listed_users = read_lists(group, asks)
            guard = self._delete_guard(asks, listed_databases, backups)
            try:
                self.plans.append((group, plan(asks, listed_databases, listed_users, guard)))
            except Refused as exc:
                problems.append(str(exc))
        if problems:
            self.fail(" ".join(problems))
        for _group, group_plan in self.plans:
            for warning in group_plan.warnings:
                self.warn(warning)
        waits = [group_plan for _group, group_plan in self.plans if group_plan.waits_between]
        if waits and self.deadline.seconds <= 0:
            self.fail(
                "%s needs to wait part-way (a new database grants a new user, or a new user needs a new database), "
                "but wait_timeout is 0; nothing was sent. Give wait_timeout the seconds that wait may take."
                % waits[0].key
            )
        self.set_diff(self._names(before=True), self._names(before=False))
        if self.module.check_mode or not any(
            group_plan.writes for _group, group_plan in self.plans
        ):
            return
        self.batch = BatchRun(self.deadline, self.params["wait"])
        self.batch.run(self.plans)
        problems = self.batch.problems()
        if problems:
            self.fail(" ".join(problems))

    def _delete_guard(self, asks, listed_databases, backups):
        """With require_backup_within, what deciding this group's deletes needs: the stack's backups of the group's
        engine, read once per run (``backups`` is the run's cache); None when the group deletes nothing listed."""
        within = self.params["require_backup_within"]
        if within is None or not listed_deletes(asks, listed_databases):
            return None
        stack_id = asks.key.stack_id
        engine = engine_of(self.resolver.groups(stack_id), asks.key.server_group_id)
        return guard_for(self.client, stack_id, engine, within, backups)

    def timed_out(self, actions):
        if self.batch is not None:
            self.batch.timed_out(actions)

    def final_result(self):
        """The entries of every group; ``changed`` is what would change in check mode, else what Cloud66 acted on
        (so that a failure part-way reports only what happened)."""
        plans = [group_plan for _group, group_plan in self.plans]
        entries = [
            entry for group_plan in plans for entry in group_plan.databases + group_plan.users
        ]
        if self.batch is None and not self.module.check_mode:
            # Nothing was sent: what the plans would change did not happen.
            for entry in entries:
                entry.changed = False
        result = dict(
            self.result,
            changed=any(entry.changed for entry in entries),
            databases=[entry.result() for group_plan in plans for entry in group_plan.databases],
            actions=self.batch.actions() if self.batch else [],
            summary=self._summary(plans),
        )
        if self.params["database_users"] is not None or self.params["server_groups"] is not None:
            result["database_users"] = [
                entry.result() for group_plan in plans for entry in group_plan.users
            ]
        if self.params["server_groups"] is not None:
            result["batches"] = [self._batch_result(group_plan) for group_plan in plans]
        return result

    @staticmethod
    def _batch_result(group_plan):
        entries = group_plan.databases + group_plan.users
        return {
            "stack_id": group_plan.key.stack_id,
            "server_group_id": group_plan.key.server_group_id,
            "hosts": group_plan.sources,
            "changed": any(entry.changed for entry in entries),
            "databases": [entry.result() for entry in group_plan.databases],
            "database_users": [entry.result() for entry in group_plan.users],
            "actions": [entry.action for entry in entries if entry.action],
        }

    def _summary(self, plans):
        databases = [entry for group_plan in plans for entry in group_plan.databases]
        users = [entry for group_plan in plans for entry in group_plan.users]
        changed = [entry.name for entry in databases + users if entry.changed]
        return "%d of %d databases and %d of %d database users in %d server group%s %s: %s" % (
            sum(entry.changed for entry in databases),
            len(databases),
            sum(entry.changed for entry in users),
            len(users),
            len(plans),
            "" if len(plans) == 1 else "s",
            "would change" if self.module.check_mode else "changed",
            ", ".join(changed) or "none",
        )

    def _names(self, before):
        """The databases (and users) that exist before the run, or after it as planned."""
        names = {}
        for _group, group_plan in self.plans:
            exists = {
                "databases": sorted(
                    entry.name
                    for entry in group_plan.databases
                    if bool(entry.record) != (entry.changed and not before)
                )
            }
            if (
                self.params["database_users"] is not None
                or self.params["server_groups"] is not None
            ):
                exists["database_users"] = sorted(
                    entry.name
                    for entry in group_plan.users
                    if bool(entry.record) != (entry.changed and not before)
                )
            names[str(group_plan.key)] = exists
        # One group shows as itself, several by group.
        return names.popitem()[1] if len(names) == 1 else names


DATABASE_OPTIONS = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    database_user_ids=dict(type="list", elements="str"),
    database_users=dict(type="list", elements="str"),
)
USER_OPTIONS = dict(
    username=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    user_type=dict(type="str"),
    databases=dict(type="list", elements="str"),
    database_ids=dict(type="list", elements="str"),
)


def main():
    module = Cloud66Databases.define_module(
        dict(
            databases=dict(type="list", elements="dict", options=DATABASE_OPTIONS),
            database_users=dict(type="list", elements="dict", options=USER_OPTIONS),
            server_groups=dict(
                type="list",
                elements="dict",
                options=dict(
                    server_group_argument_spec(),
                    server_group_type=dict(type="str"),
                    requested_by=dict(type="str"),
                    databases=dict(type="list", elements="dict", options=DATABASE_OPTIONS),
                    database_users=dict(type="list", elements="dict", options=USER_OPTIONS),
                ),
            ),
            require_backup_within=dict(type="int"),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=600),
        ),
        target_rules=False,
        required_one_of=[("databases", "database_users", "server_groups")],
        mutually_exclusive=[("databases", "server_groups"), ("database_users", "server_groups")],
        supports_check_mode=True,
    )
    databases = Cloud66Databases(module)
    databases.execute(databases.ensure)


if __name__ == "__main__":
    main()

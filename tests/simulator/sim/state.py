"""The simulated world: configuration, fixture loading, stacks, server groups, databases, users, actions, seeding.

Records carry ``born`` and ``dies`` times: a record exists from the moment its create action finishes until its
delete action finishes, and the lists show it ``list_lag_seconds`` later. A held action finishes at infinity until
it is released.
"""

from __future__ import annotations

import json
import math
import os
import time

from sim.common import (
    ACTION_SHAPES,
    DB_CHARSETS,
    DB_TYPES,
    FIRST_ACTION_ID,
    FIXTURE_DIR,
    FIXTURE_TIME,
    PROFILES,
    SUCCESS_MESSAGE,
    USER_TYPES,
    SimError,
    bad,
    digits,
    is_int,
    is_number,
    iso_time,
    random_hex,
    stable_hex,
)

DEFAULT_CONFIG = {
    "action_seconds": 2.0,
    "queue_seconds": 0.3,
    "list_lag_seconds": 1.0,
    "action_shape": "status",
    "profile": "endpoint",
    # Whether server group records carry "type"; null: as the profile has it (the model profile leaves it out).
    "group_types": None,
    # New actions stay unfinished until released (POST /_sim/release, or a request matching a "release" fault).
    "hold_actions": False,
    # The database lists show the group as it was when this was set, until released.
    "hold_lists": False,
    "rate_limit": 3000,
    # How long a backup file's public_url stays valid (0: already expired when given).
    "backup_url_seconds": 600,
    # How public_url's signature is percent-encoded: twice as in the published example, or once.
    "backup_url_encoding": "double",
}
SEED_KEYS = frozenset(
    ("stack_id", "server_group_id", "count", "prefix", "users", "start", "width", "size_bytes")
)


# ---------------------------------------------------------------------------------------------------------------
# Configuration and fixture loading
# ---------------------------------------------------------------------------------------------------------------


def validate_config(values, base):
    """Return a copy of ``base`` updated with ``values``; raise ValueError on an unknown key or a bad value."""
    if not isinstance(values, dict):
        raise ValueError("config must be a JSON object")
    result = dict(base)
    for key, value in values.items():
        if key in ("action_seconds", "queue_seconds", "list_lag_seconds"):
            if not is_number(value) or value < 0:
                raise ValueError("config %s must be a number >= 0, got %r" % (key, value))
            result[key] = float(value)
        elif key == "action_shape":
            if value not in ACTION_SHAPES:
                raise ValueError(
                    "config action_shape must be one of %s, got %r"
                    % (", ".join(ACTION_SHAPES), value)
                )
            result[key] = value
        elif key == "profile":
            if value not in PROFILES:
                raise ValueError(
                    "config profile must be one of %s, got %r" % (", ".join(PROFILES), value)
                )
            result[key] = value
        elif key in ("hold_actions", "hold_lists"):
            if not isinstance(value, bool):
                raise ValueError("config %s must be true or false, got %r" % (key, value))
            result[key] = value
        elif key == "group_types":
            if value is not None and not isinstance(value, bool):
                raise ValueError(
                    "config group_types must be true, false or null, got %r" % (value,)
                )
            result[key] = value
        elif key == "backup_url_seconds":
            if not is_int(value) or value < 0:
                raise ValueError(
                    "config backup_url_seconds must be an integer >= 0, got %r" % (value,)
                )
            result[key] = value
        elif key == "backup_url_encoding":
            if value not in ("double", "single"):
                raise ValueError(
                    "config backup_url_encoding must be double or single, got %r" % (value,)
                )
            result[key] = value
        elif key == "rate_limit":
            if not is_int(value) or value < 1:
                raise ValueError("config rate_limit must be an integer >= 1, got %r" % (value,))
            result[key] = value
        else:
            raise ValueError(
                "unknown config key %r (known: %s)" % (key, ", ".join(sorted(DEFAULT_CONFIG)))
            )
    return result


def load_fixture_file(path):
    """Read a fixture file; a relative path that does not exist is also looked up in the fixtures directory."""
    candidates = [path]
    if not os.path.isabs(path):
        candidates.append(os.path.join(FIXTURE_DIR, path))
    for candidate in candidates:
        if os.path.isfile(candidate):
            with open(candidate, encoding="utf-8") as handle:
                try:
                    return json.load(handle)
                except ValueError as exc:
                    raise ValueError("fixture %s is not valid JSON: %s" % (candidate, exc)) from exc
    raise ValueError("fixture file not found: %s" % path)


# ---------------------------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------------------------


def password(user, now):
    """The user's password as it is at ``now``: a regenerated one counts once its action has finished."""
    if user["next_password"] is not None and now >= user["password_at"]:
        return user["next_password"]
    return user["password"]


def exists(record, now):
    return record["born"] <= now and (record["dies"] is None or now < record["dies"])


def listed(record, now, lag):
    return record["born"] + lag <= now and (record["dies"] is None or now < record["dies"] + lag)


class Action:
    """An asynchronous action; its status is computed from the clock (``shapes.render_action`` draws it)."""

    __slots__ = (
        "id",
        "stack_uid",
        "group_id",
        "action_type",
        "resource_type",
        "resource_uid",
        "subject",
        "created",
        "start_at",
        "finish_at",
        "success",
        "message",
        "effects",
    )

    def __init__(
        self,
        action_id,
        group,
        action_type,
        resource_type,
        resource_uid,
        subject,
        now,
        config,
        fail_message,
    ):
        self.id = action_id
        self.stack_uid = group.stack_uid
        self.group_id = group.id
        self.action_type = action_type
        self.resource_type = resource_type
        self.resource_uid = resource_uid
        self.subject = subject
        self.created = now
        duration = config["action_seconds"]
        self.start_at = now + min(config["queue_seconds"], duration)
        # A held action finishes when it is released, not at a time.
        self.finish_at = math.inf if config["hold_actions"] else now + duration
        self.success = fail_message is None
        self.message = SUCCESS_MESSAGE if fail_message is None else fail_message
        # The server-side changes that happen when the action finishes: (record, key) pairs set to its finish time.
        self.effects = []

    def finished(self, now):
        return now >= self.finish_at

    def held(self):
        return self.finish_at == math.inf

    def takes_effect(self, record, key):
        """Make ``record[key]`` (a record's 'born' or 'dies') the moment this action finishes."""
        record[key] = self.finish_at
        if key == "born":
            record["created_at"] = iso_time(self.finish_at) if self.finish_at != math.inf else None
        self.effects.append((record, key))

    def release(self, now):
        """Finish a held action now, and with it the change it makes."""
        self.start_at = min(self.start_at, now)
        self.finish_at = now
        for record, key in self.effects:
            record[key] = now
            if key == "born":
                record["created_at"] = iso_time(now)


class Group:
    """A server group with its database users and databases (server-side truth plus list bookkeeping)."""

    def __init__(self, stack_uid, group_id, name, group_type, created_at, updated_at):
        self.stack_uid = stack_uid
        self.id = group_id
        self.name = name
        self.type = group_type
        self.created_at = created_at
        self.updated_at = updated_at
        # user: uid, username, user_type, created_at, born
        self.users = []
        # database: uid, name, charset, collation, size_bytes, created_at, user_uids, born, dies
        self.databases = []
        self.inflight = []

    def supports_databases(self):
        return self.type in DB_TYPES

    def prune(self, now):
        if self.inflight:
            self.inflight = [action for action in self.inflight if not action.finished(now)]

    def live_users(self, now):
        return [user for user in self.users if exists(user, now)]

    def user_names(self, now):
        return dict((user["uid"], user["username"]) for user in self.live_users(now))

    def live_database(self, uid, now):
        for db in self.databases:
            if db["uid"] == uid and exists(db, now):
                return db
        return None

    def live_user(self, uid, now):
        for user in self.users:
            if user["uid"] == uid and exists(user, now):
                return user
        return None

    def name_taken(self, records, key, action_type, name, now):
        """Whether ``name`` is in use by a record that is not gone, or by a create still under way."""
        self.prune(now)
        taken = any(
            record[key] == name and (record["dies"] is None or now < record["dies"])
            for record in records
        )
        return taken or any(
            a.action_type == action_type and a.subject == name for a in self.inflight
        )


# ---------------------------------------------------------------------------------------------------------------
# The world
# ---------------------------------------------------------------------------------------------------------------


class World:
    """Everything the fixture describes, plus the actions started since the last reset."""

    def __init__(self, fixture):
        if not isinstance(fixture, dict):
            raise ValueError("fixture must be a JSON object")
        self.accounts = {}
        self.tokens = {}
        self.stacks = []
        self.stacks_by_uid = {}
        self.actions = {}
        self.action_order = []
        self.next_action_id = FIRST_ACTION_ID
        self._load_accounts(fixture.get("accounts", []))
        for stack in self._list(fixture, "stacks", "fixture"):
            self._load_stack(stack)
        for token in self._list(fixture, "tokens", "fixture"):
            self._load_token(token)

    @staticmethod
    def _list(obj, key, where):
        value = obj.get(key, [])
        if not isinstance(value, list):
            raise ValueError("%s: %s must be a list" % (where, key))
        for item in value:
            if not isinstance(item, dict):
                raise ValueError("%s: every item of %s must be an object" % (where, key))
        return value

    def _load_accounts(self, accounts):
        if not isinstance(accounts, list):
            raise ValueError("fixture: accounts must be a list")
        for account in accounts:
            if not isinstance(account, dict) or not is_int(account.get("id")):
                raise ValueError("fixture: every account needs an integer id")
            self.accounts[account["id"]] = {
                "id": account["id"],
                "name": account.get("name", "account %d" % account["id"]),
            }

    def _load_token(self, token):
        text = token.get("token")
        if not isinstance(text, str) or not text:
            raise ValueError('fixture: every token needs a non-empty "token" string')
        if text in self.tokens:
            raise ValueError("fixture: duplicate token %s" % token.get("name", "?"))
        scopes = token.get("scopes", [])
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise ValueError("fixture: token scopes must be a list of strings")
        accounts = token.get("accounts", sorted(self.accounts))
        if not isinstance(accounts, list) or not accounts or not all(is_int(a) for a in accounts):
            raise ValueError("fixture: token accounts must be a non-empty list of integers")
        default = token.get("default_account", accounts[0])
        if default not in accounts:
            raise ValueError("fixture: token default_account must be one of its accounts")
        self.tokens[text] = {
            "name": token.get("name", ""),
            "scopes": frozenset(scopes),
            "accounts": list(accounts),
            "default_account": default,
        }

    def _load_stack(self, stack):
        uid = stack.get("uid")
        if not isinstance(uid, str) or not uid:
            raise ValueError("fixture: every stack needs a uid")
        if uid in self.stacks_by_uid:
            raise ValueError("fixture: duplicate stack uid %s" % uid)
        account = stack.get("account")
        if not is_int(account):
            raise ValueError("fixture: stack %s needs an integer account" % uid)
        if account not in self.accounts:
            self.accounts[account] = {"id": account, "name": "account %d" % account}
        record = {
            "uid": uid,
            "name": stack.get("name", uid),
            "environment": stack.get("environment", "production"),
            "status": 1,
            "created_at": stack.get("created_at", FIXTURE_TIME),
            "updated_at": stack.get("updated_at", stack.get("created_at", FIXTURE_TIME)),
        }
        for key, value in stack.items():
            if key not in ("server_groups", "account", "backups") and key not in record:
                record[key] = value
        entry = {
            "uid": uid,
            "account": account,
            "record": record,
            "groups": [],
            "groups_by_id": {},
            "action_ids": [],
            "backups": [],
        }
        for group in self._list(stack, "server_groups", "stack %s" % uid):
            self._load_group(entry, group)
        # Imported here: sim.backups draws its pages with sim.shapes, which imports this module.
        from sim.backups import load_backup

        for spec in self._list(stack, "backups", "stack %s" % uid):
            taken = set(b["id"] for s in self.stacks + [entry] for b in s["backups"])
            entry["backups"].append(load_backup(spec, uid, taken, time.time()))
        self.stacks.append(entry)
        self.stacks_by_uid[uid] = entry

    def _load_group(self, stack, spec):
        where = "stack %s server group %r" % (stack["uid"], spec.get("id"))
        group_id = spec.get("id")
        if not is_int(group_id):
            raise ValueError("%s: id must be an integer" % where)
        if group_id in stack["groups_by_id"]:
            raise ValueError("%s: duplicate id" % where)
        group_type = spec.get("type")
        if not isinstance(group_type, str):
            raise ValueError("%s: type must be a string" % where)
        created = spec.get("created_at", FIXTURE_TIME)
        group = Group(
            stack["uid"],
            group_id,
            spec.get("name", "%s-%d" % (group_type, group_id)),
            group_type,
            created,
            spec.get("updated_at", created),
        )
        by_name = {}
        for user in self._list(spec, "database_users", where):
            username = user.get("username")
            if not isinstance(username, str) or not username:
                raise ValueError("%s: every database user needs a username" % where)
            if username in by_name:
                raise ValueError("%s: duplicate database user %s" % (where, username))
            user_type = user.get("user_type", "application")
            if user_type not in USER_TYPES:
                raise ValueError("%s: user_type must be application or readonly" % where)
            record = {
                "uid": user.get("uid")
                or "user_" + stable_hex(stack["uid"], group_id, "user", username),
                "username": username,
                "user_type": user_type,
                "created_at": user.get("created_at", FIXTURE_TIME),
                "password": user.get("password")
                or "pw_" + stable_hex(stack["uid"], group_id, "password", username),
                "next_password": None,
                "password_at": None,
                "born": 0.0,
                "dies": None,
            }
            by_name[username] = record["uid"]
            by_name[record["uid"]] = record["uid"]
            group.users.append(record)
        charset, collation = DB_CHARSETS.get(group_type, ("utf8", "utf8_general_ci"))
        names = set()

        def add_db(name, db_uid, users, size, created_at, db_charset, db_collation):
            if not isinstance(name, str) or not name:
                raise ValueError("%s: every database needs a name" % where)
            if name in names:
                raise ValueError("%s: duplicate database %s" % (where, name))
            if not isinstance(users, list):
                raise ValueError("%s: database %s users must be a list" % (where, name))
            uids = []
            for user in users:
                if user not in by_name:
                    raise ValueError("%s: database %s names unknown user %r" % (where, name, user))
                uids.append(by_name[user])
            names.add(name)
            group.databases.append(
                {
                    "uid": db_uid or "db_" + stable_hex(stack["uid"], group_id, "db", name),
                    "name": name,
                    "charset": db_charset or charset,
                    "collation": db_collation or collation,
                    "size_bytes": size,
                    "created_at": created_at,
                    "user_uids": uids,
                    "born": 0.0,
                    "dies": None,
                }
            )

        for db in self._list(spec, "databases", where):
            add_db(
                db.get("name"),
                db.get("uid"),
                db.get("users", []),
                db.get("size_bytes", 0),
                db.get("created_at", FIXTURE_TIME),
                db.get("charset"),
                db.get("collation"),
            )
        generate = spec.get("generate")
        if generate is not None:
            if (
                not isinstance(generate, dict)
                or not is_int(generate.get("count"))
                or generate["count"] < 0
            ):
                raise ValueError("%s: generate needs an integer count" % where)
            start = generate.get("start", 1)
            count = generate["count"]
            width = generate.get("width", max(4, len(str(start + count - 1))))
            prefix = generate.get("prefix", "db_")
            for number in range(start, start + count):
                add_db(
                    "%s%0*d" % (prefix, width, number),
                    None,
                    generate.get("users", []),
                    generate.get("size_bytes", 0),
                    generate.get("created_at", FIXTURE_TIME),
                    None,
                    None,
                )
        stack["groups"].append(group)
        stack["groups_by_id"][group_id] = group

    def new_action_id(self):
        action_id = self.next_action_id
        self.next_action_id += 1
        return action_id

    # -- lookups and changes (raise SimError, as the API answers them) ---------------------------------------------

    def stack(self, stack_id, account):
        stack = self.stacks_by_uid.get(stack_id)
        if stack is None or stack["account"] != account:
            raise SimError(404, "Stack not found")
        return stack

    def group(self, stack_id, group_text, account, needs_databases=False):
        """The stack and the server group a path names; 404 when either is not there (in ``account``)."""
        stack = self.stack(stack_id, account)
        group = stack["groups_by_id"].get(int(group_text)) if digits(group_text) else None
        if group is None:
            raise SimError(404, "Server group not found")
        if needs_databases and not group.supports_databases():
            raise SimError(400, "Server group does not support database operations")
        return stack, group

    def start_action(
        self,
        stack,
        group,
        action_type,
        resource_type,
        resource_uid,
        subject,
        now,
        config,
        fail_message,
    ):
        action = Action(
            self.new_action_id(),
            group,
            action_type,
            resource_type,
            resource_uid,
            subject,
            now,
            config,
            fail_message,
        )
        self.actions[action.id] = action
        self.action_order.append(action.id)
        stack["action_ids"].append(action.id)
        group.inflight.append(action)
        return action

    def release(self, now):
        """Finish every held action now; returns how many there were."""
        held = [action for action in self.actions.values() if action.held()]
        for action in held:
            action.release(now)
        return len(held)

    def seed_databases(self, data, now):
        """Add finished, already listed databases (the control API's bulk seeding); returns their names and uids."""
        unknown = set(data) - SEED_KEYS
        if unknown:
            raise bad("unknown keys: %s" % ", ".join(sorted(unknown)))
        count = data.get("count")
        if not is_int(count) or count < 1 or count > 100000:
            raise bad("count must be an integer between 1 and 100000")
        start = data.get("start", 1)
        if not is_int(start) or start < 0:
            raise bad("start must be an integer >= 0")
        prefix = data.get("prefix", "bulk_")
        if not isinstance(prefix, str):
            raise bad("prefix must be a string")
        width = data.get("width", max(4, len(str(start + count - 1))))
        if not is_int(width) or width < 0 or width > 20:
            raise bad("width must be an integer between 0 and 20")
        size = data.get("size_bytes", 0)
        if not is_int(size) or size < 0:
            raise bad("size_bytes must be an integer >= 0")
        users = data.get("users", [])
        if not isinstance(users, list) or not all(isinstance(user, str) for user in users):
            raise bad("users must be a list of usernames")
        stack = self.stacks_by_uid.get(str(data.get("stack_id")))
        if stack is None:
            raise SimError(404, "Stack not found")
        group = self.group(stack["uid"], str(data.get("server_group_id")), stack["account"], True)[
            1
        ]
        by_name = dict((user["username"], user["uid"]) for user in group.live_users(now))
        user_uids = []
        for username in users:
            if username not in by_name:
                raise bad("Unknown database user '%s'" % username)
            user_uids.append(by_name[username])
        names = ["%s%0*d" % (prefix, width, number) for number in range(start, start + count)]
        taken = set(db["name"] for db in group.databases if db["dies"] is None or now < db["dies"])
        taken.update(
            a.subject
            for a in group.inflight
            if a.action_type == "database_create" and not a.finished(now)
        )
        clash = [name for name in names if name in taken]
        if clash:
            raise bad("Database '%s' already exists" % clash[0])
        charset, collation = DB_CHARSETS[group.type]
        created_at = iso_time(now)
        uids = []
        for name in names:
            uid = "db_" + random_hex()
            uids.append(uid)
            group.databases.append(
                {
                    "uid": uid,
                    "name": name,
                    "charset": charset,
                    "collation": collation,
                    "size_bytes": size,
                    "created_at": created_at,
                    "user_uids": list(user_uids),
                    "born": 0.0,
                    "dies": None,
                }
            )
        return {"names": names, "uids": uids}

"""The public API: the route table and one handler per route.

A handler is ``handler(sim, req)``: ``sim`` is the :class:`~sim.server.Simulator` (its ``world`` and ``config``),
``req`` the :class:`~sim.request.ApiRequest` (path parameters, query, body, account, time, fail message). It
runs with the simulator's lock held, after authentication, rate limiting and the scope check, and returns
(status, JSON payload) or raises :class:`~sim.common.SimError`.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import unquote

from sim.backups import get_backup, get_backup_file, list_backup_files, list_backups
from sim.common import (
    DB_CHARSETS,
    DB_NAME_RE,
    RESERVED_NAMES,
    USER_TYPES,
    USERNAME_RE,
    SimError,
    bad,
    digits,
    random_hex,
)
from sim.shapes import paginate, render_action, render_database, render_group, render_user
from sim.state import exists, listed, password


def _group_types(config):
    """Whether server groups carry their type: as the List Server Groups example, without (endpoint profile), as
    the Server Group model page, with (model profile), unless group_types says."""
    types = config["group_types"]
    return config["profile"] == "model" if types is None else types


def _duplicate(config, description):
    """A create of a name in use: 400 in the endpoint profile, the general 409 conflict in the model one."""
    if config["profile"] == "model":
        return SimError(409, description)
    return bad(description)


def _action_answer(sim, action, now):
    return 200, {
        "response": render_action(action, now, sim.config["action_shape"], sim.config["profile"])
    }


def _uid_list(body, key, what):
    """A list of uids from ``body[key]``: missing or empty is none, one string is one."""
    uids = body.get(key)
    if uids is None or uids == "":
        return []
    if isinstance(uids, str):
        return [uids]
    if not isinstance(uids, list) or not all(isinstance(uid, str) for uid in uids):
        raise bad("%s must be a list of %s uids" % (key, what))
    return uids


def _group(sim, req, needs_databases=True):
    return sim.world.group(req.stack_id, req.group_id, req.account, needs_databases)


# ---------------------------------------------------------------------------------------------------------------
# Handlers
# ---------------------------------------------------------------------------------------------------------------


def list_stacks(sim, req):
    stacks = [stack["record"] for stack in sim.world.stacks if stack["account"] == req.account]
    return 200, paginate(stacks, req.query, profile=sim.config["profile"])


def get_stack(sim, req):
    return 200, {"response": sim.world.stack(req.stack_id, req.account)["record"]}


def list_groups(sim, req):
    stack = sim.world.stack(req.stack_id, req.account)
    with_type = _group_types(sim.config)
    return 200, paginate(
        stack["groups"],
        req.query,
        lambda group: render_group(group, with_type),
        sim.config["profile"],
    )


def get_group(sim, req):
    return 200, {"response": render_group(_group(sim, req, False)[1], _group_types(sim.config))}


def list_databases(sim, req):
    group = _group(sim, req)[1]
    now = req.now
    lag = sim.config["list_lag_seconds"]
    if sim.lists_frozen_at is not None:
        shown = [db for db in group.databases if exists(db, sim.lists_frozen_at)]
    else:
        if any(db["dies"] is not None and now >= db["dies"] + lag for db in group.databases):
            group.databases = [
                db for db in group.databases if db["dies"] is None or now < db["dies"] + lag
            ]
        shown = [db for db in group.databases if listed(db, now, lag)]
    usernames = group.user_names(now)
    profile = sim.config["profile"]
    return 200, paginate(
        shown, req.query, lambda db: render_database(db, usernames, group, profile), profile
    )


def create_database(sim, req):
    stack, group = _group(sim, req)
    now = req.now
    body = req.json_object()
    name = body.get("database_name")
    if name is None or (isinstance(name, str) and not name.strip()):
        raise bad("database_name is required")
    if not isinstance(name, str):
        raise bad("database_name must be a string")
    if not DB_NAME_RE.fullmatch(name):
        raise bad(
            "Invalid database name '%s': it must start with a letter or underscore and contain only letters, "
            "digits and underscores (at most 63 characters)" % name
        )
    if name.lower() in RESERVED_NAMES:
        raise bad("Invalid database name '%s': the name is reserved" % name)
    if group.name_taken(group.databases, "name", "database_create", name, now):
        raise _duplicate(sim.config, "Database '%s' already exists" % name)
    user_ids = _uid_list(body, "database_user_ids", "database user")
    known = set(user["uid"] for user in group.live_users(now))
    selected = []
    for uid in user_ids:
        if uid not in known:
            raise bad("Unknown database user '%s'" % uid)
        if uid not in selected:
            selected.append(uid)
    db_uid = "db_" + random_hex()
    action = sim.world.start_action(
        stack, group, "database_create", "database", db_uid, name, now, sim.config, req.fail_message
    )
    if action.success:
        charset, collation = DB_CHARSETS[group.type]
        record = {
            "uid": db_uid,
            "name": name,
            "charset": charset,
            "collation": collation,
            "size_bytes": 0,
            "user_uids": selected,
            "dies": None,
        }
        action.takes_effect(record, "born")
        group.databases.append(record)
    return _action_answer(sim, action, now)


def delete_database(sim, req):
    stack, group = _group(sim, req)
    now = req.now
    uid = req.params["database"]
    record = group.live_database(uid, now)
    if record is None:
        raise SimError(404, "Database not found")
    group.prune(now)
    action = sim.world.start_action(
        stack,
        group,
        "database_delete",
        "database",
        uid,
        record["name"],
        now,
        sim.config,
        req.fail_message,
    )
    if action.success and (record["dies"] is None or action.finish_at < record["dies"]):
        action.takes_effect(record, "dies")
    return _action_answer(sim, action, now)


def list_users(sim, req):
    group = _group(sim, req)[1]
    now = req.now
    show = str(req.query.get("show_password", "")).lower() in ("true", "1")
    if show and "admin" not in sim.world.tokens[req.token]["scopes"]:
        raise SimError(
            403, "show_password requires edit rights on the stack (a token with the 'admin' scope)"
        )
    lag = sim.config["list_lag_seconds"]
    if any(user["dies"] is not None and now >= user["dies"] + lag for user in group.users):
        group.users = [
            user for user in group.users if user["dies"] is None or now < user["dies"] + lag
        ]
    shown = [user for user in group.users if listed(user, now, lag)]
    profile = sim.config["profile"]
    return 200, paginate(
        shown,
        req.query,
        lambda user: render_user(user, group.databases, now, group, profile, show),
        profile,
    )


def create_user(sim, req):
    stack, group = _group(sim, req)
    now = req.now
    body = req.json_object()
    username = body.get("username")
    if username is None or (isinstance(username, str) and not username.strip()):
        raise bad("username is required")
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        raise bad(
            "Invalid username '%s': it must start with a letter or underscore and contain only letters, digits "
            "and underscores (at most 32 characters)" % (username,)
        )
    user_type = body.get("user_type")
    if user_type is None or (isinstance(user_type, str) and not user_type.strip()):
        # The Create Database User page: user_type is required.
        raise bad("user_type is required")
    if user_type not in USER_TYPES:
        raise bad("Invalid user_type '%s': it must be application or readonly" % (user_type,))
    if group.name_taken(group.users, "username", "database_user_create", username, now):
        raise _duplicate(sim.config, "Database user '%s' already exists" % username)
    targets = []
    for uid in _uid_list(body, "database_ids", "database"):
        found = group.live_database(uid, now)
        if found is None:
            raise bad("Unknown database '%s'" % uid)
        targets.append(found)
    user_uid = "user_" + random_hex()
    action = sim.world.start_action(
        stack,
        group,
        "database_user_create",
        "database_user",
        user_uid,
        username,
        now,
        sim.config,
        req.fail_message,
    )
    if action.success:
        user = {
            "uid": user_uid,
            "username": username,
            "user_type": user_type,
            "password": "pw_" + uuid.uuid4().hex,
            "next_password": None,
            "password_at": None,
            "dies": None,
        }
        action.takes_effect(user, "born")
        group.users.append(user)
        for db in targets:
            if user_uid not in db["user_uids"]:
                db["user_uids"].append(user_uid)
    return _action_answer(sim, action, now)


def _user_action(sim, req, action_type):
    """Start an action on the live database user the path names; returns (user, action)."""
    stack, group = _group(sim, req)
    user = group.live_user(req.params["user"], req.now)
    if user is None:
        raise SimError(404, "Database user not found")
    group.prune(req.now)
    action = sim.world.start_action(
        stack,
        group,
        action_type,
        "database_user",
        user["uid"],
        user["username"],
        req.now,
        sim.config,
        req.fail_message,
    )
    return user, action


def delete_user(sim, req):
    user, action = _user_action(sim, req, "database_user_delete")
    if action.success and (user["dies"] is None or action.finish_at < user["dies"]):
        action.takes_effect(user, "dies")
    return _action_answer(sim, action, req.now)


def regenerate_password(sim, req):
    user, action = _user_action(sim, req, "database_user_password_change")
    if action.success:
        user["password"] = password(user, req.now)
        user["next_password"] = "pw_" + uuid.uuid4().hex
        action.takes_effect(user, "password_at")
    return _action_answer(sim, action, req.now)


def list_actions(sim, req):
    stack = sim.world.stack(req.stack_id, req.account)
    shape, profile = sim.config["action_shape"], sim.config["profile"]
    # Cloud66 does not document the order; the model profile lists the oldest first, the endpoint one the newest.
    ordered = (
        list(stack["action_ids"]) if profile == "model" else list(reversed(stack["action_ids"]))
    )
    return 200, paginate(
        ordered,
        req.query,
        lambda action_id: render_action(
            sim.world.actions[action_id], req.now, shape, profile, polled=True
        ),
        profile,
    )


def get_action(sim, req):
    stack = sim.world.stack(req.stack_id, req.account)
    text = req.params["action"]
    action = sim.world.actions.get(int(text)) if digits(text) else None
    if action is None or action.stack_uid != stack["uid"]:
        raise SimError(404, "Action not found")
    shape, profile = sim.config["action_shape"], sim.config["profile"]
    return 200, {"response": render_action(action, req.now, shape, profile, polled=True)}


# ---------------------------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------------------------

_STACK = r"/stacks/(?P<stack>[^/]+)"
_GROUP = _STACK + r"/server_groups/(?P<group>[^/]+)"
_ROUTE_TABLE = (
    ("GET", r"/stacks", "public", list_stacks),
    ("GET", _STACK, "public", get_stack),
    ("GET", _STACK + r"/server_groups", "public", list_groups),
    ("GET", _GROUP, "public", get_group),
    ("GET", _GROUP + r"/databases", "public", list_databases),
    ("POST", _GROUP + r"/databases", "admin", create_database),
    ("DELETE", _GROUP + r"/databases/(?P<database>[^/]+)", "admin", delete_database),
    ("GET", _GROUP + r"/database_users", "public", list_users),
    ("POST", _GROUP + r"/database_users", "admin", create_user),
    ("DELETE", _GROUP + r"/database_users/(?P<user>[^/]+)", "admin", delete_user),
    (
        "POST",
        _GROUP + r"/database_users/(?P<user>[^/]+)/regenerate_password",
        "admin",
        regenerate_password,
    ),
    ("GET", _STACK + r"/backups", "public", list_backups),
    ("GET", _STACK + r"/backups/(?P<backup>[^/]+)", "public", get_backup),
    ("GET", _STACK + r"/backups/(?P<backup>[^/]+)/files", "public", list_backup_files),
    (
        "GET",
        _STACK + r"/backups/(?P<backup>[^/]+)/files/(?P<file>[^/]+)",
        "public",
        get_backup_file,
    ),
    ("GET", _STACK + r"/actions", "public", list_actions),
    ("GET", _STACK + r"/actions/(?P<action>[^/]+)", "public", get_action),
)
ROUTES = tuple(
    (method, re.compile("^" + pattern + "$"), scope, handler)
    for method, pattern, scope, handler in _ROUTE_TABLE
)


def match_route(method, path):
    """Return (scope, handler, params) for an API path, or None."""
    if path is None:
        return None
    for route_method, regex, scope, handler in ROUTES:
        if route_method != method:
            continue
        found = regex.match(path)
        if found:
            return (
                scope,
                handler,
                dict((key, unquote(value)) for key, value in found.groupdict().items()),
            )
    return None

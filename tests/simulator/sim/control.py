"""The control API under ``/_sim``: reset, config, holds, faults, the request log, bulk seeding, the state view.

No authentication, and its requests are never in the request log. tests/simulator/README.md lists the endpoints.
"""

from __future__ import annotations

import json
import time

from sim.backups import seed_backup, state_backups
from sim.common import CONTROL_PREFIX, SimError, bad
from sim.faults import public_fault
from sim.shapes import render_action, render_database, render_user
from sim.state import exists, listed

RESET_KEYS = frozenset(("fixture", "fixture_file", "config"))


def _json_object(body_bytes):
    if not body_bytes or not body_bytes.strip():
        return {}
    try:
        data = json.loads(body_bytes.decode("utf-8"))
    except ValueError:
        raise bad("control request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise bad("control request body must be a JSON object")
    return data


def _checked(call, *args, **kwargs):
    """Call a control helper; its ValueError is the caller's mistake, a 400."""
    try:
        return call(*args, **kwargs)
    except ValueError as exc:
        raise bad(str(exc)) from exc


def _reset(sim, data):
    unknown = set(data) - RESET_KEYS
    if unknown:
        raise bad("unknown reset keys: %s" % ", ".join(sorted(unknown)))
    config = _checked(sim.reset, data.get("fixture"), data.get("fixture_file"), data.get("config"))
    return {"ok": True, "config": config}


def _get_config(sim, data):
    with sim.lock:
        return dict(sim.config)


def _seed(sim, data):
    with sim.lock:
        return sim.world.seed_databases(data, time.time())


def _seed_backup(sim, data):
    with sim.lock:
        return seed_backup(sim.world, data, time.time())


def _release(sim, data):
    with sim.lock:
        return {"released": sim.release_actions(time.time())}


def _list_faults(sim, data):
    with sim.lock:
        return {"faults": [public_fault(rule) for rule in sim.faults]}


def _done(call):
    def answer(sim, data):
        call(sim)
        return {"ok": True}

    return answer


ENDPOINTS = {
    ("GET", "/health"): lambda sim, data: {"ok": True},
    ("POST", "/reset"): _reset,
    ("GET", "/config"): _get_config,
    ("POST", "/config"): lambda sim, data: _checked(sim.set_config, **data),
    ("POST", "/databases"): _seed,
    ("POST", "/backups"): _seed_backup,
    ("POST", "/release"): _release,
    ("GET", "/faults"): _list_faults,
    ("POST", "/faults"): lambda sim, data: {"id": _checked(sim.add_fault, **data)},
    ("DELETE", "/faults"): _done(lambda sim: sim.clear_faults()),
    ("GET", "/requests"): lambda sim, data: {"requests": sim.requests()},
    ("DELETE", "/requests"): _done(lambda sim: sim.clear_requests()),
    ("GET", "/state"): lambda sim, data: state(sim),
}


def handle_control(sim, method, sub_path, body_bytes):
    """Answer a /_sim request: (status, JSON payload)."""
    sub_path = sub_path.rstrip("/") or "/"
    try:
        data = _json_object(body_bytes)
        endpoint = ENDPOINTS.get((method, sub_path))
        if endpoint is None:
            raise SimError(
                404, "Unknown control endpoint %s %s%s" % (method, CONTROL_PREFIX, sub_path)
            )
        return 200, endpoint(sim, data)
    except SimError as err:
        return err.status, err.payload()


def _state_action(action, now, shape):
    body = render_action(action, now, shape)
    body["stack_id"] = action.stack_uid
    body["server_group_id"] = action.group_id
    body["target_name"] = action.subject
    return body


def state(sim):
    """The server-side truth, in the endpoint shapes: every group's records and pending actions, every action."""
    with sim.lock:
        now = time.time()
        lag = sim.config["list_lag_seconds"]
        shape = sim.config["action_shape"]
        world = sim.world
        groups = []
        for stack in world.stacks:
            for group in stack["groups"]:
                group.prune(now)
                usernames = group.user_names(now)
                databases = []
                for db in group.databases:
                    if exists(db, now):
                        record = render_database(db, usernames)
                        record["listed"] = listed(db, now, lag)
                        databases.append(record)
                groups.append(
                    {
                        "stack_id": stack["uid"],
                        "server_group_id": group.id,
                        "type": group.type,
                        "databases": databases,
                        "database_users": [
                            dict(
                                render_user(user, group.databases, now, show_password=True),
                                listed=listed(user, now, lag),
                            )
                            for user in group.live_users(now)
                        ],
                        "pending": [_state_action(action, now, shape) for action in group.inflight],
                    }
                )
        actions = [
            _state_action(world.actions[action_id], now, shape) for action_id in world.action_order
        ]
        return {"groups": groups, "actions": actions, "backups": state_backups(world)}

"""What the simulator's tests share: the default fixture's names, a stdlib HTTP client and helpers over it.

The fixtures (``sim``, and the reset before every test) are in conftest.py.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import time
from urllib.parse import urlsplit

ADMIN = "sim-admin-token"
READ = "sim-read-token"
NOSCOPE = "sim-noscope-token"
SHOP = "5999b763474b0eafa5fafb64bff0ba80"
STAGING = "7a1c0de57a1c0de57a1c0de57a1c0de5"
BLOG = "b1090000b1090000b1090000b1090000"
OPS = "0b5000000b5000000b5000000b500000"
MYSQL = "/stacks/%s/server_groups/42" % SHOP
PG = "/stacks/%s/server_groups/44" % SHOP
BLOG_DBS = "/stacks/%s/server_groups/62/databases" % BLOG
SHOP_ACTIONS = "/stacks/%s/actions" % SHOP
SHOP_GROUPS = "/stacks/%s/server_groups" % SHOP
TIMINGS = {"action_seconds": 0.3, "queue_seconds": 0.1, "list_lag_seconds": 0.2}


class Resp:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        try:
            self.json = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "Resp(%d, %r)" % (self.status, self.raw[:300])


@contextlib.contextmanager
def connection(base, timeout=5.0):
    """An open HTTP connection to ``base`` and the path prefix to put before every request path."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        yield conn, parts.path
    finally:
        conn.close()


def request(base, method, path, body=None, headers=None, timeout=5.0, raw_body=None):
    with connection(base, timeout) as (conn, prefix):
        send_headers = dict(headers or {})
        data = raw_body
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            send_headers.setdefault("Content-Type", "application/json")
        conn.request(method, prefix + path, body=data, headers=send_headers)
        response = conn.getresponse()
        return Resp(response.status, response.headers, response.read())


def api(sim, method, path, body=None, token=ADMIN, account=None, **kwargs):
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = "Bearer %s" % token
    if account is not None:
        headers["X-Account"] = str(account)
    headers.update(kwargs.pop("headers", {}))
    return request(sim.url, method, path, body, headers, **kwargs)


def control(sim, method, path, body=None):
    return request(sim.control_url, method, path, body)


def configure(sim, **values):
    """POST /_sim/config; returns the answer."""
    return control(sim, "POST", "/config", values)


def add_fault(sim, **rule):
    """POST /_sim/faults; returns the answer (its JSON has the rule's id)."""
    return control(sim, "POST", "/faults", rule)


def requests_log(sim):
    return control(sim, "GET", "/requests").json["requests"]


def create_db(sim, name, users=None, group=MYSQL, token=ADMIN, **kwargs):
    return api(
        sim,
        "POST",
        group + "/databases",
        {"database_name": name, "database_user_ids": users or []},
        token=token,
        **kwargs,
    )


def create_user(sim, username, token=ADMIN, **body):
    body.setdefault("user_type", "application")
    return api(sim, "POST", MYSQL + "/database_users", dict(body, username=username), token=token)


def listed_dbs(sim, group=MYSQL):
    resp = api(sim, "GET", group + "/databases")
    assert resp.status == 200, resp
    return resp.json["response"]


def listed_names(sim, group=MYSQL):
    return [db["name"] for db in listed_dbs(sim, group)]


def listed_db(sim, name, group=MYSQL):
    found = [db for db in listed_dbs(sim, group) if db.get("name", db.get("database_name")) == name]
    assert found, "%s is not listed" % name
    return found[0]


def get_action(sim, action_id, stack=SHOP):
    resp = api(sim, "GET", "/stacks/%s/actions/%d" % (stack, action_id))
    assert resp.status == 200, resp
    return resp.json["response"]


def listed_action_ids(sim):
    return [action["id"] for action in api(sim, "GET", SHOP_ACTIONS).json["response"]]


def listed_users(sim, group=MYSQL, show_password=False, token=ADMIN):
    resp = api(
        sim,
        "GET",
        group + "/database_users" + ("?show_password=true" if show_password else ""),
        token=token,
    )
    assert resp.status == 200, resp
    return dict((user["username"], user) for user in resp.json["response"])


def wait_for(check, what, timeout=5.0):
    """Poll ``check()`` until it returns something true, and return that; fail after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.03)
    raise AssertionError("%s did not happen within %g s" % (what, timeout))


def wait_finished(sim, action_id, timeout=5.0):
    def finished():
        action = get_action(sim, action_id)
        return action if action["finished_at"] is not None else None

    return wait_for(finished, "action %d finishing" % action_id, timeout)


def wait_listed(sim, name, present=True, group=MYSQL, timeout=5.0):
    wait_for(
        lambda: (name in listed_names(sim, group)) == present,
        "%s becoming %s" % (name, "listed" if present else "unlisted"),
        timeout,
    )


def wait_user(sim, username, present=True, timeout=5.0, **kwargs):
    def check():
        users = listed_users(sim, **kwargs)
        return [users] if (username in users) == present else None

    found = wait_for(
        check, "%s becoming %s" % (username, "listed" if present else "unlisted"), timeout
    )
    return found[0].get(username)


def sim_state(sim):
    return control(sim, "GET", "/state").json


def state_group(sim, stack=SHOP, group_id=42):
    for group in sim_state(sim)["groups"]:
        if group["stack_id"] == stack and group["server_group_id"] == group_id:
            return group
    raise AssertionError("group not in state")


def truth_names(sim, stack=SHOP, group_id=42):
    """The names of the databases that exist server-side now (listed or not)."""
    return [db["name"] for db in state_group(sim, stack, group_id)["databases"]]


def action_targets(sim):
    """The database or user name of every action started since the reset, oldest first."""
    return [action["target_name"] for action in sim_state(sim)["actions"]]


def token_free(sim):
    text = json.dumps(sim_state(sim)) + json.dumps(control(sim, "GET", "/faults").json)
    return ADMIN not in text and READ not in text

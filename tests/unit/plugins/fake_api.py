# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the unit tests know of the Cloud66 API they mock: the token, the URLs, and
answers in the shapes that Cloud66's endpoint pages document."""

from __future__ import annotations

import responses
from responses import matchers

TOKEN = "c66tok-unit-7f3a9c2e5b1d-SECRET"
BASE = "https://api.cloud66.test/api/3"
STACK = "s1"
GROUP = "42"
STACK_URL = BASE + "/stacks/s1"
DATABASES = STACK_URL + "/server_groups/42/databases"
USERS = STACK_URL + "/server_groups/42/database_users"
ACTIONS = STACK_URL + "/actions"


def listing(items, current=1, pages=1):
    """One page of a list answer, with its pagination."""
    pagination = {
        "previous": current - 1 if current > 1 else None,
        "next": current + 1 if current < pages else None,
        "current": current,
        "per_page": 30,
        "count": 30 * (pages - 1) + len(items),
        "pages": pages,
    }
    return {"response": items, "count": len(items), "pagination": pagination}


def add_pages(api, url, pages, query=None):
    """Answer each page of a list, given as lists of items, once; the last answer
    registered for a page repeats."""
    for number, items in enumerate(pages, start=1):
        wanted = dict(query or {}, page=str(number))
        api.add(
            responses.GET,
            url,
            json=listing(items, number, len(pages)),
            match=[matchers.query_param_matcher(wanted)],
        )


def error(code, description):
    """The body of a refusal."""
    return {"error": code, "error_description": description}


def database(number, name=None, users=()):
    return {
        "uid": "db_%04d" % number,
        "name": name or "db%04d" % number,
        "charset": "utf8mb4",
        "collation": "utf8mb4_unicode_ci",
        "size_bytes": 1024,
        "created_at": "2023-01-15T10:30:00Z",
        "users": list(users),
    }


def user(number, username=None, databases=(), **extra):
    record = {
        "uid": "user_%03d" % number,
        "username": username or "user%03d" % number,
        "user_type": "application",
        "databases": list(databases),
        "created_at": "2023-01-15T10:30:00Z",
    }
    record.update(extra)
    return record


def action(action_id, action_type="database_create", status="queued", message=None):
    """An action in the status shape: queued, completed or failed."""
    finished = status in ("completed", "failed")
    return {
        "id": action_id,
        "status": status,
        "action_type": action_type,
        "resource_type": "database",
        "started_via": "api",
        "finished_at": "2023-01-15T10:31:00Z" if finished else None,
        "finished_success": (status == "completed") if finished else None,
        "finished_message": message,
    }


def sent(api):
    """Every request the mock answered, in order, as "METHOD path?query"; the path
    starts below /api/3, and for the lists of server group 42 below the group."""
    shown = []
    for call in api.calls:
        path = call.request.path_url[len("/api/3") :]
        path = path.replace("/stacks/s1/server_groups/42", "")
        shown.append("%s %s" % (call.request.method, path))
    return shown

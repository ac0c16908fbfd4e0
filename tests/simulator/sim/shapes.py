"""How the API draws records, actions and pages, in each profile.

``endpoint`` answers in the shapes of the endpoint pages' examples, ``model`` in the shapes of the model pages
(tests/simulator/README.md has the table). The control API's ``state`` always uses the endpoint shapes.
"""

from __future__ import annotations

import hashlib

from sim.common import PER_PAGE, bad, digits, iso_time, numeric_id
from sim.state import exists, password


def page_number(query):
    value = query.get("page")
    if value is None:
        return 1
    if isinstance(value, list):
        value = value[-1]
    text = value.strip()
    if not digits(text) or int(text) < 1:
        raise bad("Invalid page parameter '%s': it must be an integer >= 1" % value)
    return int(text)


def paginate(items, query, render=None, profile="endpoint"):
    """Return a paginated list body for ``items`` (rendering only the items on the page)."""
    page = page_number(query)
    total = len(items)
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    chunk = items[(page - 1) * PER_PAGE : page * PER_PAGE]
    if render is not None:
        chunk = [render(item) for item in chunk]
    in_range = page <= pages
    body = {
        "response": chunk,
        "count": len(chunk),
        "pagination": {
            "previous": page - 1 if in_range and page > 1 else None,
            "next": page + 1 if page < pages else None,
            "current": page,
            "per_page": PER_PAGE,
            "count": total,
            "pages": pages,
        },
    }
    if profile == "model":
        # The Pagination model page: "prev", and no per_page.
        pagination = body["pagination"]
        pagination["prev"] = pagination.pop("previous")
        del pagination["per_page"]
    return body


def render_group(group, with_type=True):
    record = {
        "id": group.id,
        "name": group.name,
        "type": group.type,
        "created_at": group.created_at,
        "updated_at": group.updated_at,
    }
    if not with_type:
        # As the List Server Groups example shows them: without a type.
        del record["type"]
    return record


def _resource_id(action, finished):
    """The uid an action names: a delete's or a password change's from the start (the Delete Database and
    Regenerate Password examples), a create's once it has made the record (null until then)."""
    if action.action_type.endswith(("_delete", "_password_change")):
        return action.resource_uid
    return action.resource_uid if finished and action.success else None


def render_action(action, now, shape, profile="endpoint", polled=False):
    """An action as a create, delete or password change answers it (the endpoint pages' examples), or, with
    ``polled``, as Get Stack Action and Stack Actions List show it. The model profile always answers in the
    AsyncAction model page's shape, which is that of Get Stack Action."""
    finished = now >= action.finish_at
    started = now >= action.start_at
    if finished:
        status = "completed" if action.success else "failed"
        updated = action.finish_at
    elif started:
        status = "running"
        updated = action.start_at
    else:
        status = "queued"
        updated = action.created
    success = None
    if finished:
        success = action.success if shape == "status" else ("true" if action.success else "false")
    if profile == "model" or polled:
        resource_id = _resource_id(action, finished)
        if profile == "model":
            # The model page documents "the database ID": a number, which every example writes as a string.
            resource_id = str(numeric_id(action.resource_uid))
        return _render_model_action(action, started, finished, success, resource_id)
    body = {"id": action.id}
    if shape == "status":
        body["status"] = status
    body.update(
        {
            "action_type": action.action_type,
            "resource_type": action.resource_type,
            "resource_id": _resource_id(action, finished),
            "started_via": "api",
            "started_at": iso_time(action.start_at) if started else None,
            "finished_at": iso_time(action.finish_at) if finished else None,
            "finished_success": success,
            "finished_message": action.message if finished else None,
            "created_at": iso_time(action.created),
            "updated_at": iso_time(updated),
        }
    )
    return body


def _render_model_action(action, started, finished, success, resource_id):
    """The shape of the Get Stack Action page and the AsyncAction model page: named by ``action``, no
    ``status``, a ``resource_id`` string."""
    return {
        "id": action.id,
        "user": "api@example.com",
        "resource_type": action.resource_type,
        "action": action.action_type,
        "resource_id": resource_id,
        "started_via": "api",
        "started_at": iso_time(action.start_at) if started else None,
        "finished_at": iso_time(action.finish_at) if finished else None,
        "finished_success": success,
        "finished_message": action.message if finished else None,
        "finished_result": {} if finished else None,
        "metadata": {},
    }


def render_database(record, usernames, group=None, profile="endpoint"):
    if profile == "model":
        return {
            "uid": record["uid"],
            "stack_uid": group.stack_uid,
            "server_group_id": group.id,
            "database_name": record["name"],
            "collation": record["collation"],
            "encoding": record["charset"],
            "size_bytes": record["size_bytes"],
            "size_rows": 0,
            "created_at_iso": record["created_at"],
            "updated_at_iso": record["created_at"],
        }
    return {
        "uid": record["uid"],
        "name": record["name"],
        "charset": record["charset"],
        "collation": record["collation"],
        "size_bytes": record["size_bytes"],
        "created_at": record["created_at"],
        "users": [usernames[uid] for uid in record["user_uids"] if uid in usernames],
    }


def render_user(user, databases, now, group=None, profile="endpoint", show_password=False):
    if profile == "model":
        record = {
            "uid": user["uid"],
            "stack_uid": group.stack_uid,
            "server_group_id": group.id,
            "username": user["username"],
            "host": "%",
            "created_at_iso": user["created_at"],
            "updated_at_iso": user["created_at"],
        }
        if show_password:
            # The model page: password and password_hash are "only returned when explicitly requested".
            record["password"] = password(user, now)
            record["password_hash"] = (
                "*" + hashlib.sha1(password(user, now).encode("utf-8")).hexdigest().upper()
            )
        return record
    record = {
        "uid": user["uid"],
        "username": user["username"],
        "databases": [
            db["name"] for db in databases if exists(db, now) and user["uid"] in db["user_uids"]
        ],
        "user_type": user["user_type"],
        "created_at": user["created_at"],
    }
    if show_password:
        record["password"] = password(user, now)
    return record

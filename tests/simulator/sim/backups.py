"""Managed backups: the backups of each stack, their API routes, and the object store that serves their files.

The API answers follow ``cloud66/api-content`` ``v3/endpoints/backups/*`` (List Backups, Get Backup, List Backup
Files, Get Backup File) and ``v3/models/backup.mdx``. A file's ``public_url`` points at the object store, a second
HTTP server on its own loopback port that behaves as a presigned object-store URL does: the authorization is in the
query string alone (``AWSAccessKeyId``, ``Expires``, ``Signature``), and a request that also carries an
``Authorization`` header is refused (400 ``InvalidArgument``), as the real store refuses two auth mechanisms. As in
the published example, the URL's signature is percent-encoded twice (``%252F``); Cloud66's Go client undoes one level
before using it (``backup_url_encoding: single`` sends it encoded once).
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import time
from urllib.parse import parse_qs, quote, unquote

from sim.common import FIXTURE_TIME, SimError, bad, digits, is_int, iso_time
from sim.shapes import paginate

DB_KINDS = ("mysql", "postgresql", "redis", "mongodb")
STORE_PREFIX = "/store"
STORE_BUCKET = "c66-managed-backup-sim"
STORE_KEY_ID = "SIMULATEDKEYID"
STORE_SECRET = b"simulated-object-store-secret"
XML_TYPE = "application/xml"
DEFAULT_FILE_SIZE = 4096
SEED_KEYS = frozenset(
    (
        "stack_id",
        "id",
        "db_type",
        "database_name",
        "age_seconds",
        "backup_date_iso",
        "backup_status",
        "verify_status",
        "restore_status",
        "group",
        "files",
        "server_uid",
    )
)


def _parse_time(text):
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def file_bytes(backup_id, file_id, size):
    """The content of a simulated backup file: ``size`` bytes, the same for the same backup and file."""
    out, block = [], hashlib.sha256(("%s/%s" % (backup_id, file_id)).encode()).digest()
    total = 0
    while total < size:
        out.append(block)
        total += len(block)
        block = hashlib.sha256(block).digest()
    return b"".join(out)[:size]


def load_backup(spec, stack_uid, taken, now):
    """One backup from a fixture or seeding spec; ``taken`` holds the ids in use (a new id when none is given)."""
    unknown = set(spec) - SEED_KEYS
    if unknown:
        raise ValueError("backup: unknown keys %s" % ", ".join(sorted(unknown)))
    backup_id = spec.get("id", max(taken, default=0) + 1)
    if not is_int(backup_id) or backup_id < 1 or backup_id in taken:
        raise ValueError("backup: id must be a new integer >= 1, got %r" % (backup_id,))
    name = spec.get("database_name")
    if not isinstance(name, str) or not name:
        raise ValueError("backup %d: database_name must be a non-empty string" % backup_id)
    db_type = spec.get("db_type", "mysql")
    if db_type not in DB_KINDS:
        raise ValueError("backup %d: db_type must be one of %s" % (backup_id, ", ".join(DB_KINDS)))
    if "age_seconds" in spec:
        if not isinstance(spec["age_seconds"], (int, float)) or spec["age_seconds"] < 0:
            raise ValueError("backup %d: age_seconds must be a number >= 0" % backup_id)
        taken_at = now - spec["age_seconds"]
    else:
        try:
            taken_at = _parse_time(spec.get("backup_date_iso", FIXTURE_TIME))
        except ValueError:
            raise ValueError(
                "backup %d: backup_date_iso must look like %s" % (backup_id, FIXTURE_TIME)
            ) from None
    statuses = {}
    for key, top in (("backup_status", 1), ("restore_status", 3), ("verify_status", 4)):
        statuses[key] = spec.get(key, 0)
        if not is_int(statuses[key]) or not 0 <= statuses[key] <= top:
            raise ValueError(
                "backup %d: %s must be an integer from 0 to %d" % (backup_id, key, top)
            )
    stamp = time.strftime("%Y.%m.%d.%H.%M.%S", time.gmtime(taken_at))
    file_base = "%s_%d" % (name, backup_id)
    specs = spec.get("files", [DEFAULT_FILE_SIZE])
    if not isinstance(specs, list) or not specs:
        raise ValueError(
            "backup %d: files must be a non-empty list of sizes or {id, name, size}" % backup_id
        )
    files = []
    for index, item in enumerate(specs):
        item = {"size": item} if is_int(item) else item
        if not isinstance(item, dict) or not is_int(item.get("size")) or item["size"] < 0:
            raise ValueError("backup %d: every file needs an integer size >= 0" % backup_id)
        # One file is "tar"; a split backup's segments are tar-aa, tar-ab, ... (as split names them).
        suffix = "tar" if len(specs) == 1 else "tar-a" + chr(ord("a") + index)
        file_id = item.get("id", suffix)
        file_name = item.get("name", "%s.%s" % (file_base, suffix))
        files.append(
            {"id": file_id, "name": file_name, "data": file_bytes(backup_id, file_id, item["size"])}
        )
    storage = "%s/backups/%s/%s/%s/%s" % (
        stack_uid,
        spec.get("server_uid", "e63e859d5ab72b0bcf14321f0ffb013d"),
        db_type,
        file_base,
        stamp,
    )
    return {
        "id": backup_id,
        "group": spec.get("group", 1),
        "server_uid": spec.get("server_uid", "e63e859d5ab72b0bcf14321f0ffb013d"),
        "db_type": db_type,
        "database_name": name,
        "file_base": file_base,
        "taken_at": taken_at,
        "storage_path": storage,
        "files": files,
        **statuses,
    }


def render_backup(backup, profile="endpoint"):
    """A backup as List Backups and Get Backup give it (the model page has the same fields, with result texts)."""
    ok = backup["backup_status"] == 0
    model = profile == "model"
    return {
        "id": backup["id"],
        "server_uid": backup["server_uid"],
        "db_type": backup["db_type"],
        "database_name": backup["database_name"],
        "file_base": backup["file_base"],
        "backup_date_iso": iso_time(backup["taken_at"]),
        "backup_status": backup["backup_status"],
        "backup_result": ("Backup completed successfully" if model else "")
        if ok
        else "Backup failed",
        "restore_status": backup["restore_status"],
        "restore_result": "Not restored" if model else None,
        "created_at_iso": iso_time(backup["taken_at"]),
        "updated_at_iso": iso_time(backup["taken_at"]),
        "verify_status": backup["verify_status"],
        "verify_result": "Not verified" if model else None,
        "storage_path": backup["storage_path"],
        "skip_tables": "",
        "backup_size": sum(len(item["data"]) for item in backup["files"]),
    }


def object_key(backup, item):
    return "%s/%s" % (backup["storage_path"], item["name"])


def signature(key, expires):
    text = "GET\n\n\n%d\n/%s/%s" % (expires, STORE_BUCKET, key)
    return base64.b64encode(hmac.new(STORE_SECRET, text.encode(), hashlib.sha1).digest()).decode()


# ---------------------------------------------------------------------------------------------------------------
# API handlers (routes.py lists them)
# ---------------------------------------------------------------------------------------------------------------


def _backup(sim, req):
    stack = sim.world.stack(req.stack_id, req.account)
    text = req.params["backup"]
    found = [b for b in stack["backups"] if digits(text) and b["id"] == int(text)]
    if not found:
        raise SimError(404, "Backup not found")
    return stack, found[0]


def list_backups(sim, req):
    stack = sim.world.stack(req.stack_id, req.account)
    db_type = req.query.get("db_type")
    group = req.query.get("group")
    if db_type is not None and db_type not in DB_KINDS:
        raise bad("Invalid db_type '%s': valid options are %s" % (db_type, ", ".join(DB_KINDS)))
    shown = [
        b
        for b in sorted(stack["backups"], key=lambda b: (b["taken_at"], b["id"]), reverse=True)
        if (db_type is None or b["db_type"] == db_type)
        and (group is None or str(b["group"]) == group)
    ]
    profile = sim.config["profile"]
    return 200, paginate(shown, req.query, lambda b: render_backup(b, profile), profile)


def get_backup(sim, req):
    return 200, {"response": render_backup(_backup(sim, req)[1], sim.config["profile"])}


def list_backup_files(sim, req):
    files = _backup(sim, req)[1]["files"]
    return 200, paginate(
        files,
        req.query,
        lambda item: {"id": item["id"], "name": item["name"]},
        sim.config["profile"],
    )


def get_backup_file(sim, req):
    backup = _backup(sim, req)[1]
    found = [item for item in backup["files"] if item["id"] == req.params["file"]]
    if not found:
        raise SimError(404, "Backup file not found")
    key = object_key(backup, found[0])
    expires = int(req.now) + sim.config["backup_url_seconds"]
    if sim.config["backup_url_seconds"] == 0:
        expires = int(req.now) - 1
    sig = quote(signature(key, expires), safe="")
    if sim.config["backup_url_encoding"] == "double":
        sig = quote(sig, safe="")
    url = "%s/%s/%s?AWSAccessKeyId=%s&Expires=%d&Signature=%s" % (
        sim.store_base,
        STORE_BUCKET,
        quote(key),
        STORE_KEY_ID,
        expires,
        sig,
    )
    return 200, {"response": {"ok": True, "public_url": url}}


# ---------------------------------------------------------------------------------------------------------------
# The object store
# ---------------------------------------------------------------------------------------------------------------


def store_error(status, code, message):
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
        "<RequestId>SIMULATED</RequestId></Error>" % (code, message)
    )
    return status, body.encode(), XML_TYPE


def store_answer(sim, method, path, query_string, headers, now):
    """(status, body bytes, content type) for an object-store request. The caller holds the lock."""
    if method not in ("GET", "HEAD"):
        return store_error(
            405, "MethodNotAllowed", "The specified method is not allowed against this resource."
        )
    if headers.get("Authorization"):
        return store_error(
            400,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string "
            "parameter or the Authorization header should be specified",
        )
    query = parse_qs(query_string, keep_blank_values=True)
    given = dict((name, values[-1]) for name, values in query.items())
    if not all(given.get(name) for name in ("AWSAccessKeyId", "Expires", "Signature")):
        return store_error(403, "AccessDenied", "Access Denied")
    bucket_key = unquote(path[len(STORE_PREFIX) + 1 :])
    bucket, _slash, key = bucket_key.partition("/")
    expires = given["Expires"]
    if (
        given["AWSAccessKeyId"] != STORE_KEY_ID
        or bucket != STORE_BUCKET
        or not digits(expires)
        or not hmac.compare_digest(given["Signature"], signature(key, int(expires)))
    ):
        return store_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    if int(expires) < now:
        return store_error(403, "AccessDenied", "Request has expired")
    for stack in sim.world.stacks:
        for backup in stack["backups"]:
            for item in backup["files"]:
                if object_key(backup, item) == key:
                    return 200, item["data"], "application/x-tar"
    return store_error(404, "NoSuchKey", "The specified key does not exist.")


def seed_backup(world, data, now):
    """Add backups to a stack (POST /_sim/backups): one, or ``count`` of them each a second older than the one
    before; returns the id and size of the first and the ids of all."""
    stack = world.stacks_by_uid.get(data.get("stack_id"))
    if stack is None:
        raise SimError(404, "Stack not found")
    count = data.get("count", 1)
    if not is_int(count) or not 1 <= count <= 1000:
        raise bad("count must be an integer from 1 to 1000")
    spec = dict((key, value) for key, value in data.items() if key not in ("stack_id", "count"))
    added = []
    for number in range(count):
        one = dict(spec)
        if number and "id" in one:
            one["id"] += number
        if number and "age_seconds" in one:
            one["age_seconds"] += number
        try:
            backup = load_backup(
                one, stack["uid"], set(b["id"] for s in world.stacks for b in s["backups"]), now
            )
        except ValueError as exc:
            raise bad(str(exc)) from None
        stack["backups"].append(backup)
        added.append(backup)
    size = sum(len(item["data"]) for item in added[0]["files"])
    return {"id": added[0]["id"], "size": size, "ids": [backup["id"] for backup in added]}


def state_backups(world):
    """Every backup with the size and SHA-1 of each file and of all of them in order, for the state view."""
    out = []
    for stack in world.stacks:
        for backup in stack["backups"]:
            whole = b"".join(item["data"] for item in backup["files"])
            out.append(
                {
                    "stack_id": stack["uid"],
                    "id": backup["id"],
                    "database_name": backup["database_name"],
                    "db_type": backup["db_type"],
                    "size": len(whole),
                    "sha1": hashlib.sha1(whole).hexdigest(),
                    "files": [
                        {"id": item["id"], "name": item["name"], "size": len(item["data"])}
                        for item in backup["files"]
                    ],
                }
            )
    return out

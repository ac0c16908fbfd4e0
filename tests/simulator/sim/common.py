"""Constants, small helpers and the error type that the simulator's other modules share."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
import os
import re
import time
import uuid

API_PREFIX = "/api/3"
CONTROL_PREFIX = "/_sim"
PER_PAGE = 30
FIRST_ACTION_ID = 1001
RATE_WINDOW_SECONDS = 3600.0
REQUEST_LOG_LIMIT = 100000
MAX_BODY_BYTES = 10 * 1024 * 1024
FIXTURE_TIME = "2023-01-01T00:00:00Z"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE_DIR = os.path.join(HERE, "fixtures")
DEFAULT_FIXTURE = os.path.join(FIXTURE_DIR, "default.json")

DB_TYPES = ("mysql", "postgresql")
DB_CHARSETS = {"mysql": ("utf8mb4", "utf8mb4_unicode_ci"), "postgresql": ("UTF8", "en_US.UTF-8")}
DB_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
USERNAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
RESERVED_NAMES = frozenset(
    [
        "mysql",
        "information_schema",
        "performance_schema",
        "sys",
        "postgres",
        "template0",
        "template1",
    ]
)
USER_TYPES = ("application", "readonly")
DIGITS_RE = re.compile(r"[0-9]+")
ERROR_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    402: "trial_expired",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "time_out",
    409: "conflict",
    422: "unprocessable_entity",
    429: "too_many_requests",
    500: "internal_server_error",
    502: "bad_gateway",
    503: "throttled",
    504: "gateway_timeout",
}
SUCCESS_MESSAGE = "Completed successfully"
ACTION_SHAPES = ("status", "legacy")
# Which of Cloud66's published shapes the API answers in: the endpoint pages' examples, or the model pages'.
PROFILES = ("endpoint", "model")
JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


def iso_time(stamp):
    """Format an epoch time as ISO-8601 UTC with a Z suffix (whole seconds, like the published examples)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def numeric_id(uid):
    """A stable integer id for a record known by its uid, for the shapes that give integer ids."""
    return int(hashlib.sha256(uid.encode("utf-8")).hexdigest()[:8], 16) if uid else None


def stable_hex(*parts):
    return hashlib.sha1("/".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:12]


def random_hex():
    return uuid.uuid4().hex[:12]


def digits(text):
    return DIGITS_RE.fullmatch(text) is not None


def dumps(payload):
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


class SimError(Exception):
    """An API or control error answered as JSON."""

    def __init__(self, status, description, code=None, details=None):
        super().__init__(description)
        self.status = status
        self.code = code or ERROR_CODES.get(status, "error")
        self.description = description
        self.details = details

    def payload(self):
        body = {"error": self.code, "error_description": self.description}
        if self.details is not None:
            body["details"] = self.details
        return body


def bad(description, details=None):
    return SimError(400, description, details=details)

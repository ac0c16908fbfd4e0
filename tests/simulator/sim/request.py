"""One API request as the simulator sees it: the single object that every handler takes."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from sim.common import API_PREFIX, bad
from sim.routes import match_route


def normalize_api_path(raw_path):
    """Strip the /api/3 prefix, an optional .json suffix and a trailing slash; None when outside the API."""
    if raw_path != API_PREFIX and not raw_path.startswith(API_PREFIX + "/"):
        return None
    path = raw_path[len(API_PREFIX) :]
    if path.endswith(".json"):
        path = path[:-5]
    return path.rstrip("/") or "/"


def query_dict(query_string):
    result = {}
    for key, values in parse_qs(query_string, keep_blank_values=True).items():
        result[key] = values[0] if len(values) == 1 else values
    return result


def form_dict(text):
    result = {}
    for key, values in parse_qs(text, keep_blank_values=True).items():
        if key.endswith("[]"):
            result[key[:-2]] = list(values)
        else:
            result[key] = values[0] if len(values) == 1 else list(values)
    return result


def parse_body(body_bytes, content_type):
    """Return (parsed value, value for the request log, error text or None)."""
    if not body_bytes:
        return None, None, None
    text = body_bytes.decode("utf-8", errors="replace")
    if not text.strip():
        return None, None, None
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype == "application/x-www-form-urlencoded":
        return form_dict(text), text, None
    try:
        data = json.loads(text)
    except ValueError:
        if "json" not in ctype and "=" in text:
            return form_dict(text), text, None
        return None, text, "Request body is not valid JSON"
    return data, data, None


class ApiRequest:
    """One API request: what came in, and what the simulator learnt about it on the way to its handler.

    From the wire: ``method``, ``raw_path``, ``path`` (normalised, None outside ``/api/3``), ``query`` (a dict),
    ``headers`` (a dict), ``raw_body`` (bytes), ``body`` (parsed JSON or form, or None), ``token``.
    Found by the simulator before the handler runs: ``route`` (scope, handler, path parameters), ``fault`` (the
    fault rule that applies, or None), ``entry`` (its request log entry), ``account`` (the account it acts in),
    ``now`` (the time it is handled at) and ``fail_message`` (the message its action fails with, or None).
    """

    def __init__(self, method, raw_path, query_string, headers, body_bytes):
        self.method = method
        self.raw_path = raw_path
        self.path = normalize_api_path(raw_path)
        if self.path is None:
            self.log_path = raw_path
            self.match_path = raw_path
        else:
            self.log_path = raw_path[len(API_PREFIX) :] or "/"
            self.match_path = self.path
        self.query = query_dict(query_string)
        self.headers = dict(headers.items())
        self.raw_body = body_bytes
        self.account_header = headers.get("X-Account")
        self.body, self.log_body, self.body_error = parse_body(
            body_bytes, headers.get("Content-Type")
        )
        self.route = match_route(method, self.path)
        self.token = None
        auth = headers.get("Authorization")
        if auth is None or not auth.strip():
            self.auth_kind = "missing"
        else:
            parts = auth.strip().split(None, 1)
            if len(parts) == 2 and parts[0].lower() == "bearer":
                self.token = parts[1].strip()
            self.auth_kind = "invalid"
        self.fault = None
        self.entry = None
        self.account = None
        self.now = None
        self.fail_message = None

    @property
    def scope(self):
        return self.route[0] if self.route else None

    @property
    def params(self):
        """The path parameters (``stack``, ``group``, ``database``, ``user``, ``action``), unquoted."""
        return self.route[2] if self.route else {}

    @property
    def stack_id(self):
        return self.params.get("stack")

    @property
    def group_id(self):
        return self.params.get("group")

    def json_object(self):
        if self.body_error:
            raise bad(self.body_error)
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise bad("Request body must be a JSON object")
        return self.body

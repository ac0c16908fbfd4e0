"""Faults and rate limiting: fault rules (checking, matching), the effects that change an answer, the rate limit.

A fault rule (``POST /_sim/faults``) names at most one method, a path regex, how many requests it applies to and
exactly one effect; tests/simulator/README.md describes each effect. :func:`respond` carries out an API request
under the fault that applies to it: it decides whether the simulator acts, what it answers and how it sends it.
"""

from __future__ import annotations

import re
import time

from sim.common import (
    ERROR_CODES,
    HTML_TYPE,
    JSON_TYPE,
    RATE_WINDOW_SECONDS,
    digits,
    dumps,
    is_int,
    is_number,
)

FAULT_EFFECTS = (
    "status",
    "delay",
    "drop",
    "lost_answer",
    "fail_action",
    "cut_body",
    "trickle",
    "echo_headers",
    "ignore_page",
    "odd_answer",
    "status_after_acting",
    "release",
)
# Effects that answer with a canned status (and so take `body` and `headers`).
STATUS_EFFECTS = ("status", "echo_headers", "status_after_acting")
ODD_ANSWERS = ("html", "empty", "no_id")
FAULT_KEYS = frozenset(
    ("method", "path", "times", "skip", "body", "headers", "comment") + FAULT_EFFECTS
)


# ---------------------------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------------------------


def compile_fault(rule):
    unknown = set(rule) - FAULT_KEYS
    if unknown:
        raise ValueError("unknown fault keys: %s" % ", ".join(sorted(unknown)))
    effects = [name for name in FAULT_EFFECTS if name in rule]
    if len(effects) != 1:
        raise ValueError("a fault needs exactly one of: %s" % ", ".join(FAULT_EFFECTS))
    effect = effects[0]
    value = rule[effect]
    if effect == "status" and (not is_int(value) or not 100 <= value <= 599):
        raise ValueError("status must be an integer HTTP status")
    if effect == "delay" and (not is_number(value) or value < 0 or value > 600):
        raise ValueError("delay must be a number of seconds between 0 and 600")
    if effect in ("drop", "lost_answer", "release") and value is not True:
        raise ValueError("%s must be true" % effect)
    if effect == "fail_action" and (not isinstance(value, str) or not value):
        raise ValueError("fail_action must be a non-empty message")
    if effect in ("echo_headers", "status_after_acting") and (
        not is_int(value) or not 100 <= value <= 599
    ):
        raise ValueError("%s must be an integer HTTP status" % effect)
    if effect in ("cut_body", "ignore_page") and value is not True:
        raise ValueError("%s must be true" % effect)
    if effect == "trickle" and (not is_number(value) or not 0 < value <= 60):
        raise ValueError("trickle must be the seconds between two bytes, above 0 and at most 60")
    if effect == "odd_answer" and value not in ODD_ANSWERS:
        raise ValueError("odd_answer must be one of: %s" % ", ".join(ODD_ANSWERS))
    if ("body" in rule or "headers" in rule) and effect not in STATUS_EFFECTS:
        raise ValueError(
            "body and headers only go with a status, echo_headers or status_after_acting fault"
        )
    body = rule.get("body")
    if body is not None and not isinstance(body, (dict, list, str)):
        raise ValueError("body must be an object, a list or a string")
    if effect == "echo_headers" and body is not None and not isinstance(body, str):
        raise ValueError(
            "the body of an echo_headers fault is the text before the headers: a string"
        )
    headers = rule.get("headers") or {}
    if not isinstance(headers, dict):
        raise ValueError("headers must be an object")
    method = rule.get("method")
    if method is not None and (not isinstance(method, str) or not method):
        raise ValueError("method must be a string")
    path = rule.get("path")
    regex = None
    if path is not None:
        if not isinstance(path, str):
            raise ValueError("path must be a regular expression string")
        try:
            regex = re.compile(path)
        except re.error as exc:
            raise ValueError("path is not a valid regular expression: %s" % exc) from exc
    times = rule.get("times", 1)
    if times is not None and (not is_int(times) or times < 1):
        raise ValueError("times must be an integer >= 1 (or null for every matching request)")
    skip = rule.get("skip", 0)
    if not is_int(skip) or skip < 0:
        raise ValueError("skip must be an integer >= 0")
    return {
        "id": None,
        "method": method.upper() if method else None,
        "path": path,
        "regex": regex,
        "times": times,
        "skip": skip,
        "remaining": times,
        "skip_remaining": skip,
        "hits": 0,
        "effect": effect,
        effect: value,
        "body": body,
        "headers": dict((str(k), str(v)) for k, v in headers.items()),
        "comment": rule.get("comment"),
    }


def public_fault(rule):
    """A rule as ``GET /_sim/faults`` lists it."""
    out = dict((key, value) for key, value in rule.items() if key not in ("regex", "effect"))
    if rule["effect"] not in STATUS_EFFECTS:
        out.pop("body")
        out.pop("headers")
    return out


def match_fault(rules, method, path):
    """The first rule of ``rules`` that applies to this request (using up one of its times), or None."""
    for rule in rules:
        if rule["remaining"] is not None and rule["remaining"] <= 0:
            continue
        if rule["method"] is not None:
            if rule["method"] != method:
                continue
        elif rule["effect"] == "fail_action" and method not in ("POST", "DELETE"):
            continue
        if rule["regex"] is not None and not rule["regex"].search(path):
            continue
        if rule["skip_remaining"] > 0:
            rule["skip_remaining"] -= 1
            continue
        if rule["remaining"] is not None:
            rule["remaining"] -= 1
        rule["hits"] += 1
        return rule
    return None


# ---------------------------------------------------------------------------------------------------------------
# Rate limiting
# ---------------------------------------------------------------------------------------------------------------


class RateLimiter:
    """Requests per token in a fixed window of an hour from the token's first request in it."""

    def __init__(self):
        self._windows = {}

    def remaining(self, token, limit, now):
        window = self._windows.get(token)
        if window is None or now - window[0] >= RATE_WINDOW_SECONDS:
            return limit
        return max(0, limit - window[1])

    def consume(self, token, limit, now):
        """Count one request; returns (remaining, throttled)."""
        window = self._windows.get(token)
        if window is None or now - window[0] >= RATE_WINDOW_SECONDS:
            window = [now, 0]
            self._windows[token] = window
        window[1] += 1
        return max(0, limit - window[1]), window[1] > limit


# ---------------------------------------------------------------------------------------------------------------
# Effects
# ---------------------------------------------------------------------------------------------------------------


def canned_answer(rule, rate_headers, request_headers):
    """The answer of a status fault: (status, headers, body bytes, content type).

    ``echo_headers`` answers an HTML page that quotes ``request_headers`` (Authorization included) after the
    rule's ``body`` text, as a badly configured proxy would.
    """
    status = rule[rule["effect"]]
    headers = dict(rate_headers)
    body = rule["body"]
    if rule["effect"] == "echo_headers":
        echoed = sorted(
            request_headers.items(), key=lambda item: item[0].lower() != "authorization"
        )
        lines = ["%s: %s" % (name, value) for name, value in echoed]
        body = "%s %s" % (body or "", " ".join(lines))
    elif body is None:
        body = {
            "error": ERROR_CODES.get(status, "error"),
            "error_description": "Simulated fault: HTTP %d" % status,
        }
    if isinstance(body, str):
        data, ctype = body.encode("utf-8"), HTML_TYPE
    else:
        data, ctype = dumps(body), JSON_TYPE
    headers.update(rule["headers"])
    return status, headers, data, ctype


def odd_answer(kind, payload):
    """The body of an odd 200 answer to a request the simulator carried out."""
    if kind == "html":
        return b"<html><body><h1>Request accepted</h1></body></html>"
    if kind == "empty":
        return b""
    response = payload.get("response") if isinstance(payload, dict) else None
    if isinstance(response, dict):
        response = dict((key, value) for key, value in response.items() if key != "id")
    return dumps(dict(payload, response=response))


def _requested_page(query):
    value = query.get("page")
    value = (value[-1] if isinstance(value, list) else value or "1").strip()
    return int(value) if digits(value) else 1


def respond(sim, req, out):
    """Handle an API request (already logged by ``sim.begin_api``) under its fault, answering through ``out``.

    ``out`` sends: ``send(status, data, content_type, headers)``, ``send_slowly(...same, rule)`` and
    ``hang_up()`` (close the connection without an answer, or after this one).
    """
    rule = req.fault
    effect = rule["effect"] if rule is not None else None
    if effect in ("status", "echo_headers"):
        status, headers, data, content_type = sim.fault_answer(req, req.headers)
        sim.finish_api(req, status)
        out.send(status, data, content_type, headers)
        return
    if effect == "drop":
        sim.finish_api(req, None)
        out.hang_up()
        return
    if effect == "delay":
        time.sleep(rule["delay"])
    requested_page = None
    if effect == "ignore_page":
        requested_page = _requested_page(req.query)
        req.query = dict(req.query, page="1")
    status, payload, headers = sim.handle_api(req)
    if effect == "lost_answer":
        sim.finish_api(req, None, handled_status=status)
        out.hang_up()
        return
    if effect == "status_after_acting":
        answer = sim.fault_answer(req)
        sim.finish_api(req, answer[0], handled_status=status)
        out.send(answer[0], answer[2], answer[3], answer[1])
        return
    if requested_page is not None and isinstance(payload.get("pagination"), dict):
        # Every page is page 1, and the server never says how many there are.
        payload["pagination"] = {"next": requested_page + 1, "current": requested_page}
    data, content_type = dumps(payload), JSON_TYPE
    if effect == "odd_answer":
        data = odd_answer(rule["odd_answer"], payload)
        content_type = content_type if rule["odd_answer"] == "no_id" else HTML_TYPE
        sim.finish_api(req, 200, handled_status=status)
        out.send(200, data, content_type, headers)
        return
    sim.finish_api(req, status)
    if effect in ("cut_body", "trickle"):
        out.send_slowly(status, data, content_type, headers, rule)
        return
    out.send(status, data, content_type, headers)

# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The fault matrix's judge: how one run went, from the simulator's request log and state.

tasks/scenario.yml calls ``fm_result | fault_matrix_verdict(...)`` for each fault
scenario, and tasks/bad_input.yml ``fm_bad_result | fault_matrix_bad_input(...)`` for
each bad input; both tables are in vars/main.yml.
"""

from __future__ import annotations

import json
import re

LIST_PATH = re.compile(r"/databases$")
# Answers after which Cloud66 surely did not act on a create (429 or 503 throttled) or
# refused it (400): a create may be sent again after one of these without a look at the
# list first.
NOT_ACTED = (400, 429, 503)
# How long a piece of the token may show up in a result before it counts as a leak.
LEAK_WINDOW = 8


def _token_leaks(result, token):
    """How many LEAK_WINDOW-character pieces of the token the result holds, as JSON."""
    text = json.dumps(result, default=str)
    starts = range(len(token) - LEAK_WINDOW + 1)
    pieces = [token[start : start + LEAK_WINDOW] for start in starts]
    return sum(1 for piece in pieces if piece in text)


def _blind_posts(requests):
    """Creates sent again, without a look at the list, after an answer that may mean
    Cloud66 acted."""
    blind = 0
    last = None
    looked = False
    for request in requests:
        if not LIST_PATH.search(request["path"]):
            continue
        if request["method"] == "POST":
            if last is not None and last not in NOT_ACTED and not looked:
                blind += 1
            last = request["status"] if request["status"] is not None else -1
            looked = False
        elif request["method"] == "GET":
            looked = True
    return blind


def _unclean(result, msg, token, leaks):
    """What makes a failure unclear to its reader, in words (empty when it is clean)."""
    reasons = []
    if "module_stderr" in result:
        reasons.append("the module wrote to stderr")
    if "MODULE FAILURE" in msg or "Module failed" in msg:
        reasons.append("the module crashed")
    if "Traceback" in msg:
        reasons.append("the message holds a traceback")
    if token in msg:
        reasons.append("the message holds the token")
    if leaks:
        reasons.append("the result holds pieces of the token")
    return reasons


def _outcome_problem(scenario, outcome, failed, msg, missing, unclean, counts):
    """Why the outcome is not the expected one, or '' when it is."""
    expect = scenario["expect"]
    if outcome == expect:
        return ""
    why = []
    if expect == "survived" and failed:
        why.append("the task failed")
    if expect == "reported" and not failed:
        why.append("the task did not fail")
    wanted = 1 if scenario["final"] == "present" else 0
    wrong = {name: count for name, count in counts.items() if count != wanted}
    if wrong:
        why.append(
            "the simulator holds %s, expected %d of each (final: %s)"
            % (wrong, wanted, scenario["final"])
        )
    if failed and missing:
        why.append("the message lacks %s" % missing)
    if failed and unclean:
        why.append(", ".join(unclean))
    reasons = "; ".join(why) or "no reason found"
    text = "outcome is %s, expected %s: %s" % (outcome, expect, reasons)
    if msg:
        text += " - message: %s" % msg
    return text


def _check_problems(checks, result, failed, requests, faults):
    """The problems that the scenario's extra `checks` find."""
    gets = [r for r in requests if r["method"] == "GET"]
    list_gets = [r for r in gets if LIST_PATH.search(r["path"])]
    posts = [r for r in requests if r["method"] == "POST"]
    deletes = [r for r in requests if r["method"] == "DELETE"]
    problems = []
    unfired = [rule["id"] for rule in faults if rule["hits"] == 0]
    if unfired:
        problems.append("fault rules %s never fired" % unfired)
    counted = (
        ("list_gets", "list GETs", list_gets),
        ("posts", "POSTs", posts),
        ("deletes", "DELETEs", deletes),
    )
    for key, label, found in counted:
        if key in checks and len(found) != checks[key]:
            problems.append("%s: %d, expected %d" % (label, len(found), checks[key]))
    if "attempts" in checks and result.get("attempts", 0) != checks["attempts"]:
        problems.append(
            "attempts reported: %s, expected %d"
            % (result.get("attempts", "none"), checks["attempts"])
        )
    if "min_gap" in checks:
        gap = list_gets[1]["time"] - list_gets[0]["time"] if len(list_gets) > 1 else 0
        if gap < checks["min_gap"]:
            problems.append(
                "only %.2f s between the first two list GETs, expected at least %.1f"
                % (gap, checks["min_gap"])
            )
    if "max_requests" in checks and len(requests) > checks["max_requests"]:
        problems.append(
            "%d API requests, expected at most %d (was a redirect followed?)"
            % (len(requests), checks["max_requests"])
        )
    if checks.get("delete_404") and not any(r["status"] == 404 for r in deletes):
        problems.append("no DELETE was answered 404")
    changed = result.get("changed")
    if "changed" in checks and not failed and changed != checks["changed"]:
        problems.append("changed is %s, expected %s" % (changed, checks["changed"]))
    shown = json.dumps(result, default=str)
    leaked = [text for text in checks.get("hidden") or [] if text in shown]
    if leaked:
        problems.append("the result shows %s, which must stay hidden" % leaked)
    writes = len(posts) + len(deletes)
    if checks.get("no_writes") and writes:
        problems.append("%d writes (POST/DELETE), expected none" % writes)
    return problems


def fault_matrix_verdict(result, scenario, names, requests, state, faults, token, group_id):
    """Judge one run of the fault matrix.

    result: what the module (or the role) registered; scenario: the entry of
    vars/main.yml; names: the databases it ensures; requests: the simulator's request
    log of this run; state: GET /_sim/state; faults: GET /_sim/faults; token: the API
    token, which must not show up; group_id: the server group.
    Returns outcome (survived, reported or unclear), duplicates, blind_posts, msg (the
    token hidden), requests (their number) and problems (sentences, empty when the run
    is as the scenario expects).
    """
    result = dict(result or {})
    checks = scenario.get("checks") or {}
    msg = result.get("msg")
    msg = "" if msg is None else str(msg)
    failed = bool(result.get("failed", False))

    groups = state["groups"]
    group = [g for g in groups if str(g["server_group_id"]) == str(group_id)][0]
    counts = {}
    duplicates = 0
    for name in names:
        counts[name] = len([db for db in group["databases"] if db["name"] == name])
        creates = len(
            [
                a
                for a in state["actions"]
                if a["action_type"] == "database_create"
                and a["target_name"] == name
                and a["status"] != "failed"
            ]
        )
        duplicates += max(counts[name] - 1, 0) + max(creates - 1, 0)
    wanted = 1 if scenario["final"] == "present" else 0
    final_ok = all(count == wanted for count in counts.values())

    missing = [text for text in scenario.get("msg") or [] if str(text) not in msg]
    leaks = _token_leaks(result, token)
    unclean = _unclean(result, msg, token, leaks)
    if not failed and final_ok:
        outcome = "survived"
    elif failed and not missing and not unclean and final_ok:
        outcome = "reported"
    else:
        outcome = "unclear"

    blind = _blind_posts(requests)
    problems = [_outcome_problem(scenario, outcome, failed, msg, missing, unclean, counts)]
    if duplicates:
        problems.append("duplicates: %d" % duplicates)
    if leaks:
        problems.append(
            "%d token fragments of %d characters are in the result" % (leaks, LEAK_WINDOW)
        )
    if blind:
        problems.append("a create was sent again without looking at the list first")
    problems.extend(_check_problems(checks, result, failed, requests, faults))
    return {
        "outcome": outcome,
        "duplicates": duplicates,
        "blind_posts": blind,
        "msg": msg.replace(token, "[token]") if token else msg,
        "requests": len(requests),
        "problems": [p.replace(token, "[token]") for p in problems if p],
    }


def fault_matrix_bad_input(result, bad, requests, token):
    """Judge one bad input: it must fail before any request, with a clean message.

    result: what the module (or the role) registered; bad: the entry of bad_inputs in
    vars/main.yml; requests: the simulator's request log since the run started; token:
    the API token of the run.
    Returns the problems, as sentences (empty when the input was refused as it should).
    """
    result = dict(result or {})
    msg = result.get("msg")
    msg = "" if msg is None else str(msg)
    token = (bad.get("args") or {}).get("api_token", token)
    problems = []
    if not result.get("failed", False):
        problems.append("the task did not fail")
    if bad["msg"] not in msg:
        problems.append("the message %r does not contain %r" % (msg, bad["msg"]))
    if "module_stderr" in result or "Module failed" in msg:
        problems.append("the module crashed")
    if token and token in msg:
        problems.append("the message shows the token")
    if requests:
        sent = ["%s %s" % (request["method"], request["path"]) for request in requests]
        problems.append("%d requests reached the simulator: %s" % (len(requests), sent))
    return problems


class FilterModule:
    """The fault matrix's filters."""

    def filters(self):
        return {
            "fault_matrix_verdict": fault_matrix_verdict,
            "fault_matrix_bad_input": fault_matrix_bad_input,
        }

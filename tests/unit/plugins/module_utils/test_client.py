# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests for plugins/module_utils/_client.py. HTTP is mocked with the responses library only."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.client import RemoteDisconnected

import pytest
import requests
import responses
from responses import matchers
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from ansible_collections.cloud66.cloud.plugins.module_utils._client import (
    RATE_LIMIT_NOTE,
    Cloud66Client,
    Deadline,
    api_path,
    check_api_url,
)
from ansible_collections.cloud66.cloud.plugins.module_utils._errors import (
    Cloud66Error,
    excerpt,
    scrub,
    scrub_all,
    strip_tags,
)

TOKEN = "c66tok-9f8e7d6c5b4a-SECRET"
BASE = "https://api.cloud66.test/api/3"
OTHER_HOST = "https://elsewhere.test"


def make_client(**kwargs):
    """A client whose sleeps are recorded instead of slept."""
    sleeps = []
    kwargs.setdefault("retries", 3)
    client = Cloud66Client(BASE, TOKEN, sleep=sleeps.append, **kwargs)
    return client, sleeps


def expect_error(call, *args, **kwargs):
    """Run ``call``, require a Cloud66Error, and check that the token is nowhere in what it says."""
    with pytest.raises(Cloud66Error) as info:
        call(*args, **kwargs)
    error = info.value
    assert TOKEN not in error.message
    assert TOKEN not in str(error)
    assert TOKEN not in repr(error.details())
    assert TOKEN not in repr(error.description)
    assert "Traceback" not in error.message
    return error


def refused():
    """What requests raises when nothing listens on the port: the connection was never made."""
    reason = NewConnectionError(
        None, "Failed to establish a new connection: [Errno 111] Connection refused"
    )
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/api/3/x", reason=reason))


def dropped():
    """What requests raises when the server closes the connection after the request was sent."""
    return requests.exceptions.ConnectionError(
        ProtocolError(
            "Connection aborted.",
            RemoteDisconnected("Remote end closed connection without response"),
        )
    )


def error_body(code, description, details=None):
    body = {"error": code, "error_description": description}
    if details is not None:
        body["details"] = details
    return body


THROTTLED = error_body("throttled", "Rate limit exceeded")


def page_body(items, current, pages, total=None, prev_key="previous", next_page="auto"):
    if next_page == "auto":
        next_page = current + 1 if current < pages else None
    pagination = {
        prev_key: current - 1 if current > 1 else None,
        "next": next_page,
        "current": current,
        "per_page": 30,
        "count": total if total is not None else len(items),
        "pages": pages,
    }
    return {"response": items, "count": len(items), "pagination": pagination}


def add_page(api, path, page, body):
    api.add(
        responses.GET,
        BASE + path,
        json=body,
        match=[matchers.query_param_matcher({"page": str(page)})],
    )


def items(start, count):
    return [
        {"uid": "db_%03d" % number, "name": "db%03d" % number}
        for number in range(start, start + count)
    ]


def requested_pages(api):
    return [call.request.params.get("page") for call in api.calls]


# --- headers and bodies ---------------------------------------------------------------------------------------


def test_every_request_carries_auth_accept_user_agent_and_account(api):
    api.add(responses.GET, BASE + "/stacks", json={"response": []})
    api.add(responses.POST, BASE + "/stacks/s1/things", json={"response": {"id": 1}})
    api.add(responses.DELETE, BASE + "/stacks/s1/things/1", json={"response": {"id": 2}})
    client, sleeps = make_client(
        account_id=4711, user_agent="cloud66.cloud/9.9.9 ansible-core/2.19"
    )

    client.get("/stacks")
    client.post("/stacks/s1/things", {"a": 1})
    client.delete("/stacks/s1/things/1")

    assert len(api.calls) == 3
    for call in api.calls:
        headers = call.request.headers
        assert headers["Authorization"] == "Bearer %s" % TOKEN
        assert headers["Accept"] == "application/json"
        assert headers["User-Agent"] == "cloud66.cloud/9.9.9 ansible-core/2.19"
        assert headers["X-Account"] == "4711"
    assert sleeps == []
    assert client.request_count == 3


def test_no_account_header_without_account_id(api):
    api.add(responses.GET, BASE + "/stacks", json={"response": []})
    client, dummy = make_client()
    client.get("/stacks")
    assert "X-Account" not in api.calls[0].request.headers
    assert api.calls[0].request.headers["Authorization"] == "Bearer %s" % TOKEN


def test_trailing_slash_of_api_url_is_dropped(api):
    api.add(responses.GET, BASE + "/stacks", json={"response": []})
    client = Cloud66Client(BASE + "/", TOKEN)
    client.get("/stacks")
    assert api.calls[0].request.url == BASE + "/stacks"


def test_post_sends_json_body_and_returns_decoded_answer(api):
    body = {"database_name": "app_db", "database_user_ids": ["user_abc123", "user_def456"]}
    api.add(
        responses.POST,
        BASE + "/stacks/s1/server_groups/42/databases",
        json={"response": {"id": 792}},
        match=[matchers.json_params_matcher(body)],
    )
    client, dummy = make_client()

    answer = client.post("/stacks/s1/server_groups/42/databases", body)

    assert answer == {"response": {"id": 792}}
    request = api.calls[0].request
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == body


def test_get_sends_no_body_and_passes_query_params(api):
    api.add(
        responses.GET,
        BASE + "/stacks",
        json={"response": []},
        match=[matchers.query_param_matcher({"page": "4"})],
    )
    client, dummy = make_client()
    client.get("/stacks", params={"page": 4})
    assert api.calls[0].request.body is None
    assert api.calls[0].request.params == {"page": "4"}


# --- api_path -------------------------------------------------------------------------------------------------


def test_api_path_quotes_every_segment():
    assert api_path("stacks", "abc", "server_groups", 42) == "/stacks/abc/server_groups/42"
    assert api_path("stacks", "a/b?c#d;e f") == "/stacks/a%2Fb%3Fc%23d%3Be%20f"
    assert api_path("stacks", "a..b", ".x") == "/stacks/a..b/.x"


@pytest.mark.parametrize("segment", ["..", ".", ""])
def test_api_path_refuses_segments_that_would_change_the_path(api, segment):
    """requests resolves dot segments, even percent-encoded ones.

    /stacks/../server_groups would go to /server_groups.
    """
    api.add(responses.GET, BASE + "/server_groups", json={"response": []})
    client, dummy = make_client(retries=0)
    error = expect_error(lambda: client.get(api_path("stacks", segment, "server_groups")))
    assert "must not be empty, '.' or '..'" in error.message
    assert len(api.calls) == 0


# --- pagination -----------------------------------------------------------------------------------------------


def test_pages_walks_every_page(api):
    add_page(api, "/stacks", 1, page_body(items(0, 30), 1, 3, total=65))
    add_page(api, "/stacks", 2, page_body(items(30, 30), 2, 3, total=65))
    add_page(api, "/stacks", 3, page_body(items(60, 5), 3, 3, total=65))
    client, dummy = make_client()

    pages = list(client.pages("/stacks"))

    assert [len(page) for page in pages] == [30, 30, 5]
    assert [item["uid"] for page in pages for item in page] == [
        "db_%03d" % number for number in range(65)
    ]
    assert requested_pages(api) == ["1", "2", "3"]


def test_pages_stops_when_caller_stops(api):
    for page in (1, 2, 3):
        add_page(api, "/stacks", page, page_body(items(30 * (page - 1), 30), page, 3))
    client, dummy = make_client()

    iterator = client.pages("/stacks")
    first = next(iterator)
    assert len(first) == 30
    assert len(api.calls) == 1

    second = next(iterator)
    assert second[0]["uid"] == "db_030"
    assert len(api.calls) == 2
    iterator.close()
    assert len(api.calls) == 2


def test_pages_break_out_of_loop_sends_no_more_requests(api):
    for page in (1, 2, 3):
        add_page(api, "/stacks", page, page_body(items(30 * (page - 1), 30), page, 3))
    client, dummy = make_client()
    for page in client.pages("/stacks"):
        if any(item["name"] == "db031" for item in page):
            break
    assert requested_pages(api) == ["1", "2"]


def test_pages_tolerates_prev_instead_of_previous(api):
    add_page(api, "/stacks", 1, page_body(items(0, 30), 1, 2, prev_key="prev"))
    add_page(api, "/stacks", 2, page_body(items(30, 1), 2, 2, prev_key="prev"))
    client, dummy = make_client()
    assert sum(len(page) for page in client.pages("/stacks")) == 31
    assert requested_pages(api) == ["1", "2"]


def test_pages_steps_forward_when_next_does_not_advance(api):
    add_page(api, "/stacks", 1, page_body(items(0, 30), 1, 3, next_page=1))
    add_page(api, "/stacks", 2, page_body(items(30, 30), 2, 3, next_page=2))
    add_page(api, "/stacks", 3, page_body(items(60, 30), 3, 3, next_page=3))
    client, dummy = make_client()
    assert sum(len(page) for page in client.pages("/stacks")) == 90
    assert requested_pages(api) == ["1", "2", "3"]


def test_pages_with_stuck_next_and_no_page_count_ends_at_an_empty_page(api):
    stuck = {"previous": None, "next": 1, "current": 1, "per_page": 30}
    add_page(api, "/stacks", 1, {"response": items(0, 30), "pagination": stuck})
    add_page(api, "/stacks", 2, {"response": items(30, 30), "pagination": stuck})
    add_page(api, "/stacks", 3, {"response": [], "pagination": stuck})
    client, dummy = make_client()
    assert [len(page) for page in client.pages("/stacks")] == [30, 30, 0]
    assert requested_pages(api) == ["1", "2", "3"]


def test_pages_stops_at_an_empty_page_even_if_next_is_set(api):
    add_page(api, "/stacks", 1, page_body([], 1, 5, next_page=2))
    add_page(api, "/stacks", 2, page_body(items(0, 30), 2, 5))
    client, dummy = make_client()
    assert list(client.pages("/stacks")) == [[]]
    assert len(api.calls) == 1


def test_pages_stops_at_last_page_even_if_next_is_set(api):
    add_page(api, "/stacks", 1, page_body(items(0, 30), 1, 1, next_page=2))
    add_page(api, "/stacks", 2, page_body(items(30, 30), 2, 2))
    client, dummy = make_client()
    assert [len(page) for page in client.pages("/stacks")] == [30]
    assert len(api.calls) == 1


def test_pages_stops_when_next_is_null(api):
    add_page(api, "/stacks", 1, page_body(items(0, 30), 1, 4, next_page=None))
    client, dummy = make_client()
    assert [len(page) for page in client.pages("/stacks")] == [30]
    assert len(api.calls) == 1


def test_pages_without_pagination_is_one_page(api):
    add_page(api, "/stacks", 1, {"response": items(0, 3)})
    client, dummy = make_client()
    assert [len(page) for page in client.pages("/stacks")] == [3]
    assert len(api.calls) == 1


def test_pages_follows_a_next_that_skips_ahead(api):
    add_page(api, "/stacks", 1, page_body(items(0, 30), 1, 4, next_page=3))
    add_page(api, "/stacks", 3, page_body(items(60, 30), 3, 4, next_page=None))
    client, dummy = make_client()
    assert [len(page) for page in client.pages("/stacks")] == [30, 30]
    assert requested_pages(api) == ["1", "3"]


# --- error mapping --------------------------------------------------------------------------------------------


def test_400_shows_the_servers_error_description(api):
    api.add(
        responses.POST,
        BASE + "/stacks/s1/server_groups/42/databases",
        status=400,
        json=error_body("bad_request", "Database name contains invalid characters"),
    )
    client, sleeps = make_client()

    error = expect_error(
        client.post, "/stacks/s1/server_groups/42/databases", {"database_name": "x"}
    )

    assert "Database name contains invalid characters" in error.message
    assert "400" in error.message
    assert "POST /stacks/s1/server_groups/42/databases" in error.message
    assert error.status == 400
    assert error.error == "bad_request"
    assert error.description == "Database name contains invalid characters"
    assert not error.transient and not error.ambiguous
    assert error.details() == {"attempts": 1, "status_code": 400, "error": "bad_request"}
    assert len(api.calls) == 1
    assert sleeps == []


def test_details_are_preferred_over_error_description(api):
    api.add(
        responses.GET,
        BASE + "/stacks/s1",
        status=400,
        json=error_body(
            "bad_request",
            "Bad request",
            details="Server group does not support database operations",
        ),
    )
    client, dummy = make_client()
    error = expect_error(client.get, "/stacks/s1")
    assert "Server group does not support database operations" in error.message


@pytest.mark.parametrize(
    "method, scope", [("GET", "public"), ("POST", "admin"), ("DELETE", "admin")]
)
def test_403_names_the_scope_the_method_needs(api, method, scope):
    api.add(
        method,
        BASE + "/stacks/s1/server_groups/42/databases",
        status=403,
        json=error_body("forbidden", "Insufficient scope"),
    )
    client, sleeps = make_client()
    path = "/stacks/s1/server_groups/42/databases"
    call = {
        "GET": lambda: client.get(path),
        "POST": lambda: client.post(path, {}),
        "DELETE": lambda: client.delete(path),
    }[method]

    error = expect_error(call)

    assert "403" in error.message
    assert "needs a token with the '%s' scope" % scope in error.message
    assert "%s %s" % (method, path) in error.message
    assert "Insufficient scope" in error.message
    assert error.status == 403
    assert len(api.calls) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    "path, status, code, description, words",
    [
        # 401: names the token setting
        (
            "/stacks",
            401,
            "unauthenticated",
            "Invalid access token",
            ["401", "api_token", "CLOUD66_API_TOKEN"],
        ),
        # 404: says what was not found
        (
            "/stacks/nope",
            404,
            "not_found",
            "Stack not found",
            ["GET /stacks/nope", "404", "Stack not found"],
        ),
    ],
)
def test_a_final_error_fails_at_once_and_says_why(api, path, status, code, description, words):
    api.add(responses.GET, BASE + path, status=status, json=error_body(code, description))
    client, sleeps = make_client()
    error = expect_error(client.get, path)
    assert [word for word in words if word not in error.message] == []
    assert error.status == status and error.error == code
    assert not error.transient
    assert len(api.calls) == 1
    assert sleeps == []


def test_html_error_body_gives_a_clear_message(api):
    html = (
        "<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1>"
        "<p>Something went wrong</p></body></html>"
    )
    api.add(responses.GET, BASE + "/stacks", status=500, body=html, content_type="text/html")
    client, dummy = make_client()
    error = expect_error(client.get, "/stacks")
    assert "HTTP 500" in error.message
    assert "Internal Server Error" in error.message
    assert "Something went wrong" in error.message
    assert "<" not in error.message
    assert error.status == 500
    assert error.error is None
    assert len(api.calls) == 1


def test_empty_error_body_is_described(api):
    api.add(responses.GET, BASE + "/stacks", status=418, body="")
    client, dummy = make_client()
    error = expect_error(client.get, "/stacks")
    assert "HTTP 418" in error.message
    assert "empty body" in error.message


def test_long_non_json_error_body_is_cut(api):
    api.add(responses.GET, BASE + "/stacks", status=500, body="x" * 5000, content_type="text/plain")
    client, dummy = make_client()
    error = expect_error(client.get, "/stacks")
    assert "x" * 200 in error.message
    assert "x" * 201 not in error.message


def test_non_json_success_body_is_a_transient_error(api):
    api.add(
        responses.GET,
        BASE + "/stacks",
        status=200,
        body="<html><body>Welcome to nginx!</body></html>",
        content_type="text/html",
    )
    client, sleeps = make_client()
    error = expect_error(client.get, "/stacks")
    assert "not JSON (Welcome to nginx!)" in error.message
    assert "200" in error.message
    assert BASE in error.message
    assert "Gave up after 4 attempts" in error.message
    assert error.status == 200
    assert error.transient and not error.ambiguous
    assert len(api.calls) == 4
    assert len(sleeps) == 3


@pytest.mark.parametrize(
    "method, status", [("GET", 301), ("GET", 302), ("POST", 307), ("DELETE", 308)]
)
def test_redirects_are_not_followed(api, method, status):
    target = OTHER_HOST + "/api/3/stacks"
    api.add(method, BASE + "/stacks", status=status, headers={"Location": target}, body="")
    elsewhere = api.add(method, target, json={"response": []})
    client, sleeps = make_client()
    call = {
        "GET": lambda: client.get("/stacks"),
        "POST": lambda: client.post("/stacks", {"a": 1}),
        "DELETE": lambda: client.delete("/stacks"),
    }[method]

    error = expect_error(call)

    assert error.status == status
    assert "redirected" in error.message
    assert target in error.message
    assert len(api.calls) == 1
    assert elsewhere.call_count == 0
    assert all(call.request.url.startswith(BASE) for call in api.calls)
    assert not any(call.request.url.startswith(OTHER_HOST) for call in api.calls)
    assert sleeps == []


# --- retries --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, body",
    [
        (429, error_body("too_many_requests", "Slow down")),
        (503, THROTTLED),
        (502, "<html><body>Bad Gateway</body></html>"),
        (504, "<html><body>Gateway Timeout</body></html>"),
    ],
)
@pytest.mark.parametrize("retries", [0, 1, 4])
def test_get_retries_transient_statuses_exactly_retries_times(api, status, body, retries):
    kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
    api.add(responses.GET, BASE + "/stacks", status=status, **kwargs)
    client, sleeps = make_client(retries=retries)

    error = expect_error(client.get, "/stacks")

    assert len(api.calls) == retries + 1
    assert len(sleeps) == retries
    assert error.attempts == retries + 1
    assert error.status == status
    assert error.transient
    assert not error.ambiguous
    if retries:
        assert "Gave up after %d attempts." % (retries + 1) in error.message
    else:
        assert "Gave up" not in error.message


def test_throttled_message_mentions_the_hourly_limit_and_attempts(api):
    api.add(responses.GET, BASE + "/stacks", status=503, json=THROTTLED)
    client, dummy = make_client(retries=2)
    error = expect_error(client.get, "/stacks")
    assert "throttled" in error.message
    assert "3,000" in error.message
    assert "per hour" in error.message
    assert RATE_LIMIT_NOTE in error.message
    assert error.message.endswith("Gave up after 3 attempts.")
    assert len(api.calls) == 3


def test_throttling_recognised_from_the_description(api):
    api.add(
        responses.GET,
        BASE + "/stacks",
        status=503,
        json={"error": "service_unavailable", "error_description": "Throttled"},
    )
    client, dummy = make_client(retries=0)
    error = expect_error(client.get, "/stacks")
    assert "3,000" in error.message


def test_429_message_mentions_the_hourly_limit(api):
    api.add(
        responses.GET,
        BASE + "/stacks",
        status=429,
        json=error_body("rate_limited", "Too many requests"),
    )
    client, dummy = make_client(retries=1)
    error = expect_error(client.get, "/stacks")
    assert "429" in error.message
    assert "3,000" in error.message
    assert "Gave up after 2 attempts." in error.message


def test_get_succeeds_after_transient_failures(api):
    api.add(responses.GET, BASE + "/stacks", status=503, json=THROTTLED)
    api.add(responses.GET, BASE + "/stacks", status=502, body="bad gateway")
    api.add(responses.GET, BASE + "/stacks", status=504, body="gateway timeout")
    api.add(responses.GET, BASE + "/stacks", status=429, json={})
    api.add(responses.GET, BASE + "/stacks", json={"response": [{"uid": "s1"}]})
    client, sleeps = make_client(retries=5)
    assert client.get("/stacks") == {"response": [{"uid": "s1"}]}
    assert len(api.calls) == 5
    assert len(sleeps) == 4


def test_per_call_retries_override_the_client_setting(api):
    api.add(responses.GET, BASE + "/stacks", status=503, json=THROTTLED)
    client, sleeps = make_client(retries=5)
    expect_error(client.get, "/stacks", retries=1)
    assert len(api.calls) == 2
    assert len(sleeps) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_are_honoured(api, status):
    api.add(
        responses.GET, BASE + "/stacks", status=status, json=THROTTLED, headers={"Retry-After": "7"}
    )
    api.add(
        responses.GET, BASE + "/stacks", status=status, json=THROTTLED, headers={"Retry-After": "0"}
    )
    api.add(responses.GET, BASE + "/stacks", json={"response": []})
    client, sleeps = make_client()
    client.get("/stacks")
    assert sleeps == [7.0, 0.0]
    assert len(api.calls) == 3


def test_retry_after_as_a_past_http_date_means_no_wait(api):
    api.add(
        responses.GET,
        BASE + "/stacks",
        status=503,
        json=THROTTLED,
        headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},
    )
    api.add(responses.GET, BASE + "/stacks", json={"response": []})
    client, sleeps = make_client()
    client.get("/stacks")
    assert sleeps == [0.0]


def test_retry_after_beyond_the_cap_fails_at_once(api):
    api.add(responses.GET, BASE + "/stacks", status=429, json={}, headers={"Retry-After": "86400"})
    api.add(responses.GET, BASE + "/stacks", json={"response": []})
    client, sleeps = make_client()
    error = expect_error(client.get, "/stacks")
    assert "asked to wait 86400 s" in error.message
    assert "the 120 s this collection waits at most" in error.message
    assert sleeps == []
    assert len(api.calls) == 1


def test_retry_after_up_to_the_cap_is_honoured(api):
    api.add(responses.GET, BASE + "/stacks", status=429, json={}, headers={"Retry-After": "120"})
    api.add(responses.GET, BASE + "/stacks", json={"response": []})
    client, sleeps = make_client()
    client.get("/stacks")
    assert sleeps == [120.0]


def test_unparsable_retry_after_falls_back_to_backoff(api):
    api.add(
        responses.GET, BASE + "/stacks", status=503, json=THROTTLED, headers={"Retry-After": "soon"}
    )
    api.add(responses.GET, BASE + "/stacks", json={"response": []})
    client, sleeps = make_client()
    client.get("/stacks")
    assert len(sleeps) == 1
    assert 0.5 <= sleeps[0] <= 1.0


def test_backoff_grows_and_is_capped(api):
    api.add(responses.GET, BASE + "/stacks", status=502, body="bad gateway")
    client, sleeps = make_client(retries=8)
    expect_error(client.get, "/stacks")
    assert len(sleeps) == 8
    for attempt, seconds in enumerate(sleeps, start=1):
        ceiling = min(client.backoff_cap, client.backoff_base * 2 ** (attempt - 1))
        assert ceiling / 2 <= seconds <= ceiling
    assert max(sleeps) <= client.backoff_cap


# --- writes: never repeated when the server may have acted ---------------------------------------------------


@pytest.mark.parametrize("status", [502, 504])
@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_write_is_not_repeated_after_a_gateway_error(api, method, status):
    api.add(method, BASE + "/stacks/s1/things", status=status, body="<html>gateway</html>")
    api.add(method, BASE + "/stacks/s1/things", json={"response": {"id": 1}})
    client, sleeps = make_client(retries=5)
    call = client.post if method == "POST" else client.delete
    args = ("/stacks/s1/things", {"a": 1}) if method == "POST" else ("/stacks/s1/things",)

    error = expect_error(call, *args)

    assert error.ambiguous
    assert error.transient
    assert error.status == status
    assert error.attempts == 1
    assert "Gave up" not in error.message
    assert len(api.calls) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    "exception, words",
    [
        (requests.exceptions.ReadTimeout("read timed out"), "got no answer within 30 s"),
        (dropped(), "lost the connection"),
    ],
)
def test_post_is_not_repeated_when_the_answer_is_lost(api, exception, words):
    api.add(responses.POST, BASE + "/stacks/s1/things", body=exception)
    api.add(responses.POST, BASE + "/stacks/s1/things", json={"response": {"id": 1}})
    client, sleeps = make_client(retries=5)

    error = expect_error(client.post, "/stacks/s1/things", {"a": 1})

    assert error.ambiguous
    assert error.transient
    assert error.status is None
    assert words in error.message
    assert "POST /stacks/s1/things" in error.message
    assert len(api.calls) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    "status, body", [(503, THROTTLED), (429, error_body("too_many_requests", "Slow down"))]
)
def test_post_is_repeated_when_the_server_surely_did_not_act(api, status, body):
    api.add(responses.POST, BASE + "/stacks/s1/things", status=status, json=body)
    api.add(responses.POST, BASE + "/stacks/s1/things", status=status, json=body)
    api.add(responses.POST, BASE + "/stacks/s1/things", json={"response": {"id": 5}})
    client, sleeps = make_client(retries=3)
    assert client.post("/stacks/s1/things", {"a": 1}) == {"response": {"id": 5}}
    assert len(api.calls) == 3
    assert len(sleeps) == 2
    assert all(json.loads(call.request.body) == {"a": 1} for call in api.calls)


def test_post_throttled_until_retries_run_out_is_not_ambiguous(api):
    api.add(responses.POST, BASE + "/stacks/s1/things", status=503, json=THROTTLED)
    client, sleeps = make_client(retries=2)
    error = expect_error(client.post, "/stacks/s1/things", {"a": 1})
    assert not error.ambiguous
    assert error.transient
    assert len(api.calls) == 3
    assert "3,000" in error.message
    assert "Gave up after 3 attempts." in error.message


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_connection_refused_is_retried_and_not_ambiguous(api, method):
    api.add(method, BASE + "/stacks", body=refused())
    client, sleeps = make_client(retries=2)
    call = client.get if method == "GET" else (lambda path: client.post(path, {"a": 1}))

    error = expect_error(call, "/stacks")

    assert not error.ambiguous
    assert error.transient
    assert error.status is None
    assert "could not connect to %s" % BASE in error.message
    assert "Gave up after 3 attempts." in error.message
    assert len(api.calls) == 3
    assert len(sleeps) == 2


def test_post_goes_through_after_connection_refused(api):
    api.add(responses.POST, BASE + "/stacks", body=refused())
    api.add(responses.POST, BASE + "/stacks", json={"response": {"id": 3}})
    client, sleeps = make_client(retries=2)
    assert client.post("/stacks", {"a": 1}) == {"response": {"id": 3}}
    assert len(api.calls) == 2
    assert len(sleeps) == 1


def test_connect_timeout_on_post_is_retried_and_not_ambiguous(api):
    api.add(
        responses.POST,
        BASE + "/stacks",
        body=requests.exceptions.ConnectTimeout("connect timed out"),
    )
    client, sleeps = make_client(retries=1)
    error = expect_error(client.post, "/stacks", {"a": 1})
    assert not error.ambiguous
    assert error.transient
    assert "timed out while connecting" in error.message
    assert len(api.calls) == 2


@pytest.mark.parametrize(
    "exception", [requests.exceptions.ReadTimeout("read timed out"), dropped(), refused()]
)
def test_get_is_retried_on_any_network_failure(api, exception):
    api.add(responses.GET, BASE + "/stacks", body=exception)
    api.add(responses.GET, BASE + "/stacks", json={"response": []})
    client, sleeps = make_client(retries=1)
    assert client.get("/stacks") == {"response": []}
    assert len(api.calls) == 2
    assert len(sleeps) == 1


def test_tls_failure_is_not_retried_and_explains_validate_certs(api):
    api.add(
        responses.GET,
        BASE + "/stacks",
        body=requests.exceptions.SSLError("certificate verify failed"),
    )
    client, sleeps = make_client(retries=3)
    error = expect_error(client.get, "/stacks")
    assert "TLS" in error.message
    assert "validate_certs" in error.message
    assert not error.transient
    assert len(api.calls) == 1
    assert sleeps == []


def test_other_request_failures_become_cloud66_errors(api):
    api.add(responses.GET, BASE + "/stacks", body=requests.exceptions.TooManyRedirects("loop"))
    client, sleeps = make_client(retries=3)
    error = expect_error(client.get, "/stacks")
    assert "GET /stacks failed: TooManyRedirects" in error.message
    assert len(api.calls) == 1


# --- the token never shows ------------------------------------------------------------------------------------


def test_token_appears_in_no_error_message(api):
    path = "/stacks/s1/server_groups/42/databases"
    provocations = [
        (
            "GET",
            {
                "status": 400,
                "json": error_body("bad_request", "Group does not support database operations"),
            },
        ),
        ("GET", {"status": 401, "json": error_body("unauthenticated", "Token is invalid")}),
        ("POST", {"status": 403, "json": error_body("forbidden", "Missing scope")}),
        ("DELETE", {"status": 404, "json": error_body("not_found", "Not found")}),
        ("GET", {"status": 500, "body": "<html><body>Oops</body></html>"}),
        ("GET", {"status": 200, "body": "not json"}),
        ("GET", {"status": 302, "headers": {"Location": OTHER_HOST + "/login"}, "body": ""}),
        ("GET", {"status": 503, "json": THROTTLED}),
        ("GET", {"status": 429, "json": {}}),
        ("POST", {"status": 502, "body": "Bad Gateway"}),
        ("POST", {"status": 504, "body": "Gateway Timeout"}),
        ("POST", {"body": requests.exceptions.ReadTimeout("read timed out")}),
        ("POST", {"body": dropped()}),
        ("GET", {"body": refused()}),
        ("GET", {"body": requests.exceptions.ConnectTimeout("connect timed out")}),
        ("GET", {"body": requests.exceptions.SSLError("bad certificate")}),
    ]
    messages = []
    for method, answer in provocations:
        api.reset()
        api.add(method, BASE + path, **answer)
        client, dummy = make_client(retries=1, account_id="acc1")
        call = {
            "GET": lambda client=client: client.get(path),
            "POST": lambda client=client: client.post(path, {"database_name": "x"}),
            "DELETE": lambda client=client: client.delete(path),
        }[method]
        error = expect_error(call)
        messages.append(error.message)
    assert len(messages) == len(provocations)
    assert all(message and TOKEN not in message for message in messages)
    assert not any(TOKEN[:12] in message for message in messages)


# --- check_api_url --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://app.cloud66.com/api/3",
        "https://app.cloud66.com/api/3/",
        "https://c66.example.com:8443/api/3",
        "http://127.0.0.1:8080/api/3",
        "http://127.0.0.5/api/3",
        "http://[::1]:9000/api/3",
        "http://localhost:8080/api/3",
        "http://LOCALHOST/api/3",
    ],
)
def test_usable_api_urls(url):
    assert check_api_url(url) is None


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "app.cloud66.com/api/3",
        "ftp://app.cloud66.com/api/3",
        "https://",
        "https:///api/3",
        "http://[::1",
        "https://[not-an-address]/api/3",
        "https://app.cloud66.com:99999/api/3",
        "https://app.cloud66.com:port/api/3",
    ],
)
def test_malformed_api_urls_get_a_message_not_an_exception(url):
    problem = check_api_url(url)
    assert isinstance(problem, str)
    assert "api_url" in problem


PLAIN_HTTP = ["https", "unencrypted"]
CREDENTIALS = ["credentials"]


@pytest.mark.parametrize(
    "url, words",
    [
        # plain http to a remote host
        ("http://app.cloud66.com/api/3", PLAIN_HTTP),
        ("http://10.0.0.5:8080/api/3", PLAIN_HTTP),
        ("http://127.0.0.1.example.com/api/3", PLAIN_HTTP),
        ("http://0.0.0.0:8080/api/3", PLAIN_HTTP),
        ("http://[2001:db8::1]/api/3", PLAIN_HTTP),
        # credentials, a query or a fragment
        ("https://user:hunter2@app.cloud66.com/api/3", CREDENTIALS),
        ("https://%s@app.cloud66.com/api/3" % TOKEN, CREDENTIALS),
        ("https://app.cloud66.com/api/3?token=abc", CREDENTIALS),
        ("https://app.cloud66.com/api/3#frag", CREDENTIALS),
    ],
)
def test_unsafe_api_urls_are_refused_without_quoting_a_secret(url, words):
    problem = check_api_url(url)
    assert problem is not None
    assert [word for word in words if word not in problem] == []
    assert "hunter2" not in problem
    assert TOKEN not in problem


# --- answers and inputs the API should never give, handled without a crash ------------------------------------


def test_a_503_that_is_not_throttling_fails_at_once(api):
    api.add(
        responses.GET,
        BASE + "/stacks",
        status=503,
        json=error_body("not_implemented", "Not implemented yet"),
    )
    client, sleeps = make_client()
    error = expect_error(client.get, "/stacks")
    assert len(api.calls) == 1
    assert sleeps == []
    assert "503 not_implemented" in error.message
    assert "Not implemented yet" in error.message


def test_a_503_gateway_page_is_retried(api):
    api.add(responses.GET, BASE + "/stacks", status=503, body="<html>Service Unavailable</html>")
    api.add(responses.GET, BASE + "/stacks", json={"response": []})
    client, sleeps = make_client()
    assert client.get("/stacks") == {"response": []}
    assert len(api.calls) == 2


@pytest.mark.parametrize(
    "body", [[1, 2], {"items": []}, {"response": {"name": "x"}}, {"response": [1, 2]}]
)
def test_a_list_answer_of_the_wrong_shape_is_a_clear_error(api, body):
    api.add(responses.GET, BASE + "/stacks", json=body)
    client = make_client()[0]
    error = expect_error(lambda: list(client.pages("/stacks")))
    assert "expected a 'response' list of objects" in error.message


def test_pagination_numbers_that_are_not_numbers_end_the_paging(api):
    body = {"response": [{"uid": "a"}], "pagination": {"next": "later", "pages": "many"}}
    api.add(responses.GET, BASE + "/stacks", json=body)
    client = make_client()[0]
    assert list(client.pages("/stacks")) == [[{"uid": "a"}]]


@pytest.mark.parametrize(
    "details, shown",
    [
        (["name is taken", "too short"], "name is taken; too short"),
        ({"name": ["is taken"]}, '{"name": ["is taken"]}'),
    ],
)
def test_error_details_that_are_not_text_are_shown_as_text(api, details, shown):
    api.add(
        responses.POST,
        BASE + "/stacks",
        status=400,
        json=error_body("bad_request", "Invalid", details),
    )
    client = make_client()[0]
    error = expect_error(client.post, "/stacks", {})
    assert shown in error.message


def test_a_token_that_cannot_go_in_a_header_is_never_quoted():
    # http.client refuses the header only on a real connection: a loopback socket that listens is enough.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = "http://127.0.0.1:%d/api/3" % listener.getsockname()[1]
        client = Cloud66Client(url, TOKEN + "\n", timeout=2, sleep=lambda seconds: None)
        error = expect_error(client.get, "/stacks")
    assert "could not be sent" in error.message
    assert TOKEN[:12] not in error.message


# --- hostile servers: cut, slow and odd answers, the time budget, token fragments ---------------------------------


class Budget:
    """A deadline whose remaining seconds the test sets."""

    def __init__(self, left):
        self.left = left

    def remaining(self):
        return self.left


def test_scrub_hides_the_token_and_every_fragment_of_eight_characters():
    assert scrub("a %s b" % TOKEN, TOKEN) == "a [hidden] b"
    assert scrub("echo: Bearer %s" % TOKEN[:14], TOKEN) == "echo: Bearer [hidden]"
    assert scrub("tail %s!" % TOKEN[-9:], TOKEN) == "tail [hidden]!"
    # Seven characters are not a fragment; text without the token is left alone.
    assert scrub("x %s y" % TOKEN[3:10], TOKEN) == "x %s y" % TOKEN[3:10]
    assert scrub("nothing here", TOKEN) == "nothing here"


def test_scrub_all_hides_fragments_in_every_string_of_a_result():
    result = {
        "msg": "x" + TOKEN[:-1],
        TOKEN[2:12]: [{"finished_message": "a %s b" % TOKEN[4:]}, 3, None],
    }
    assert scrub_all(result, TOKEN) == {
        "msg": "x[hidden]",
        "[hidden]": [{"finished_message": "a [hidden] b"}, 3, None],
    }


def test_excerpt_scrubs_before_it_cuts_and_is_bounded():
    # Cut at 200 characters, the old excerpt showed 15 characters of the token; the scrubbed one shows none.
    text = "<pre>" + "x" * 168 + " Authorization: Bearer " + TOKEN + "</pre>"
    shown = excerpt(text, TOKEN)
    assert "Bearer [hidden]" in shown
    assert all(TOKEN[start : start + 8] not in shown for start in range(len(TOKEN) - 7))
    assert len(excerpt("y" * 10000, TOKEN)) == 203


def test_strip_tags_in_one_pass():
    assert strip_tags("<h1>Bad</h1><p>Gateway</p>").split() == ["Bad", "Gateway"]
    assert strip_tags("a < b and <b>c") == "a  c"
    huge = "<" * 150000
    assert strip_tags(huge) == huge


@pytest.mark.parametrize("value", ["\u00b2", "\u0662", "1.5", "-3", ""])
def test_retry_after_that_is_not_ascii_digits_falls_back_to_backoff(api, value):
    api.add(
        responses.GET, BASE + "/stacks", status=503, json=THROTTLED, headers={"Retry-After": value}
    )
    api.add(responses.GET, BASE + "/stacks", json={"response": []})
    client, sleeps = make_client()
    client.get("/stacks")
    assert len(sleeps) == 1 and 0.5 <= sleeps[0] <= 1.0


def test_retry_after_beyond_the_budget_fails_at_once(api):
    api.add(responses.GET, BASE + "/stacks", status=429, json={}, headers={"Retry-After": "30"})
    client, sleeps = make_client(deadline=Budget(5))
    error = expect_error(client.get, "/stacks")
    assert (
        "Cloud66 asked to wait 30 s" in error.message
        and "the 5 s left of wait_timeout" in error.message
    )
    assert sleeps == [] and len(api.calls) == 1


def test_no_sleep_past_the_budget(api):
    api.add(responses.GET, BASE + "/stacks", status=502, body="Bad Gateway")
    client, sleeps = make_client(deadline=Budget(0.2))
    client.backoff = lambda attempt: 1.0
    error = expect_error(client.get, "/stacks")
    assert "wait_timeout runs out before another attempt" in error.message
    assert sleeps == [] and len(api.calls) == 1


def test_nothing_is_sent_once_the_budget_is_spent(api):
    client, sleeps = make_client(deadline=Budget(0))
    error = expect_error(client.get, "/stacks")
    assert "was not sent: wait_timeout is spent" in error.message and error.transient
    assert len(api.calls) == 0


def test_the_request_timeout_is_cut_to_the_budget(api):
    seen = []
    api.add_callback(
        responses.GET,
        BASE + "/stacks",
        callback=lambda request: (
            seen.append(request.req_kwargs["timeout"]) or (200, {}, '{"response": []}')
        ),
    )
    make_client(deadline=Budget(2.5), timeout=30)[0].get("/stacks")
    assert seen == [2.5]


@pytest.mark.parametrize(
    "exception",
    [
        requests.exceptions.ChunkedEncodingError("cut"),
        requests.exceptions.ContentDecodingError("bad gzip"),
    ],
)
def test_an_answer_cut_part_way_is_retried_for_reads_and_ambiguous_for_writes(api, exception):
    api.add(responses.GET, BASE + "/stacks", body=exception)
    api.add(responses.GET, BASE + "/stacks", json={"response": []})
    api.add(responses.POST, BASE + "/stacks", body=exception)
    client, sleeps = make_client()
    assert client.get("/stacks") == {"response": []}
    error = expect_error(client.post, "/stacks", {})
    assert "part-way through the answer" in error.message
    assert error.transient and error.ambiguous


@pytest.mark.parametrize("body", ["", "<html>OK</html>"])
def test_a_success_that_is_not_json_is_ambiguous_for_a_write(api, body):
    api.add(responses.POST, BASE + "/stacks", status=200, body=body)
    error = expect_error(make_client()[0].post, "/stacks", {})
    assert "not JSON" in error.message and error.ambiguous and error.transient


def nested(depth):
    """A database record with a field nested ``depth`` levels below the answer's top."""
    inner = "[" * (depth - 3) + "1" + "]" * (depth - 3)
    return '{"response": [{"uid": "db_1", "deep": %s}]}' % inner


@pytest.mark.parametrize("body", [nested(65), nested(600), nested(5000), "[" * 100000])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_json_nested_deeper_than_64_levels_is_a_malformed_answer(api, body, method):
    api.add(method, BASE + "/stacks", status=200, body=body)
    client, sleeps = make_client(retries=1)
    error = expect_error(client.request, method, "/stacks")
    assert "nested deeper than 64 levels" in error.message
    # Like an answer too large: a read asks again, a write's fate is unknown.
    assert error.transient and error.ambiguous == (method == "POST")
    assert len(api.calls) == (2 if method == "GET" else 1)


def test_json_nested_64_levels_deep_is_read(api):
    api.add(responses.GET, BASE + "/stacks", status=200, body=nested(64))
    assert make_client()[0].get("/stacks")["response"][0]["uid"] == "db_1"


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_408_is_ambiguous_for_a_write_like_a_gateway_timeout(api, method):
    api.add(method, BASE + "/stacks", status=408, json=error_body("time_out", "Request timed out"))
    error = expect_error(make_client()[0].request, method, "/stacks")
    assert error.ambiguous and error.transient and error.status == 408


def test_paging_stops_at_a_page_that_repeats_the_one_before(api):
    body = {"response": [{"uid": "a"}], "pagination": {"next": 2}}
    api.add(responses.GET, BASE + "/stacks", json=body)
    client = make_client()[0]
    assert list(client.pages("/stacks")) == [[{"uid": "a"}]]
    assert len(api.calls) == 2


def test_paging_fails_past_the_ceiling(api, monkeypatch):
    import ansible_collections.cloud66.cloud.plugins.module_utils._client as client_module

    monkeypatch.setattr(client_module, "MAX_PAGES", 3)
    api.add_callback(
        responses.GET,
        BASE + "/stacks",
        callback=lambda request: (
            200,
            {},
            json.dumps(
                {
                    "response": [{"uid": request.params["page"]}],
                    "pagination": {"next": int(request.params["page"]) + 1},
                }
            ),
        ),
    )
    error = expect_error(lambda: list(make_client()[0].pages("/stacks")))
    assert "more pages after 3" in error.message
    assert len(api.calls) == 3


@pytest.mark.parametrize("following", ["Infinity", "NaN", "1e400", "2.5", "true"])
def test_page_numbers_that_are_not_whole_numbers_end_the_paging(api, following):
    api.add(
        responses.GET,
        BASE + "/stacks",
        body='{"response": [{"uid": "a"}], "pagination": {"next": %s}}' % following,
    )
    assert list(make_client()[0].pages("/stacks")) == [[{"uid": "a"}]]


# --- real sockets on 127.0.0.1: answers that drip, proxies and credentials from the environment ------------------


class LoopbackServer:
    """A server on 127.0.0.1 that reads each request's head and answers with ``answer(connection)``.

    It records every request head it reads. A dripping answer stops when the client hangs up, or after
    DRIP_LIMIT bytes, so a client that does not give up ends the test with a wrong message, not a hang.
    """

    DRIP_LIMIT = 400

    def __init__(self, answer):
        self.answer = answer
        self.heads = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.url = "http://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                connection, dummy = self.listener.accept()
            except OSError:
                return
            with connection:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                self.heads.append(head.decode("latin-1"))
                try:
                    self.answer(connection)
                except OSError:
                    pass

    def close(self):
        # shutdown() wakes the accept() under way; close() alone would not.
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(5)


@pytest.fixture
def loopback():
    servers = []

    def start(answer):
        servers.append(LoopbackServer(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def drip(prefix, byte=b"x", every=0.05):
    """An answer that sends ``prefix`` whole, then ``byte`` every ``every`` seconds."""

    def answer(connection):
        connection.sendall(prefix)
        for _dummy in range(LoopbackServer.DRIP_LIMIT):
            connection.sendall(byte)
            time.sleep(every)

    return answer


def ok_answer(connection):
    connection.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n"
        b"Connection: close\r\n\r\n"
        b'{"response": []}'
    )


@pytest.mark.parametrize(
    "prefix, words",
    [
        (b"", "got no answer within 0.5 s: the status line did not arrive"),
        (b"HTTP/1.1 200 OK\r\n", "got the status line but not all the headers within 0.5 s"),
        (
            b"HTTP/1.1 200 OK\r\nX-Slow: ",
            "got the status line but not all the headers within 0.5 s",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
            "did not get its whole answer within 0.5 s: the body did not arrive whole",
        ),
    ],
)
def test_an_answer_that_drips_cannot_hold_an_attempt_past_its_timeout(loopback, prefix, words):
    # Each byte comes well within the socket's timeout, so only a clock over the whole attempt stops it.
    server = loopback(drip(prefix, byte=b"H" if not prefix else b"x"))
    client = Cloud66Client(server.url + "/api/3", TOKEN, timeout=0.5, retries=0)
    error = expect_error(client.get, "/stacks")
    assert words in error.message
    assert error.transient


def test_a_dripping_answer_cannot_outlast_wait_timeout(loopback):
    server = loopback(drip(b"HTTP/1.1 200 OK\r\n"))
    # The budget's own clock stands still, so exactly 0.5 s of it are left when the attempt starts.
    budget = Deadline(0.5, clock=lambda: 0.0)
    client = Cloud66Client(server.url + "/api/3", TOKEN, timeout=30, retries=0, deadline=budget)
    error = expect_error(client.get, "/stacks")
    assert "not all the headers within 0.5 s" in error.message


def test_netrc_credentials_are_never_sent(loopback, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("default login someone password other-service-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".netrc").write_text(netrc.read_text())
    (tmp_path / ".netrc").chmod(0o600)
    server = loopback(ok_answer)
    Cloud66Client(server.url + "/api/3", TOKEN).get("/stacks")
    head = server.heads[0]
    assert "Authorization: Bearer %s\r\n" % TOKEN in head
    assert "Basic" not in head and head.count("Authorization") == 1


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_loopback_api_is_reached_directly_whatever_the_proxy_settings(
    loopback, monkeypatch, variable, host
):
    proxy = loopback(ok_answer)
    api = loopback(ok_answer)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, proxy.url)
    url = api.url.replace("127.0.0.1", host) + "/api/3"
    assert Cloud66Client(url, TOKEN).get("/stacks") == {"response": []}
    assert len(api.heads) == 1 and proxy.heads == []


def test_a_real_host_uses_the_proxy_unless_no_proxy_names_it(api, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.test:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    api.add(responses.GET, BASE + "/stacks", json={"response": []})
    Cloud66Client(BASE, TOKEN).get("/stacks")
    assert api.calls[0].request.req_kwargs["proxies"]["https"] == "http://proxy.example.test:3128"

    monkeypatch.setenv("NO_PROXY", "api.cloud66.test")
    Cloud66Client(BASE, TOKEN).get("/stacks")
    assert api.calls[1].request.req_kwargs["proxies"] == {}


def test_the_ca_bundle_from_the_environment_is_kept_and_validate_certs_false_wins(api, monkeypatch):
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/company.pem")
    api.add(responses.GET, BASE + "/stacks", json={"response": []})
    Cloud66Client(BASE, TOKEN).get("/stacks")
    Cloud66Client(BASE, TOKEN, validate_certs=False).get("/stacks")
    assert [call.request.req_kwargs["verify"] for call in api.calls] == [
        "/etc/ssl/company.pem",
        False,
    ]


@pytest.mark.parametrize("url", ["http://api.cloud66.test/api/3", "http://10.0.0.1/api/3"])
def test_the_client_refuses_plain_http_to_a_host_that_is_not_loopback(api, url):
    with pytest.raises(Cloud66Error) as info:
        Cloud66Client(url, TOKEN)
    assert "plain http" in info.value.message


@pytest.mark.parametrize(
    "status, headers, expected",
    [
        # a success carrying a notice: kept as sent, spaces around it trimmed
        (
            200,
            {"X-Cloud66-Warning": "  This API version is deprecated "},
            ["This API version is deprecated"],
        ),
        # a notice on an error answer reaches the user too
        (404, {"X-Cloud66-Warning": "Stack is archived"}, ["Stack is archived"]),
        # no header, or an empty one: nothing
        (200, {}, []),
        (200, {"X-Cloud66-Warning": "   "}, []),
        # the token is scrubbed like any server text
        (200, {"X-Cloud66-Warning": "token %s expires soon" % TOKEN}, None),
    ],
)
def test_cloud66_warning_header_is_collected_once_and_scrubbed(api, status, headers, expected):
    body = {"response": []} if status == 200 else error_body("not_found", "Stack not found")
    api.add(responses.GET, BASE + "/stacks", status=status, json=body, headers=headers)
    client, _sleeps = make_client()
    for _twice in range(2):
        try:
            client.get("/stacks")
        except Cloud66Error:
            pass
    if expected is None:
        assert len(client.warnings) == 1
        assert TOKEN not in client.warnings[0] and "expires soon" in client.warnings[0]
    else:
        assert client.warnings == expected
    assert len(api.calls) == 2

# -*- coding: utf-8 -*-
# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""HTTP transport for the Cloud66 v3 API. Private to this collection: it may change without notice."""

from __future__ import annotations

import ipaddress
import json
import random
import re
import time
import traceback
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urlsplit

from ._records import page_info, whole_number

try:
    import requests
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

DEFAULT_API_URL = "https://app.cloud66.com/api/3"
RATE_LIMIT_NOTE = "Cloud66 allows 3,000 API requests per hour for each user."

# Statuses that come from a gateway: the server may or may not have acted on a write.
GATEWAY_STATUSES = frozenset([502, 504])
IDEMPOTENT_METHODS = frozenset(["GET", "HEAD", "OPTIONS"])
# No list is read past this many pages (30,000 items at Cloud66's 30 a page): a server that never says "last page"
# must not keep a task paging forever.
MAX_PAGES = 1000

SCOPE_FOR_METHOD = {"GET": "public"}
WRITE_SCOPE = "admin"


class Cloud66Error(Exception):
    """A failed API call, with a message that is safe to show to the user.

    ``transient`` marks failures that a later attempt may not meet (throttling, gateways, network).
    ``ambiguous`` marks a write whose fate is unknown: the server may have acted before the answer was lost.
    """

    def __init__(self, message, status=None, error=None, description=None, transient=False, ambiguous=False, attempts=1):
        super().__init__(message)
        self.message = message
        self.status = status
        self.error = error
        self.description = description
        self.transient = transient
        self.ambiguous = ambiguous
        self.attempts = attempts

    def details(self):
        """What a module adds to its failure result besides ``msg``."""
        details = {"attempts": self.attempts}
        if self.status is not None:
            details["status_code"] = self.status
        if self.error:
            details["error"] = self.error
        return details


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_url(api_url):
    """Return an error message for an unusable API URL, or None when it is fine."""
    try:
        parts = urlsplit(api_url or "")
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
        return "api_url must be an absolute https:// URL such as %s, got %r." % (DEFAULT_API_URL, api_url)
    if parts.query or parts.fragment or parts.username or parts.password:
        return "api_url must not carry credentials, a query or a fragment."
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return ("api_url %s uses plain http, which would send the API token unencrypted. "
                "Use https:// (plain http is accepted only for a loopback address such as a local simulator)." % api_url)
    try:
        parts.port
    except ValueError:
        return "api_url has an invalid port: %r." % api_url
    return None


def api_path(*segments):
    """Join path segments, quoting each so that user input cannot change the path's shape."""
    quoted = [quote(str(segment), safe="") for segment in segments]
    # quote() leaves "." and ".." as they are, and requests resolves them away (even as %2E): /stacks/../x goes to /x.
    if any(segment in ("", ".", "..") for segment in quoted):
        raise Cloud66Error("An id in an API path must not be empty, '.' or '..'; got %r." % (segments,))
    return "/" + "/".join(quoted)


def retry_after_seconds(response):
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def response_of(body, kind, target):
    """The ``response`` member of an API answer, which must be a ``kind`` (list items must be objects)."""
    value = body.get("response") if isinstance(body, dict) else None
    if isinstance(value, kind) and (kind is not list or all(isinstance(item, dict) for item in value)):
        return value
    raise Cloud66Error("%s answered with a body the Cloud66 API does not give: expected a 'response' %s. Is api_url "
                       "the Cloud66 API?" % (target, "list of objects" if kind is list else "object"))


def describe_body(response):
    """Return (error code, description) from an error body, JSON or not."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        description = body.get("details") or body.get("error_description") or body.get("message")
        if isinstance(description, list):
            description = "; ".join(str(part) for part in description)
        elif description is not None and not isinstance(description, str):
            description = json.dumps(description, sort_keys=True)
        code = body.get("error")
        return (code if isinstance(code, str) else None), description
    text = re.sub(r"<[^>]+>", " ", response.text or "")
    text = " ".join(text.split())[:200]
    return None, ("a non-JSON body: %s" % text) if text else "an empty body"


class Cloud66Client:
    """One session to the Cloud66 API: authentication, retries with backoff, errors as Cloud66Error, paging."""

    backoff_base = 1.0
    backoff_cap = 30.0

    def __init__(self, api_url, api_token, account_id=None, validate_certs=True, timeout=30, retries=5,
                 user_agent="cloud66.cloud", sleep=time.sleep):
        self.base_url = api_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.validate_certs = validate_certs
        self.sleep = sleep
        self.request_count = 0
        # The pagination of the last list page read, for callers that want the list's total count.
        self.last_page = {}
        self.session = requests.Session()
        self.session.headers.update({
            "Authorization": "Bearer %s" % api_token,
            "Accept": "application/json",
            "User-Agent": user_agent,
        })
        if account_id:
            self.session.headers["X-Account"] = str(account_id)

    def get(self, path, params=None, retries=None):
        return self.request("GET", path, params=params, retries=retries)

    def post(self, path, body):
        return self.request("POST", path, body=body)

    def delete(self, path):
        return self.request("DELETE", path)

    def page(self, path, number, retries=None):
        """One page of a list: (its items, its pagination in the documented spelling)."""
        body = self.get(path, params={"page": number}, retries=retries)
        items, self.last_page = response_of(body, list, "GET %s" % path), page_info(body)
        return items, self.last_page

    def pages(self, path, retries=None):
        """Yield the items of each page in turn; stops as soon as the caller stops iterating."""
        number = 1
        while True:
            items, info = self.page(path, number, retries=retries)
            yield items
            following, pages = whole_number(info.get("next")), whole_number(info.get("pages"))
            if not items or not following or (pages is not None and number >= pages):
                return
            if number >= MAX_PAGES:
                raise Cloud66Error("GET %s still had more pages after %d; stopped there. Is api_url the Cloud66 API?"
                                   % (path, MAX_PAGES))
            # A "next" that does not move forward would page forever: step by one instead.
            number = max(following, number + 1)

    def request(self, method, path, params=None, body=None, retries=None):
        """Send one API call and return its decoded body.

        Reads are retried on every transient failure. A write is retried only when the server surely did not act
        (throttled, or the connection was never made); otherwise it fails with ``ambiguous`` set and the caller
        decides, after looking again, whether to send it anew.
        """
        retries = self.retries if retries is None else retries
        attempt = 0
        while True:
            attempt += 1
            error, wait = self._attempt(method, path, params, body, attempt)
            if error is None:
                return wait
            if not error.transient or error.ambiguous or attempt > retries:
                if error.transient and attempt > 1:
                    error.message = "%s Gave up after %d attempts." % (error.message, attempt)
                raise error
            self.sleep(wait)

    def _attempt(self, method, path, params, body, attempt):
        """Return (None, decoded body) on success, else (Cloud66Error, seconds to wait before a retry)."""
        target = "%s %s" % (method, path)
        self.request_count += 1
        try:
            response = self.session.request(method, self.base_url + path, params=params, json=body, timeout=self.timeout,
                                            verify=self.validate_certs, allow_redirects=False)
        except requests.exceptions.SSLError as exc:
            return Cloud66Error("TLS verification failed for %s: %s. Check the CA bundle (REQUESTS_CA_BUNDLE) "
                                "or, for a test endpoint only, set validate_certs to false." % (self.base_url, exc.__class__.__name__),
                                attempts=attempt), 0
        except requests.exceptions.ConnectTimeout:
            return self._network_error(target, "timed out while connecting", attempt, sent=False)
        except requests.exceptions.ReadTimeout:
            return self._network_error(target, "got no answer within %s s" % self.timeout, attempt, sent=True)
        except requests.exceptions.ConnectionError as exc:
            sent = not _never_connected(exc)
            reason = "lost the connection before an answer came" if sent else "could not connect to %s" % self.base_url
            return self._network_error(target, reason, attempt, sent=sent)
        except requests.exceptions.RequestException as exc:
            return Cloud66Error("%s failed: %s" % (target, exc.__class__.__name__), attempts=attempt), 0
        except (ValueError, UnicodeError) as exc:
            # http.client refuses header values it cannot send; its message quotes the header, token included.
            return Cloud66Error("%s could not be sent (%s): check api_token and account_id for stray characters."
                                % (target, exc.__class__.__name__), attempts=attempt), 0

        status = response.status_code
        if 200 <= status < 300:
            try:
                return None, response.json()
            except ValueError:
                return Cloud66Error("%s answered %d with a body that is not JSON; is api_url (%s) the Cloud66 API?"
                                    % (target, status, self.base_url), status=status, attempts=attempt), 0
        if 300 <= status < 400:
            return Cloud66Error("%s was redirected (%d) to %s; redirects are not followed so that the token stays with "
                                "the configured host. Point api_url at the final address."
                                % (target, status, response.headers.get("Location", "an unnamed location")),
                                status=status, attempts=attempt), 0
        return self._http_error(target, method, response, attempt)

    def _network_error(self, target, reason, attempt, sent):
        ambiguous = sent and target.split(" ", 1)[0] not in IDEMPOTENT_METHODS
        error = Cloud66Error("%s %s." % (target, reason), transient=True, ambiguous=ambiguous, attempts=attempt)
        return error, self.backoff(attempt)

    def _http_error(self, target, method, response, attempt):
        status = response.status_code
        code, description = describe_body(response)
        said = " Cloud66 said: %s" % description if description else ""
        wait = retry_after_seconds(response)
        throttled = status == 503 and (code == "throttled" or "throttl" in (description or "").lower())
        transient = (status in GATEWAY_STATUSES or status == 429 or throttled
                     or (status == 503 and (code is None or wait is not None)))
        ambiguous = status in GATEWAY_STATUSES and method not in IDEMPOTENT_METHODS
        if status == 401:
            message = ("Cloud66 did not accept the API token (401 unauthenticated). Check api_token or the "
                       "CLOUD66_API_TOKEN environment variable.%s" % said)
        elif status == 403:
            scope = SCOPE_FOR_METHOD.get(method, WRITE_SCOPE)
            message = ("The API token is not allowed to %s (403 forbidden): this needs a token with the '%s' scope "
                       "(reading needs 'public', creating or deleting databases needs 'admin'), on an account that can "
                       "reach the stack.%s" % (target, scope, said))
        elif throttled:
            message = "Cloud66 throttled %s (503 throttled). %s" % (target, RATE_LIMIT_NOTE)
        elif status == 429:
            message = "%s was rate limited (429). %s%s" % (target, RATE_LIMIT_NOTE, said)
        else:
            message = "%s failed with HTTP %d%s.%s" % (target, status, " %s" % code if code else "", said)
        error = Cloud66Error(message, status=status, error=code, description=description, transient=transient,
                             ambiguous=ambiguous, attempts=attempt)
        return error, self.backoff(attempt) if wait is None else min(wait, self.backoff_cap * 4)

    def backoff(self, attempt):
        ceiling = min(self.backoff_cap, self.backoff_base * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)


def _never_connected(exc):
    """True when the connection failed before the request could reach the server."""
    pending, seen = [exc], set()
    while pending:
        cause = pending.pop()
        if cause is None or id(cause) in seen:
            continue
        seen.add(id(cause))
        if cause.__class__.__name__ in ("NewConnectionError", "ConnectTimeoutError", "NameResolutionError"):
            return True
        pending.extend([getattr(cause, "reason", None), cause.__cause__, cause.__context__])
        pending.extend(arg for arg in getattr(cause, "args", ()) if isinstance(arg, BaseException))
    return False

# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""HTTP transport for the Cloud66 v3 API. Private to this collection: it may change without notice."""

from __future__ import annotations

import contextvars
import http.client
import io
import ipaddress
import json
import os
import random
import re
import socket
import time
import traceback
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

from ._errors import EXCERPT_LENGTH, BudgetSpent, Cloud66Error, excerpt
from ._records import page_info, whole_number

try:
    import requests
    import urllib3.connection
    from requests.adapters import HTTPAdapter
    from requests.utils import get_environ_proxies
    from urllib3.exceptions import HTTPError as Urllib3Error
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
    HTTPAdapter = object
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

DEFAULT_API_URL = "https://app.cloud66.com/api/3"
RATE_LIMIT_NOTE = "Cloud66 allows 3,000 API requests per hour for each user."

# Statuses that come from a gateway or a timeout: the server may or may not have acted on a write.
GATEWAY_STATUSES = frozenset([408, 502, 504])
IDEMPOTENT_METHODS = frozenset(["GET", "HEAD", "OPTIONS"])
# No list is read past this many pages (30,000 items at Cloud66's 30 a page): a server that never says "last page"
# must not keep a task paging forever.
MAX_PAGES = 1000

SCOPE_FOR_METHOD = {"GET": "public"}
WRITE_SCOPE = "admin"

# The longest Retry-After honoured: beyond it (or beyond what is left of wait_timeout) the request fails at once.
RETRY_AFTER_CAP = 120
# Bounds on what one answer may cost.
MAX_BODY_BYTES = 16 * 1024 * 1024
READ_CHUNK = 64 * 1024
# No Cloud66 answer nests deeper than a few levels; deeper data is refused before anything walks it recursively.
MAX_JSON_DEPTH = 64
ASCII_DIGITS = re.compile(r"[0-9]+")
# The CA bundle settings requests reads from the environment; the client reads them itself (see _settings_from_env).
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
# Looks whether a write whose answer was lost was carried out: a body standing for that answer, or None.
Look = Callable[[], Any]
# The header in which Cloud66 sends notices to the user; its Go client (cloud66-oss/cloud66, cloud66.go checkResp)
# prints it on stderr.
WARNING_HEADER = "X-Cloud66-Warning"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_url(api_url: str | None) -> str | None:
    """Return an error message for an unusable API URL, or None when it is fine."""
    try:
        parts = urlsplit(api_url or "")
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
        return "api_url must be an absolute https:// URL such as %s, got %r." % (
            DEFAULT_API_URL,
            api_url,
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        return "api_url must not carry credentials, a query or a fragment."
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return (
            "api_url %s uses plain http, which would send the API token unencrypted. "
            "Use https:// (plain http is accepted only for a loopback address such as a local simulator)."
            % api_url
        )
    try:
        parts.port  # noqa: B018 -- reading the port is what checks it
    except ValueError:
        return "api_url has an invalid port: %r." % api_url
    return None


def api_path(*segments: object) -> str:
    """Join path segments, quoting each so that user input cannot change the path's shape."""
    quoted = [quote(str(segment), safe="") for segment in segments]
    # quote() leaves "." and ".." as they are, and requests resolves them away (even as %2E): /stacks/../x goes to /x.
    if any(segment in ("", ".", "..") for segment in quoted):
        raise Cloud66Error(
            "An id in an API path must not be empty, '.' or '..'; got %r." % (segments,)
        )
    return "/" + "/".join(quoted)


def retry_after_seconds(response: requests.Response | None) -> float | None:
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    value = value.strip()
    if ASCII_DIGITS.fullmatch(value):
        # Only ASCII digits: str.isdigit() also accepts digits such as "\u00b2" that float() refuses.
        return float(min(int(value[:12]), 10**9))
    try:
        moment = parsedate_to_datetime(value)
        return min(max(0.0, moment.timestamp() - time.time()), 10.0**9)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def response_of(body: Any, kind: type, target: str) -> Any:
    """The ``response`` member of an API answer, which must be a ``kind`` (list items must be objects)."""
    value = body.get("response") if isinstance(body, dict) else None
    if isinstance(value, kind) and (
        kind is not list or all(isinstance(item, dict) for item in value)
    ):
        return value
    raise Cloud66Error(
        "%s answered with a body the Cloud66 API does not give: expected a 'response' %s. Is api_url "
        "the Cloud66 API?" % (target, "list of objects" if kind is list else "object")
    )


class TooDeep(ValueError):
    """JSON nested deeper than MAX_JSON_DEPTH levels."""


def decode_json(data: bytes) -> Any:
    """The JSON value of a body, or raise ValueError for anything else; TooDeep for nesting past MAX_JSON_DEPTH."""
    try:
        value = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise TooDeep("nested deeper than %d levels" % MAX_JSON_DEPTH) from None
    except (ValueError, UnicodeError) as exc:
        raise ValueError(str(exc.__class__.__name__)) from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise TooDeep("nested deeper than %d levels" % MAX_JSON_DEPTH)
    return value


def json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """How deep lists and objects nest in ``value`` (a scalar is 0), counted without recursion; the count stops
    once it passes ``limit``."""
    deepest, level = 0, [(value, 0)]
    while level:
        item, depth = level.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        level.extend((child, depth) for child in children)
    return deepest


def describe_body(data: bytes | None, secret: str | None = None) -> tuple[str | None, str | None]:
    """Return (error code, description) from the bytes of an error body, JSON or not, scrubbed of ``secret``."""
    try:
        body = decode_json(data or b"")
    except ValueError:
        body = None
    if isinstance(body, dict):
        description = body.get("details") or body.get("error_description") or body.get("message")
        if isinstance(description, list):
            description = "; ".join(str(part) for part in description)
        elif description is not None and not isinstance(description, str):
            description = json.dumps(description, sort_keys=True)
        code = body.get("error")
        code = excerpt(code, secret, 60) if isinstance(code, str) else None
        return code or None, (
            excerpt(description, secret, 2 * EXCERPT_LENGTH) if description else description
        )
    text = excerpt((data or b"").decode("utf-8", "replace"), secret)
    return None, ("a non-JSON body: %s" % text) if text else "an empty body"


def _read_body(response: requests.Response, until: float, clock: Callable[[], float]) -> bytes:
    """The body of a streamed answer, read in chunks until ``until`` (on ``clock``): a trickling body cannot hold
    the request past it. Raises _SlowBody, _CutBody or _LargeBody."""
    raw = response.raw
    read = getattr(raw, "read1", None) or raw.read
    chunks, size = [], 0
    while True:
        left = until - clock()
        if left <= 0:
            raise _SlowBody()
        connection = getattr(raw, "connection", None)
        sock = getattr(connection, "sock", None)
        if sock is not None:
            sock.settimeout(left)
        try:
            chunk = read(READ_CHUNK, decode_content=True)
        except (Urllib3Error, OSError, ValueError) as exc:
            raise (_SlowBody() if "timed out" in str(exc).lower() else _CutBody()) from exc
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _LargeBody()
        chunks.append(chunk)


class _Exchange:
    """One attempt's clock: when it must end, and how far its answer has come."""

    until: float
    clock: Callable[[], float]
    status_line_seen: bool

    def __init__(self, until: float, clock: Callable[[], float]) -> None:
        self.until = until
        self.clock = clock
        self.status_line_seen = False

    def missing(self, seconds: str) -> str:
        """What did not arrive in time, before the body (which _read_body times)."""
        if self.status_line_seen:
            return "got the status line but not all the headers within %s s" % seconds
        return "got no answer within %s s: the status line did not arrive" % seconds


# The exchange of the attempt under way: the connection classes below read it when an answer begins.
_CURRENT_EXCHANGE: contextvars.ContextVar[_Exchange | None] = contextvars.ContextVar(
    "cloud66_exchange", default=None
)


class _DeadlineReader(io.RawIOBase):
    """Reads a socket against the exchange's end: every read may wait only for what is left of the attempt, so a
    server that sends its status line, headers or body a byte at a time cannot hold it longer (a socket timeout
    alone restarts with every byte)."""

    def __init__(self, sock: socket.socket, exchange: _Exchange) -> None:
        super().__init__()
        self._sock = sock
        self._exchange = exchange

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._exchange.until - self._exchange.clock()
        if left <= 0:
            raise TimeoutError("timed out")
        self._sock.settimeout(left)
        count = self._sock.recv_into(buffer)
        if not self._exchange.status_line_seen and b"\n" in bytes(memoryview(buffer)[:count]):
            self._exchange.status_line_seen = True
        return count


if HAS_REQUESTS:

    class _TimedResponse(http.client.HTTPResponse):
        """http.client's response, reading through a _DeadlineReader when an exchange is under way."""

        def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(sock, *args, **kwargs)
            exchange = _CURRENT_EXCHANGE.get()
            if exchange is not None:
                self.fp.close()
                self.fp = io.BufferedReader(_DeadlineReader(sock, exchange))

    class _TimedHTTPConnection(urllib3.connection.HTTPConnection):
        response_class = _TimedResponse

    class _TimedHTTPSConnection(urllib3.connection.HTTPSConnection):
        response_class = _TimedResponse

    _TIMED_CONNECTIONS = {
        urllib3.connection.HTTPConnection: _TimedHTTPConnection,
        urllib3.connection.HTTPSConnection: _TimedHTTPSConnection,
    }


class _TimedAdapter(HTTPAdapter):
    """requests' adapter whose connections read answers against the attempt's end (see _DeadlineReader).

    Pools of other connection classes (a SOCKS proxy's) are left as they are: their bodies are still read against
    the clock by _read_body.
    """

    def get_connection_with_tls_context(self, *args: Any, **kwargs: Any) -> Any:
        pool = super().get_connection_with_tls_context(*args, **kwargs)
        timed = _TIMED_CONNECTIONS.get(pool.ConnectionCls)
        if timed is not None:
            pool.ConnectionCls = timed
        return pool


def environment_settings(base_url: str, validate_certs: bool) -> tuple[dict[str, str], Any]:
    """The proxies and the ``verify`` setting for the API, from the environment, without what else requests would
    take from it (credentials from .netrc).

    A loopback API is always reached directly: a proxy cannot reach this machine's loopback, and on plain http it
    would receive the token in clear. Other hosts use HTTPS_PROXY (or ALL_PROXY) unless NO_PROXY names them.
    """
    host = urlsplit(base_url).hostname or ""
    proxies = {} if is_loopback(host) else get_environ_proxies(base_url)
    verify: Any = False
    if validate_certs:
        verify = next(
            (os.environ[name] for name in CA_BUNDLE_VARIABLES if os.environ.get(name)), True
        )
    return proxies, verify


class _SlowBody(Exception):
    pass


class _CutBody(Exception):
    pass


class _LargeBody(Exception):
    pass


class Deadline:
    """One time budget shared by every wait of a module run."""

    seconds: float
    clock: Callable[[], float]
    started: float

    def __init__(
        self,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.seconds = seconds
        self.clock = clock
        self._sleep = sleep
        self.started = clock()

    def elapsed(self) -> float:
        return self.clock() - self.started

    def remaining(self) -> float:
        return max(0.0, self.seconds - self.elapsed())

    def sleep(self, interval: float) -> bool:
        """Sleep up to ``interval`` within the budget; False once the budget is spent."""
        remaining = self.remaining()
        if remaining <= 0:
            return False
        self._sleep(min(interval, remaining))
        return True


class Cloud66Client:
    """One session to the Cloud66 API: authentication, retries with backoff, errors as Cloud66Error, paging.

    ``deadline`` (anything with ``remaining()`` seconds, such as the module's wait budget) bounds every request and
    every sleep between attempts when set; ``clock`` measures each request's own ``timeout``, body included.
    """

    backoff_base: float = 1.0
    backoff_cap: float = 30.0

    base_url: str
    timeout: float
    retries: int
    validate_certs: bool
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    deadline: Deadline | None
    request_count: int
    last_page: dict[str, Any]
    warnings: list[str]
    session: requests.Session

    def __init__(
        self,
        api_url: str,
        api_token: str,
        account_id: str | int | None = None,
        validate_certs: bool = True,
        timeout: float = 30,
        retries: int = 5,
        user_agent: str = "cloud66.cloud",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        deadline: Deadline | None = None,
    ) -> None:
        self.base_url = api_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.validate_certs = validate_certs
        self.sleep = sleep
        self.clock = clock
        self.deadline = deadline
        self.request_count = 0
        self._secret = api_token
        # The pagination of the last list page read, for callers that want the list's total count.
        self.last_page = {}
        # The distinct notices Cloud66 sent in X-Cloud66-Warning headers, scrubbed, in the order first seen.
        self.warnings = []
        problem = check_api_url(self.base_url)
        if problem:
            raise Cloud66Error(problem)
        self.session = requests.Session()
        # requests would otherwise take credentials from .netrc (sent instead of the token, to Cloud66) and proxies
        # for any host from the environment; environment_settings takes only what the API should get.
        self.session.trust_env = False
        self.session.mount("https://", _TimedAdapter())
        self.session.mount("http://", _TimedAdapter())
        self._proxies, self._verify = environment_settings(self.base_url, validate_certs)
        self.session.headers.update(
            {
                "Authorization": "Bearer %s" % api_token,
                "Accept": "application/json",
                "User-Agent": user_agent,
            }
        )
        if account_id:
            self.session.headers["X-Account"] = str(account_id)

    def get(
        self, path: str, params: dict[str, Any] | None = None, retries: int | None = None
    ) -> Any:
        return self.request("GET", path, params=params, retries=retries)

    def post(self, path: str, body: dict[str, Any], look: Look | None = None) -> Any:
        return self.request("POST", path, body=body, look=look)

    def delete(self, path: str, look: Look | None = None) -> Any:
        return self.request("DELETE", path, look=look)

    def page(
        self,
        path: str,
        number: int,
        retries: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """One page of a list: (its items, its pagination in the documented spelling)."""
        body = self.get(path, params=dict(params or {}, page=number), retries=retries)
        items, self.last_page = response_of(body, list, "GET %s" % path), page_info(body)
        return items, self.last_page

    def pages(
        self, path: str, retries: int | None = None, params: dict[str, Any] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield the items of each page in turn; stops as soon as the caller stops iterating.

        Stops at the last page (``pages``, or no ``next``), at a page that repeats the one before (a server that
        ignores ``page``), and fails past MAX_PAGES pages.
        """
        number, previous = 1, None
        while True:
            items, info = self.page(path, number, retries=retries, params=params)
            if items and items == previous:
                return
            yield items
            following, pages = whole_number(info.get("next")), whole_number(info.get("pages"))
            if not items or not following or (pages is not None and number >= pages):
                return
            if number >= MAX_PAGES:
                raise Cloud66Error(
                    "GET %s still had more pages after %d; stopped there. Is api_url the Cloud66 API?"
                    % (path, MAX_PAGES)
                )
            # A "next" that does not move forward would page forever: step by one instead.
            number, previous = max(following, number + 1), items

    def time_left(self) -> float | None:
        """Seconds left of the run's deadline, or None without one."""
        return None if self.deadline is None else self.deadline.remaining()

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        retries: int | None = None,
        look: Look | None = None,
    ) -> Any:
        """Send one API call and return its decoded body.

        Reads are retried on every transient failure. A write is retried when the server surely did not act
        (throttled, or the connection was never made). After an answer that leaves a write's fate unknown, the
        write is sent again only once ``look()`` has found it not carried out: ``look`` returns a body that stands
        for the lost answer when it finds the write done, or None. Without ``look`` such a write fails with
        ``ambiguous`` set. An error met after a write that may have gone through has ``resent`` set. No attempt
        and no sleep runs past the deadline.
        """
        retries = self.retries if retries is None else retries
        attempt, error, resent = 0, None, False
        while True:
            attempt += 1
            left = self.time_left()
            if left is not None and left <= 0:
                raise _out_of_time(method, path, error)
            error, wait = self._attempt(method, path, params, body, attempt)
            if error is None:
                return wait
            error.resent = resent
            if error.ambiguous and look is not None:
                seen = self._look_again(error, look)
                if seen is not None:
                    return seen
                if not error.transient:
                    if look is not resend_blindly:
                        error.message = (
                            "%s Looked again: Cloud66 does not show it as carried out."
                            % error.message
                        )
                    raise error
                resent = True
            elif not error.transient or error.ambiguous or attempt > retries:
                if error.transient and attempt > 1:
                    error.message = "%s Gave up after %d attempts." % (error.message, attempt)
                raise error
            if attempt > retries:
                error.message = (
                    "%s Gave up after %d attempts; Cloud66 may have acted on the last one, so look at the "
                    "server group before running again." % (error.message, attempt)
                )
                raise error
            left = self.time_left()
            if error.retry_after is not None and error.retry_after > min(
                RETRY_AFTER_CAP, RETRY_AFTER_CAP if left is None else left
            ):
                error.message = (
                    "%s Cloud66 asked to wait %d s before trying again (Retry-After), more than %s; not "
                    "retried."
                    % (
                        error.message,
                        error.retry_after,
                        "the %d s this collection waits at most" % RETRY_AFTER_CAP
                        if left is None or left > RETRY_AFTER_CAP
                        else "the %d s left of wait_timeout" % round(left),
                    )
                )
                raise error
            if left is not None and wait >= left:
                error.message = "%s wait_timeout runs out before another attempt could be made." % (
                    error.message
                )
                if resent:
                    error.message += " Cloud66 did not list it as done; look at the server group before running again."
                raise error
            self.sleep(wait)

    @staticmethod
    def _look_again(error: Cloud66Error, look: Look) -> Any:
        """What ``look()`` finds after ``error`` left a write's fate unknown; a failed look ends the write."""
        try:
            return look()
        except Cloud66Error as look_error:
            error.message = (
                "%s Cloud66 may have acted on it, and looking again failed: %s Look at the server group "
                "before running again." % (error.message, look_error.message)
            )
            raise error from look_error

    def _attempt(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        body: dict[str, Any] | None,
        attempt: int,
    ) -> tuple[Cloud66Error | None, Any]:
        """Return (None, decoded body) on success, else (Cloud66Error, seconds to wait before a retry)."""
        target = "%s %s" % (method, path)
        self.request_count += 1
        left = self.time_left()
        timeout = self.timeout if left is None else max(0.001, min(self.timeout, left))
        until = self.clock() + timeout
        exchange = _Exchange(until, self.clock)
        current = _CURRENT_EXCHANGE.set(exchange)
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                params=params,
                json=body,
                timeout=timeout,
                verify=self._verify,
                proxies=self._proxies,
                allow_redirects=False,
                stream=True,
            )
        except requests.exceptions.SSLError as exc:
            return Cloud66Error(
                "TLS verification failed for %s: %s. Check the CA bundle (REQUESTS_CA_BUNDLE) "
                "or, for a test endpoint only, set validate_certs to false."
                % (self.base_url, exc.__class__.__name__),
                attempts=attempt,
            ), 0
        except requests.exceptions.ConnectTimeout:
            return self._network_error(target, "timed out while connecting", attempt, sent=False)
        except requests.exceptions.ReadTimeout:
            return self._network_error(
                target,
                exchange.missing(_seconds(timeout)),
                attempt,
                sent=True,
            )
        except requests.exceptions.ConnectionError as exc:
            sent = not _never_connected(exc)
            reason = (
                "lost the connection before an answer came"
                if sent
                else "could not connect to %s" % self.base_url
            )
            return self._network_error(target, reason, attempt, sent=sent)
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
            return self._network_error(
                target, "lost the connection part-way through the answer", attempt, sent=True
            )
        except requests.exceptions.RequestException as exc:
            return Cloud66Error(
                "%s failed: %s" % (target, exc.__class__.__name__), attempts=attempt
            ), 0
        except (ValueError, UnicodeError) as exc:
            # http.client refuses header values it cannot send; its message quotes the header, token included.
            return Cloud66Error(
                "%s could not be sent (%s): check api_token and account_id for stray characters."
                % (target, exc.__class__.__name__),
                attempts=attempt,
            ), 0
        finally:
            _CURRENT_EXCHANGE.reset(current)
        self.note_warnings(response)
        try:
            data = _read_body(response, until, self.clock)
        except _SlowBody:
            return self._network_error(
                target,
                "did not get its whole answer within %s s: the body did not arrive whole"
                % _seconds(timeout),
                attempt,
                sent=True,
            )
        except _CutBody:
            return self._network_error(
                target, "lost the connection part-way through the answer", attempt, sent=True
            )
        except _LargeBody:
            return self._network_error(
                target,
                "got an answer larger than %d MB" % (MAX_BODY_BYTES // 1024 // 1024),
                attempt,
                sent=True,
            )
        finally:
            response.close()

        status = response.status_code
        if 200 <= status < 300:
            try:
                return None, decode_json(data)
            except TooDeep:
                # Bounded like an answer's size: refused as a body gone wrong on its way, so a read asks again.
                return self._network_error(
                    target,
                    "answered %d with JSON nested deeper than %d levels, which no Cloud66 answer is"
                    % (status, MAX_JSON_DEPTH),
                    attempt,
                    sent=True,
                    status=status,
                )
            except ValueError:
                text = excerpt(data.decode("utf-8", "replace"), self._secret)
                return self._network_error(
                    target,
                    "answered %d with a body that is not JSON (%s); is api_url (%s) the "
                    "Cloud66 API?" % (status, text or "empty", self.base_url),
                    attempt,
                    sent=True,
                    status=status,
                )
        if 300 <= status < 400:
            location = (
                excerpt(response.headers.get("Location", ""), self._secret) or "an unnamed location"
            )
            return Cloud66Error(
                "%s was redirected (%d) to %s; redirects are not followed so that the token stays with "
                "the configured host. Point api_url at the final address."
                % (target, status, location),
                status=status,
                attempts=attempt,
            ), 0
        return self._http_error(target, method, response, data, attempt)

    def note_warnings(self, response: requests.Response) -> None:
        """Keep each distinct X-Cloud66-Warning text of an answer (headers sent twice arrive joined by commas)."""
        raw = response.headers.get(WARNING_HEADER) if response.headers is not None else None
        text = excerpt(raw, self._secret, 2 * EXCERPT_LENGTH) if raw else ""
        if text and text not in self.warnings:
            self.warnings.append(text)

    def _network_error(
        self, target: str, reason: str, attempt: int, sent: bool, status: int | None = None
    ) -> tuple[Cloud66Error, float]:
        ambiguous = sent and target.split(" ", 1)[0] not in IDEMPOTENT_METHODS
        error = Cloud66Error(
            "%s %s." % (target, reason),
            status=status,
            transient=True,
            ambiguous=ambiguous,
            attempts=attempt,
        )
        return error, self.backoff(attempt)

    def _http_error(
        self, target: str, method: str, response: requests.Response, data: bytes, attempt: int
    ) -> tuple[Cloud66Error, float]:
        status = response.status_code
        code, description = describe_body(data, self._secret)
        said = " Cloud66 said: %s" % description if description else ""
        wait = retry_after_seconds(response)
        throttled = status == 503 and (
            code == "throttled" or "throttl" in (description or "").lower()
        )
        transient = (
            status in GATEWAY_STATUSES
            or status == 429
            or throttled
            or (status == 503 and (code is None or wait is not None))
        )
        # A write answered by a server error other than throttling may have been carried out before the error.
        ambiguous = method not in IDEMPOTENT_METHODS and (
            status in GATEWAY_STATUSES or (status >= 500 and not throttled)
        )
        if status == 401:
            message = (
                "Cloud66 did not accept the API token (401 unauthenticated). Check api_token or the "
                "CLOUD66_API_TOKEN environment variable.%s" % said
            )
        elif status == 403:
            scope = SCOPE_FOR_METHOD.get(method, WRITE_SCOPE)
            message = (
                "The API token is not allowed to %s (403 forbidden): this needs a token with the '%s' scope "
                "(reading needs 'public', creating or deleting databases needs 'admin'), on an account that can "
                "reach the stack.%s" % (target, scope, said)
            )
        elif throttled:
            message = "Cloud66 throttled %s (503 throttled). %s" % (target, RATE_LIMIT_NOTE)
        elif status == 429:
            message = "%s was rate limited (429). %s%s" % (target, RATE_LIMIT_NOTE, said)
        else:
            message = "%s failed with HTTP %d%s.%s" % (
                target,
                status,
                " %s" % code if code else "",
                said,
            )
        error = Cloud66Error(
            message,
            status=status,
            error=code,
            description=description,
            transient=transient,
            ambiguous=ambiguous,
            attempts=attempt,
            retry_after=wait,
        )
        return error, self.backoff(attempt) if wait is None else wait

    def backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_cap, self.backoff_base * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)


def resend_blindly() -> None:
    """The look for a write that cannot be looked up and is harmless to send again: it never finds it done."""
    return None


def _out_of_time(method: str, path: str, error: Cloud66Error | None) -> Cloud66Error:
    """The error to raise when the deadline has passed before an attempt: the previous attempt's, if any."""
    if error is None:
        return BudgetSpent("%s %s was not sent: wait_timeout is spent." % (method, path))
    error.message = "%s wait_timeout ran out before another attempt." % error.message
    return error


def _seconds(value: float) -> str:
    return ("%.3f" % value).rstrip("0").rstrip(".")


def _never_connected(exc: BaseException) -> bool:
    """True when the connection failed before the request could reach the server."""
    pending, seen = [exc], set()
    while pending:
        cause = pending.pop()
        if cause is None or id(cause) in seen:
            continue
        seen.add(id(cause))
        if cause.__class__.__name__ in (
            "NewConnectionError",
            "ConnectTimeoutError",
            "NameResolutionError",
        ):
            return True
        pending.extend([getattr(cause, "reason", None), cause.__cause__, cause.__context__])
        pending.extend(arg for arg in getattr(cause, "args", ()) if isinstance(arg, BaseException))
    return False

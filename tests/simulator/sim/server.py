"""The simulator object and its HTTP server: lifecycle, configuration, the request log and the API request flow.

:class:`Simulator` owns the state (``world``, ``config``, ``faults``, the request log) and one lock that every
request holds while it reads or changes it. An API request goes: :class:`_Handler` reads it into an
:class:`~sim.request.ApiRequest`; ``begin_api`` logs it and picks its fault; :func:`sim.faults.respond` applies the
fault's effect around ``handle_api`` (authentication, rate limit, account, scope, then the route's handler).
"""

from __future__ import annotations

import copy
import socket
import socketserver
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from sim import control
from sim.backups import STORE_PREFIX, store_answer
from sim.common import (
    API_PREFIX,
    CONTROL_PREFIX,
    DEFAULT_FIXTURE,
    JSON_TYPE,
    MAX_BODY_BYTES,
    REQUEST_LOG_LIMIT,
    SimError,
    digits,
    dumps,
    is_loopback,
)
from sim.faults import RateLimiter, canned_answer, compile_fault, match_fault, respond
from sim.request import ApiRequest, query_dict
from sim.state import DEFAULT_CONFIG, World, load_fixture_file, validate_config


def _account(token, header):
    if header is None or not header.strip():
        return token["default_account"]
    text = header.strip()
    if not digits(text) or int(text) not in token["accounts"]:
        raise SimError(403, "This token cannot access account '%s'" % text)
    return int(text)


class Simulator:
    """The simulated Cloud66 API. ``start()`` serves it from a background thread and returns the base URL."""

    def __init__(self, fixture=None, host="127.0.0.1", port=0, verbose=False, **config):
        if not is_loopback(host):
            raise ValueError(
                "refusing to listen on non-loopback host %r (use 127.0.0.1, ::1 or localhost)"
                % host
            )
        self.host = "127.0.0.1" if host == "localhost" else host
        self.port = port
        self.verbose = verbose
        if fixture is None:
            fixture = DEFAULT_FIXTURE
        if isinstance(fixture, str):
            fixture = load_fixture_file(fixture)
        self._startup_fixture = copy.deepcopy(fixture)
        self._startup_config = validate_config(config, DEFAULT_CONFIG)
        self.lock = threading.Lock()
        self._restart(World(self._startup_fixture), dict(self._startup_config))
        self._server = None
        self._thread = None
        self._store = None
        self._store_thread = None

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def start(self):
        if self._server is not None:
            return self.url
        server_class = _Server6 if ":" in self.host else _Server
        self._server = server_class((self.host, self.port), _Handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="cloud66-sim",
            daemon=True,
        )
        self._thread.start()
        # The object store that serves the backups' files: its own port, as a presigned URL's host is not the API's.
        self._store = server_class((self.host, 0), _StoreHandler, self)
        self._store_thread = threading.Thread(
            target=self._store.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="cloud66-sim-store",
            daemon=True,
        )
        self._store_thread.start()
        return self.url

    def stop(self):
        server, self._server = self._server, None
        if server is None:
            return
        for running, thread in ((server, self._thread), (self._store, self._store_thread)):
            running.shutdown()
            running.server_close()
            running.close_connections()
            if thread is not None:
                thread.join(5)
        self._thread = self._store = self._store_thread = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def base(self):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "http://%s:%d" % (host, self.port)

    @property
    def url(self):
        return self.base + API_PREFIX

    @property
    def store_base(self):
        """The object store's base URL: a backup file's public_url starts with it."""
        host = "[%s]" % self.host if ":" in self.host else self.host
        port = self._store.server_address[1] if self._store is not None else 0
        return "http://%s:%d%s" % (host, port, STORE_PREFIX)

    @property
    def control_url(self):
        return self.base + CONTROL_PREFIX

    # -- python-side control helpers (the HTTP control API calls these) ------------------------------------------

    def reset(self, fixture=None, fixture_file=None, config=None):
        if fixture is not None and fixture_file is not None:
            raise ValueError("give either fixture or fixture_file, not both")
        if fixture_file is not None:
            if not isinstance(fixture_file, str):
                raise ValueError("fixture_file must be a string")
            fixture = load_fixture_file(fixture_file)
        world = World(fixture if fixture is not None else self._startup_fixture)
        new_config = validate_config(config or {}, self._startup_config)
        with self.lock:
            self._restart(world, new_config)
            return dict(self.config)

    def _restart(self, world, config):
        """Start afresh from ``world`` and ``config``: no request log, faults, rate counters or holds from before."""
        self.world = world
        self.config = config
        self.lists_frozen_at = time.time() if config["hold_lists"] else None
        self.request_log = []
        self._seq = 0
        self.faults = []
        self._next_fault_id = 1
        self._rates = RateLimiter()

    def set_config(self, **values):
        with self.lock:
            config = validate_config(values, self.config)
            if not config["hold_lists"]:
                self.lists_frozen_at = None
            elif not self.config["hold_lists"]:
                self.lists_frozen_at = time.time()
            self.config = config
            return dict(self.config)

    def add_fault(self, **rule):
        compiled = compile_fault(rule)
        with self.lock:
            compiled["id"] = self._next_fault_id
            self._next_fault_id += 1
            self.faults.append(compiled)
            return compiled["id"]

    def clear_faults(self):
        with self.lock:
            self.faults = []

    def requests(self):
        with self.lock:
            return copy.deepcopy(self.request_log)

    def clear_requests(self):
        with self.lock:
            self.request_log = []

    def state(self):
        return control.state(self)

    def release_actions(self, now):
        """Finish every held action now and let the lists follow again; returns how many actions were held.

        The caller holds the lock.
        """
        held = self.world.release(now)
        self.config = dict(self.config, hold_actions=False, hold_lists=False)
        self.lists_frozen_at = None
        return held

    def handle_control(self, method, sub_path, body_bytes):
        """Answer a /_sim request: (status, JSON payload)."""
        return control.handle_control(self, method, sub_path, body_bytes)

    # -- API request flow ----------------------------------------------------------------------------------------

    def begin_api(self, req):
        """Log the request and pick the fault rule that applies to it (if any)."""
        with self.lock:
            token = self.world.tokens.get(req.token) if req.token is not None else None
            if token is not None:
                req.auth_kind = "valid"
            scope = req.scope
            scopes_ok = token is not None and (
                scope in (None, "public") or scope in token["scopes"]
            )
            req.fault = match_fault(self.faults, req.method, req.match_path)
            self._seq += 1
            req.entry = {
                "seq": self._seq,
                "time": time.time(),
                "method": req.method,
                "path": req.log_path,
                "query": req.query,
                "account": req.account_header,
                "auth": req.auth_kind,
                "scopes_ok": scopes_ok,
                "body": req.log_body,
                "status": None,
                "fault": req.fault["id"] if req.fault else None,
            }
            self.request_log.append(req.entry)
            if len(self.request_log) > REQUEST_LOG_LIMIT:
                del self.request_log[: len(self.request_log) - REQUEST_LOG_LIMIT]
        return req

    def store_request(self, method, raw_path, query_string, headers):
        """Log an object-store request and answer it: (status, body, content type, fault rule or None)."""
        path = raw_path.split("?", 1)[0]
        with self.lock:
            fault = match_fault(self.faults, method, path)
            self._seq += 1
            entry = {
                "seq": self._seq,
                "time": time.time(),
                "method": method,
                "path": path,
                "query": sorted(name for name in query_dict(query_string)),
                "account": None,
                "auth": "header" if headers.get("Authorization") else "query",
                "scopes_ok": None,
                "body": None,
                "status": None,
                "fault": fault["id"] if fault else None,
                "store": True,
            }
            self.request_log.append(entry)
            if fault is not None and fault["effect"] in ("status", "drop"):
                if fault["effect"] == "drop":
                    return None, b"", "", fault
                status, _headers, data, ctype = canned_answer(fault, {}, {})
            else:
                status, data, ctype = store_answer(
                    self, method, path, query_string, headers, time.time()
                )
            entry["status"] = status
        return status, data, ctype, fault

    def finish_api(self, req, status, handled_status=None):
        with self.lock:
            req.entry["status"] = status
            if handled_status is not None:
                req.entry["handled_status"] = handled_status

    def _rate_headers(self, token, now):
        limit = self.config["rate_limit"]
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(self._rates.remaining(token, limit, now)),
        }

    def fault_answer(self, req, request_headers=None):
        """The canned answer of the request's status fault: (status, headers, body bytes, content type)."""
        with self.lock:
            rate_headers = self._rate_headers(req.token, time.time())
        return canned_answer(req.fault, rate_headers, request_headers or {})

    def handle_api(self, req):
        """Answer an API request: (status, JSON payload, headers)."""
        fault = req.fault
        req.fail_message = (
            fault["fail_action"] if fault is not None and fault["effect"] == "fail_action" else None
        )
        with self.lock:
            req.now = time.time()
            limit = self.config["rate_limit"]
            headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(limit)}
            try:
                if req.route is None:
                    # Like Rails, the router answers unknown paths before any authentication happens.
                    raise SimError(404, "No route matches %s %s" % (req.method, req.log_path))
                token = self.world.tokens.get(req.token) if req.token is not None else None
                if token is None:
                    if req.auth_kind == "missing":
                        raise SimError(
                            401, "No access token given: send 'Authorization: Bearer <token>'"
                        )
                    raise SimError(401, "The access token is invalid")
                remaining, throttled = self._rates.consume(req.token, limit, req.now)
                headers["X-RateLimit-Remaining"] = str(remaining)
                if throttled:
                    raise SimError(
                        503,
                        "Rate limit exceeded: %d requests per hour" % limit,
                        details="Too many requests for this token; wait for the hourly window to reset",
                    )
                req.account = _account(token, req.account_header)
                scope, handler = req.route[0], req.route[1]
                # Scoped Access: a token with no scope has public (read-only) access, like one with 'public'.
                if scope != "public" and scope not in token["scopes"]:
                    raise SimError(403, "This action requires the '%s' scope" % scope)
                status, payload = handler(self, req)
            except SimError as err:
                status, payload = err.status, err.payload()
            if fault is not None and fault["effect"] == "release":
                self.release_actions(time.time())
        return status, payload, headers


# ---------------------------------------------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address, handler, sim):
        self.sim = sim
        self._connections = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def server_bind(self):
        # Skip HTTPServer's reverse DNS lookup of the bind address.
        socketserver.TCPServer.server_bind(self)
        self.server_name = self.server_address[0]
        self.server_port = self.server_address[1]

    def handle_error(self, request, client_address):
        # A client that goes away (timeouts, dropped connections) is normal here; stay quiet unless verbose.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)) and not self.sim.verbose:
            return
        super().handle_error(request, client_address)

    def track(self, connection, add):
        with self._connections_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self):
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Cloud66Simulator/1.0"
    disable_nagle_algorithm = True
    timeout = 300

    def setup(self):
        super().setup()
        self.server.track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):
        if self.server.sim.verbose:
            super().log_message(format, *args)

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_PATCH(self):
        self._dispatch()

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise ValueError("malformed chunked body") from None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise ValueError("request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = self.headers.get("Content-Length")
        if length is None or not length.strip():
            return b""
        try:
            size = int(length)
        except ValueError:
            raise ValueError("invalid Content-Length") from None
        if size < 0 or size > MAX_BODY_BYTES:
            raise ValueError("invalid Content-Length") from None
        return self.rfile.read(size) if size else b""

    # send, send_slowly and hang_up are how sim.faults.respond answers.

    def send(self, status, data, content_type, headers=None):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if status in (204, 304) or status < 200:
                data = b""
            else:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if data and self.command != "HEAD":
                self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def _send_json(self, status, payload, headers=None):
        self.send(status, dumps(payload), JSON_TYPE, headers)

    def hang_up(self):
        self.close_connection = True

    def _dispatch(self):
        try:
            self._dispatch_inner()
        except Exception:
            if self.server.sim.verbose:
                traceback.print_exc()
            else:
                where = self.path.split("?")[0]
                sys.stderr.write(
                    "cloud66 simulator: internal error on %s %s\n%s"
                    % (self.command, where, traceback.format_exc())
                )
            self.close_connection = True
            self._send_json(
                500,
                {
                    "error": "internal_server_error",
                    "error_description": "simulator bug, see its stderr",
                },
            )

    def _dispatch_inner(self):
        sim = self.server.sim
        try:
            body = self._read_body()
        except ValueError as exc:
            self.close_connection = True
            self._send_json(400, {"error": "bad_request", "error_description": str(exc)})
            return
        split = urlsplit(self.path)
        path = split.path
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            status, payload = sim.handle_control(self.command, path[len(CONTROL_PREFIX) :], body)
            self._send_json(status, payload)
            return
        req = sim.begin_api(ApiRequest(self.command, path, split.query, self.headers, body))
        respond(sim, req, self)

    def send_slowly(self, status, data, content_type, headers, rule):
        """Send the whole header but only half of the body (cut_body), or the body one byte at a time (trickle)."""
        self.close_connection = True
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if rule["effect"] == "cut_body":
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                return
            for index in range(len(data)):
                self.wfile.write(data[index : index + 1])
                self.wfile.flush()
                time.sleep(rule["trickle"])
        except OSError:
            pass


class _StoreHandler(_Handler):
    """The object store: GET (and HEAD) of a backup file under query-string authorization; faults status, drop,
    delay and cut_body apply to its paths (``/store/...``) too."""

    server_version = "SimulatedObjectStore/1.0"

    def do_HEAD(self):
        self._dispatch()

    def _dispatch_inner(self):
        split = urlsplit(self.path)
        status, data, content_type, fault = self.server.sim.store_request(
            self.command, split.path, split.query, self.headers
        )
        effect = fault["effect"] if fault is not None else None
        if status is None:
            self.hang_up()
            return
        if effect == "delay":
            time.sleep(fault["delay"])
        if effect in ("cut_body", "trickle") and status == 200:
            self.send_slowly(status, data, content_type, {}, fault)
            return
        self.send(status, data, content_type)

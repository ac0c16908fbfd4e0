"""A local, stateful simulator of the Cloud66 v3 API (stacks, server groups, databases, database users, actions).

It serves the API under ``/api/3`` and a control API under ``/_sim`` that tests use to reset state, change
timings, inject faults and read the request log. Standard library only.

Run it with ``python tests/simulator/cloud66_sim.py --help`` or import :class:`Simulator`.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import ipaddress
import json
import math
import os
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

API_PREFIX = '/api/3'
CONTROL_PREFIX = '/_sim'
PER_PAGE = 30
FIRST_ACTION_ID = 1001
RATE_WINDOW_SECONDS = 3600.0
REQUEST_LOG_LIMIT = 100000
MAX_BODY_BYTES = 10 * 1024 * 1024
FIXTURE_TIME = '2023-01-01T00:00:00Z'
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE_DIR = os.path.join(HERE, 'fixtures')
DEFAULT_FIXTURE = os.path.join(FIXTURE_DIR, 'default.json')

DEFAULT_CONFIG = {
    'action_seconds': 2.0,
    'queue_seconds': 0.3,
    'list_lag_seconds': 1.0,
    'action_shape': 'status',
    'profile': 'endpoint',
    # Whether server group records carry "type"; null: as the profile has it (the model profile leaves it out).
    'group_types': None,
    # New actions stay unfinished until released (POST /_sim/release, or a request matching a "release" fault).
    'hold_actions': False,
    # The database lists show the group as it was when this was set, until released.
    'hold_lists': False,
    'rate_limit': 3000,
}
ACTION_SHAPES = ('status', 'legacy')
# Which of Cloud66's published shapes the API answers in: the endpoint pages' examples, or the model pages'.
PROFILES = ('endpoint', 'model')
DB_TYPES = ('mysql', 'postgresql')
DB_CHARSETS = {'mysql': ('utf8mb4', 'utf8mb4_unicode_ci'), 'postgresql': ('UTF8', 'en_US.UTF-8')}
DB_NAME_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_]{0,62}')
USERNAME_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_]{0,31}')
RESERVED_NAMES = frozenset(['mysql', 'information_schema', 'performance_schema', 'sys', 'postgres', 'template0', 'template1'])
USER_TYPES = ('application', 'readonly')
DIGITS_RE = re.compile(r'[0-9]+')
ERROR_CODES = {
    400: 'bad_request', 401: 'unauthenticated', 402: 'trial_expired', 403: 'forbidden', 404: 'not_found',
    405: 'method_not_allowed', 408: 'time_out', 409: 'conflict', 422: 'unprocessable_entity', 429: 'too_many_requests',
    500: 'internal_server_error', 502: 'bad_gateway', 503: 'throttled', 504: 'gateway_timeout',
}
SUCCESS_MESSAGE = 'Completed successfully'
FAULT_EFFECTS = ('status', 'delay', 'drop', 'lost_answer', 'fail_action', 'release')
FAULT_KEYS = frozenset(('method', 'path', 'times', 'skip', 'body', 'headers', 'comment') + FAULT_EFFECTS)


def iso_time(stamp):
    """Format an epoch time as ISO-8601 UTC with a Z suffix (whole seconds, like the published examples)."""
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(stamp))


def is_loopback(host):
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def numeric_id(uid):
    """A stable integer id for a record known by its uid, for the shapes that give integer ids."""
    return int(hashlib.sha256(uid.encode('utf-8')).hexdigest()[:8], 16) if uid else None


def _stable_hex(*parts):
    return hashlib.sha1('/'.join(str(p) for p in parts).encode('utf-8')).hexdigest()[:12]


def _random_hex():
    return uuid.uuid4().hex[:12]


def _digits(text):
    return DIGITS_RE.fullmatch(text) is not None


def _dumps(payload):
    return json.dumps(payload, separators=(',', ':')).encode('utf-8')


class SimError(Exception):
    """An API or control error answered as JSON."""

    def __init__(self, status, description, code=None, details=None):
        super().__init__(description)
        self.status = status
        self.code = code or ERROR_CODES.get(status, 'error')
        self.description = description
        self.details = details

    def payload(self):
        body = {'error': self.code, 'error_description': self.description}
        if self.details is not None:
            body['details'] = self.details
        return body


def _bad(description, details=None):
    return SimError(400, description, details=details)


# ---------------------------------------------------------------------------------------------------------------
# Configuration and fixture loading
# ---------------------------------------------------------------------------------------------------------------

def validate_config(values, base):
    """Return a copy of ``base`` updated with ``values``; raise ValueError on an unknown key or a bad value."""
    if not isinstance(values, dict):
        raise ValueError('config must be a JSON object')
    result = dict(base)
    for key, value in values.items():
        if key in ('action_seconds', 'queue_seconds', 'list_lag_seconds'):
            if not _is_number(value) or value < 0:
                raise ValueError('config %s must be a number >= 0, got %r' % (key, value))
            result[key] = float(value)
        elif key == 'action_shape':
            if value not in ACTION_SHAPES:
                raise ValueError('config action_shape must be one of %s, got %r' % (', '.join(ACTION_SHAPES), value))
            result[key] = value
        elif key == 'profile':
            if value not in PROFILES:
                raise ValueError('config profile must be one of %s, got %r' % (', '.join(PROFILES), value))
            result[key] = value
        elif key in ('hold_actions', 'hold_lists'):
            if not isinstance(value, bool):
                raise ValueError('config %s must be true or false, got %r' % (key, value))
            result[key] = value
        elif key == 'group_types':
            if value is not None and not isinstance(value, bool):
                raise ValueError('config group_types must be true, false or null, got %r' % (value,))
            result[key] = value
        elif key == 'rate_limit':
            if not _is_int(value) or value < 1:
                raise ValueError('config rate_limit must be an integer >= 1, got %r' % (value,))
            result[key] = value
        else:
            raise ValueError('unknown config key %r (known: %s)' % (key, ', '.join(sorted(DEFAULT_CONFIG))))
    return result


def load_fixture_file(path):
    """Read a fixture file; a relative path that does not exist is also looked up in the fixtures directory."""
    candidates = [path]
    if not os.path.isabs(path):
        candidates.append(os.path.join(FIXTURE_DIR, path))
    for candidate in candidates:
        if os.path.isfile(candidate):
            with open(candidate, 'r', encoding='utf-8') as handle:
                try:
                    return json.load(handle)
                except ValueError as exc:
                    raise ValueError('fixture %s is not valid JSON: %s' % (candidate, exc))
    raise ValueError('fixture file not found: %s' % path)


class Action:
    """An asynchronous action; its status is computed from the clock."""

    __slots__ = ('id', 'stack_uid', 'group_id', 'action_type', 'resource_type', 'resource_uid', 'subject',
                 'created', 'start_at', 'finish_at', 'success', 'message', 'effects')

    def __init__(self, action_id, group, action_type, resource_type, resource_uid, subject, now, config, fail_message):
        self.id = action_id
        self.stack_uid = group.stack_uid
        self.group_id = group.id
        self.action_type = action_type
        self.resource_type = resource_type
        self.resource_uid = resource_uid
        self.subject = subject
        self.created = now
        duration = config['action_seconds']
        self.start_at = now + min(config['queue_seconds'], duration)
        # A held action finishes when it is released, not at a time.
        self.finish_at = math.inf if config['hold_actions'] else now + duration
        self.success = fail_message is None
        self.message = SUCCESS_MESSAGE if fail_message is None else fail_message
        # The server-side changes that happen when the action finishes: (record, key) pairs set to its finish time.
        self.effects = []

    def finished(self, now):
        return now >= self.finish_at

    def takes_effect(self, record, key):
        """Make ``record[key]`` (a record's 'born' or 'dies') the moment this action finishes."""
        record[key] = self.finish_at
        if key == 'born':
            record['created_at'] = iso_time(self.finish_at) if self.finish_at != math.inf else None
        self.effects.append((record, key))

    def release(self, now):
        """Finish a held action now, and with it the change it makes."""
        self.start_at = min(self.start_at, now)
        self.finish_at = now
        for record, key in self.effects:
            record[key] = now
            if key == 'born':
                record['created_at'] = iso_time(now)

    def render(self, now, shape, profile='endpoint'):
        finished = now >= self.finish_at
        started = now >= self.start_at
        if finished:
            status = 'completed' if self.success else 'failed'
            updated = self.finish_at
        elif started:
            status = 'running'
            updated = self.start_at
        else:
            status = 'queued'
            updated = self.created
        if self.action_type == 'database_delete':
            resource_id = self.resource_uid
        else:
            resource_id = self.resource_uid if finished and self.success else None
        success = None
        if finished:
            success = self.success if shape == 'status' else ('true' if self.success else 'false')
        if profile == 'model':
            return self._render_model(now, started, finished, success)
        body = {'id': self.id}
        if shape == 'status':
            body['status'] = status
        body.update({
            'action_type': self.action_type,
            'resource_type': self.resource_type,
            'resource_id': resource_id,
            'started_via': 'api',
            'started_at': iso_time(self.start_at) if started else None,
            'finished_at': iso_time(self.finish_at) if finished else None,
            'finished_success': success,
            'finished_message': self.message if finished else None,
            'created_at': iso_time(self.created),
            'updated_at': iso_time(updated),
        })
        return body

    def _render_model(self, now, started, finished, success):
        """The AsyncAction model page's shape: named by ``action``, no ``status``, an integer ``resource_id``."""
        return {
            'id': self.id,
            'user': 'api@example.com',
            'resource_type': self.resource_type,
            'action': self.action_type,
            'resource_id': numeric_id(self.resource_uid),
            'started_via': 'api',
            'started_at': iso_time(self.start_at) if started else None,
            'finished_at': iso_time(self.finish_at) if finished else None,
            'finished_success': success,
            'finished_message': self.message if finished else None,
            'finished_result': {} if finished else None,
            'metadata': {},
        }


class Group:
    """A server group with its database users and databases (server-side truth plus list bookkeeping)."""

    def __init__(self, stack_uid, group_id, name, group_type, created_at, updated_at):
        self.stack_uid = stack_uid
        self.id = group_id
        self.name = name
        self.type = group_type
        self.created_at = created_at
        self.updated_at = updated_at
        # user: uid, username, user_type, created_at, born
        self.users = []
        # database: uid, name, charset, collation, size_bytes, created_at, user_uids, born, dies
        self.databases = []
        self.inflight = []

    def record(self, with_type=True):
        record = {'id': self.id, 'name': self.name, 'type': self.type, 'created_at': self.created_at,
                  'updated_at': self.updated_at}
        if not with_type:
            # As the List Server Groups example shows them: without a type.
            del record['type']
        return record

    def supports_databases(self):
        return self.type in DB_TYPES

    def prune(self, now):
        if self.inflight:
            self.inflight = [action for action in self.inflight if not action.finished(now)]

    def live_users(self, now):
        return [user for user in self.users if user['born'] <= now]

    def user_names(self, now):
        return dict((user['uid'], user['username']) for user in self.users if user['born'] <= now)


def _db_exists(record, now):
    return record['born'] <= now and (record['dies'] is None or now < record['dies'])


def _db_listed(record, now, lag):
    return record['born'] + lag <= now and (record['dies'] is None or now < record['dies'] + lag)


class World:
    """Everything the fixture describes, plus the actions started since the last reset."""

    def __init__(self, fixture):
        if not isinstance(fixture, dict):
            raise ValueError('fixture must be a JSON object')
        self.accounts = {}
        self.tokens = {}
        self.stacks = []
        self.stacks_by_uid = {}
        self.actions = {}
        self.action_order = []
        self.next_action_id = FIRST_ACTION_ID
        self._load_accounts(fixture.get('accounts', []))
        for stack in self._list(fixture, 'stacks', 'fixture'):
            self._load_stack(stack)
        for token in self._list(fixture, 'tokens', 'fixture'):
            self._load_token(token)

    @staticmethod
    def _list(obj, key, where):
        value = obj.get(key, [])
        if not isinstance(value, list):
            raise ValueError('%s: %s must be a list' % (where, key))
        for item in value:
            if not isinstance(item, dict):
                raise ValueError('%s: every item of %s must be an object' % (where, key))
        return value

    def _load_accounts(self, accounts):
        if not isinstance(accounts, list):
            raise ValueError('fixture: accounts must be a list')
        for account in accounts:
            if not isinstance(account, dict) or not _is_int(account.get('id')):
                raise ValueError('fixture: every account needs an integer id')
            self.accounts[account['id']] = {'id': account['id'], 'name': account.get('name', 'account %d' % account['id'])}

    def _load_token(self, token):
        text = token.get('token')
        if not isinstance(text, str) or not text:
            raise ValueError('fixture: every token needs a non-empty "token" string')
        if text in self.tokens:
            raise ValueError('fixture: duplicate token %s' % token.get('name', '?'))
        scopes = token.get('scopes', [])
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise ValueError('fixture: token scopes must be a list of strings')
        accounts = token.get('accounts', sorted(self.accounts))
        if not isinstance(accounts, list) or not accounts or not all(_is_int(a) for a in accounts):
            raise ValueError('fixture: token accounts must be a non-empty list of integers')
        default = token.get('default_account', accounts[0])
        if default not in accounts:
            raise ValueError('fixture: token default_account must be one of its accounts')
        self.tokens[text] = {'name': token.get('name', ''), 'scopes': frozenset(scopes), 'accounts': list(accounts), 'default_account': default}

    def _load_stack(self, stack):
        uid = stack.get('uid')
        if not isinstance(uid, str) or not uid:
            raise ValueError('fixture: every stack needs a uid')
        if uid in self.stacks_by_uid:
            raise ValueError('fixture: duplicate stack uid %s' % uid)
        account = stack.get('account')
        if not _is_int(account):
            raise ValueError('fixture: stack %s needs an integer account' % uid)
        if account not in self.accounts:
            self.accounts[account] = {'id': account, 'name': 'account %d' % account}
        record = {
            'uid': uid,
            'name': stack.get('name', uid),
            'environment': stack.get('environment', 'production'),
            'status': 1,
            'created_at': stack.get('created_at', FIXTURE_TIME),
            'updated_at': stack.get('updated_at', stack.get('created_at', FIXTURE_TIME)),
        }
        for key, value in stack.items():
            if key not in ('server_groups', 'account') and key not in record:
                record[key] = value
        entry = {'uid': uid, 'account': account, 'record': record, 'groups': [], 'groups_by_id': {}, 'action_ids': []}
        for group in self._list(stack, 'server_groups', 'stack %s' % uid):
            self._load_group(entry, group)
        self.stacks.append(entry)
        self.stacks_by_uid[uid] = entry

    def _load_group(self, stack, spec):
        where = 'stack %s server group %r' % (stack['uid'], spec.get('id'))
        group_id = spec.get('id')
        if not _is_int(group_id):
            raise ValueError('%s: id must be an integer' % where)
        if group_id in stack['groups_by_id']:
            raise ValueError('%s: duplicate id' % where)
        group_type = spec.get('type')
        if not isinstance(group_type, str):
            raise ValueError('%s: type must be a string' % where)
        created = spec.get('created_at', FIXTURE_TIME)
        group = Group(stack['uid'], group_id, spec.get('name', '%s-%d' % (group_type, group_id)), group_type, created,
                      spec.get('updated_at', created))
        by_name = {}
        for user in self._list(spec, 'database_users', where):
            username = user.get('username')
            if not isinstance(username, str) or not username:
                raise ValueError('%s: every database user needs a username' % where)
            if username in by_name:
                raise ValueError('%s: duplicate database user %s' % (where, username))
            user_type = user.get('user_type', 'application')
            if user_type not in USER_TYPES:
                raise ValueError('%s: user_type must be application or readonly' % where)
            record = {
                'uid': user.get('uid') or 'user_' + _stable_hex(stack['uid'], group_id, 'user', username),
                'username': username,
                'user_type': user_type,
                'created_at': user.get('created_at', FIXTURE_TIME),
                'born': 0.0,
            }
            by_name[username] = record['uid']
            by_name[record['uid']] = record['uid']
            group.users.append(record)
        charset, collation = DB_CHARSETS.get(group_type, ('utf8', 'utf8_general_ci'))
        names = set()

        def add_db(name, db_uid, users, size, created_at, db_charset, db_collation):
            if not isinstance(name, str) or not name:
                raise ValueError('%s: every database needs a name' % where)
            if name in names:
                raise ValueError('%s: duplicate database %s' % (where, name))
            if not isinstance(users, list):
                raise ValueError('%s: database %s users must be a list' % (where, name))
            uids = []
            for user in users:
                if user not in by_name:
                    raise ValueError('%s: database %s names unknown user %r' % (where, name, user))
                uids.append(by_name[user])
            names.add(name)
            group.databases.append({
                'uid': db_uid or 'db_' + _stable_hex(stack['uid'], group_id, 'db', name),
                'name': name,
                'charset': db_charset or charset,
                'collation': db_collation or collation,
                'size_bytes': size,
                'created_at': created_at,
                'user_uids': uids,
                'born': 0.0,
                'dies': None,
            })

        for db in self._list(spec, 'databases', where):
            add_db(db.get('name'), db.get('uid'), db.get('users', []), db.get('size_bytes', 0),
                   db.get('created_at', FIXTURE_TIME), db.get('charset'), db.get('collation'))
        generate = spec.get('generate')
        if generate is not None:
            if not isinstance(generate, dict) or not _is_int(generate.get('count')) or generate['count'] < 0:
                raise ValueError('%s: generate needs an integer count' % where)
            start = generate.get('start', 1)
            count = generate['count']
            width = generate.get('width', max(4, len(str(start + count - 1))))
            prefix = generate.get('prefix', 'db_')
            for number in range(start, start + count):
                add_db('%s%0*d' % (prefix, width, number), None, generate.get('users', []), generate.get('size_bytes', 0),
                       generate.get('created_at', FIXTURE_TIME), None, None)
        stack['groups'].append(group)
        stack['groups_by_id'][group_id] = group

    def new_action_id(self):
        action_id = self.next_action_id
        self.next_action_id += 1
        return action_id


# ---------------------------------------------------------------------------------------------------------------
# Request parsing helpers
# ---------------------------------------------------------------------------------------------------------------

_STACK = r'/stacks/(?P<stack>[^/]+)'
_GROUP = _STACK + r'/server_groups/(?P<group>[^/]+)'
_ROUTE_TABLE = (
    ('GET', r'/stacks', 'public', '_api_list_stacks'),
    ('GET', _STACK, 'public', '_api_get_stack'),
    ('GET', _STACK + r'/server_groups', 'public', '_api_list_groups'),
    ('GET', _GROUP, 'public', '_api_get_group'),
    ('GET', _GROUP + r'/databases', 'public', '_api_list_databases'),
    ('POST', _GROUP + r'/databases', 'admin', '_api_create_database'),
    ('DELETE', _GROUP + r'/databases/(?P<database>[^/]+)', 'admin', '_api_delete_database'),
    ('GET', _GROUP + r'/database_users', 'public', '_api_list_users'),
    ('POST', _GROUP + r'/database_users', 'admin', '_api_create_user'),
    ('GET', _STACK + r'/actions', 'public', '_api_list_actions'),
    ('GET', _STACK + r'/actions/(?P<action>[^/]+)', 'public', '_api_get_action'),
)
ROUTES = tuple((method, re.compile('^' + pattern + '$'), scope, name) for method, pattern, scope, name in _ROUTE_TABLE)


def match_route(method, path):
    """Return (scope, handler name, params) for an API path, or None."""
    if path is None:
        return None
    for route_method, regex, scope, name in ROUTES:
        if route_method != method:
            continue
        found = regex.match(path)
        if found:
            return scope, name, dict((key, unquote(value)) for key, value in found.groupdict().items())
    return None


def normalize_api_path(raw_path):
    """Strip the /api/3 prefix, an optional .json suffix and a trailing slash; None when outside the API."""
    if raw_path != API_PREFIX and not raw_path.startswith(API_PREFIX + '/'):
        return None
    path = raw_path[len(API_PREFIX):]
    if path.endswith('.json'):
        path = path[:-5]
    return path.rstrip('/') or '/'


def _query_dict(query_string):
    result = {}
    for key, values in parse_qs(query_string, keep_blank_values=True).items():
        result[key] = values[0] if len(values) == 1 else values
    return result


def _form_dict(text):
    result = {}
    for key, values in parse_qs(text, keep_blank_values=True).items():
        if key.endswith('[]'):
            result[key[:-2]] = list(values)
        else:
            result[key] = values[0] if len(values) == 1 else list(values)
    return result


def parse_body(body_bytes, content_type):
    """Return (parsed value, value for the request log, error text or None)."""
    if not body_bytes:
        return None, None, None
    text = body_bytes.decode('utf-8', errors='replace')
    if not text.strip():
        return None, None, None
    ctype = (content_type or '').split(';')[0].strip().lower()
    if ctype == 'application/x-www-form-urlencoded':
        return _form_dict(text), text, None
    try:
        data = json.loads(text)
    except ValueError:
        if 'json' not in ctype and '=' in text:
            return _form_dict(text), text, None
        return None, text, 'Request body is not valid JSON'
    return data, data, None


class ApiContext:
    """One API request as the simulator sees it."""

    def __init__(self, method, raw_path, query_string, headers, body_bytes):
        self.method = method
        self.raw_path = raw_path
        self.path = normalize_api_path(raw_path)
        if self.path is None:
            self.log_path = raw_path
            self.match_path = raw_path
        else:
            self.log_path = raw_path[len(API_PREFIX):] or '/'
            self.match_path = self.path
        self.query = _query_dict(query_string)
        self.account_header = headers.get('X-Account')
        self.body, self.log_body, self.body_error = parse_body(body_bytes, headers.get('Content-Type'))
        self.route = match_route(method, self.path)
        self.token = None
        auth = headers.get('Authorization')
        if auth is None or not auth.strip():
            self.auth_kind = 'missing'
        else:
            parts = auth.strip().split(None, 1)
            if len(parts) == 2 and parts[0].lower() == 'bearer':
                self.token = parts[1].strip()
            self.auth_kind = 'invalid'
        self.fault = None
        self.entry = None

    def json_object(self):
        if self.body_error:
            raise _bad(self.body_error)
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise _bad('Request body must be a JSON object')
        return self.body


def _page_number(query):
    value = query.get('page')
    if value is None:
        return 1
    if isinstance(value, list):
        value = value[-1]
    text = value.strip()
    if not _digits(text) or int(text) < 1:
        raise _bad("Invalid page parameter '%s': it must be an integer >= 1" % value)
    return int(text)


def paginate(items, query, render=None, profile='endpoint'):
    """Return a paginated list body for ``items`` (rendering only the items on the page)."""
    page = _page_number(query)
    total = len(items)
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    chunk = items[(page - 1) * PER_PAGE:page * PER_PAGE]
    if render is not None:
        chunk = [render(item) for item in chunk]
    in_range = page <= pages
    body = {
        'response': chunk,
        'count': len(chunk),
        'pagination': {
            'previous': page - 1 if in_range and page > 1 else None,
            'next': page + 1 if page < pages else None,
            'current': page,
            'per_page': PER_PAGE,
            'count': total,
            'pages': pages,
        },
    }
    if profile == 'model':
        # The Pagination model page: "prev", and no per_page.
        pagination = body['pagination']
        pagination['prev'] = pagination.pop('previous')
        del pagination['per_page']
    return body


# ---------------------------------------------------------------------------------------------------------------
# The simulator
# ---------------------------------------------------------------------------------------------------------------

class Simulator:
    """The simulated Cloud66 API. ``start()`` serves it from a background thread and returns the base URL."""

    def __init__(self, fixture=None, host='127.0.0.1', port=0, verbose=False, **config):
        if not is_loopback(host):
            raise ValueError('refusing to listen on non-loopback host %r (use 127.0.0.1, ::1 or localhost)' % host)
        self.host = '127.0.0.1' if host == 'localhost' else host
        self.port = port
        self.verbose = verbose
        if fixture is None:
            fixture = DEFAULT_FIXTURE
        if isinstance(fixture, str):
            fixture = load_fixture_file(fixture)
        self._startup_fixture = copy.deepcopy(fixture)
        self._startup_config = validate_config(config, DEFAULT_CONFIG)
        self.lock = threading.Lock()
        self.config = dict(self._startup_config)
        self.lists_frozen_at = time.time() if self.config['hold_lists'] else None
        self.world = World(self._startup_fixture)
        self.request_log = []
        self._seq = 0
        self.faults = []
        self._next_fault_id = 1
        self._rates = {}
        self._server = None
        self._thread = None

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def start(self):
        if self._server is not None:
            return self.url
        server_class = _Server6 if ':' in self.host else _Server
        self._server = server_class((self.host, self.port), _Handler, self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={'poll_interval': 0.2},
                                        name='cloud66-sim', daemon=True)
        self._thread.start()
        return self.url

    def stop(self):
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    @property
    def base(self):
        host = '[%s]' % self.host if ':' in self.host else self.host
        return 'http://%s:%d' % (host, self.port)

    @property
    def url(self):
        return self.base + API_PREFIX

    @property
    def control_url(self):
        return self.base + CONTROL_PREFIX

    # -- python-side control helpers (the HTTP control API calls these) ------------------------------------------

    def reset(self, fixture=None, fixture_file=None, config=None):
        if fixture is not None and fixture_file is not None:
            raise ValueError('give either fixture or fixture_file, not both')
        if fixture_file is not None:
            if not isinstance(fixture_file, str):
                raise ValueError('fixture_file must be a string')
            fixture = load_fixture_file(fixture_file)
        world = World(fixture if fixture is not None else self._startup_fixture)
        new_config = validate_config(config or {}, self._startup_config)
        with self.lock:
            self.world = world
            self.config = new_config
            self.lists_frozen_at = time.time() if new_config['hold_lists'] else None
            self.request_log = []
            self._seq = 0
            self.faults = []
            self._next_fault_id = 1
            self._rates = {}
            return dict(self.config)

    def set_config(self, **values):
        with self.lock:
            config = validate_config(values, self.config)
            if not config['hold_lists']:
                self.lists_frozen_at = None
            elif not self.config['hold_lists']:
                self.lists_frozen_at = time.time()
            self.config = config
            return dict(self.config)

    def add_fault(self, **rule):
        compiled = _compile_fault(rule)
        with self.lock:
            compiled['id'] = self._next_fault_id
            self._next_fault_id += 1
            self.faults.append(compiled)
            return compiled['id']

    def clear_faults(self):
        with self.lock:
            self.faults = []

    def requests(self):
        with self.lock:
            return copy.deepcopy(self.request_log)

    def clear_requests(self):
        with self.lock:
            self.request_log = []

    # -- API request flow ----------------------------------------------------------------------------------------

    def begin_api(self, method, raw_path, query_string, headers, body_bytes):
        """Log the request and pick the fault rule that applies to it (if any)."""
        ctx = ApiContext(method, raw_path, query_string, headers, body_bytes)
        with self.lock:
            token = self.world.tokens.get(ctx.token) if ctx.token is not None else None
            if token is not None:
                ctx.auth_kind = 'valid'
            scope = ctx.route[0] if ctx.route else None
            scopes_ok = token is not None and (scope is None or scope in token['scopes'])
            ctx.fault = self._match_fault(method, ctx.match_path)
            self._seq += 1
            ctx.entry = {
                'seq': self._seq,
                'time': time.time(),
                'method': method,
                'path': ctx.log_path,
                'query': ctx.query,
                'account': ctx.account_header,
                'auth': ctx.auth_kind,
                'scopes_ok': scopes_ok,
                'body': ctx.log_body,
                'status': None,
                'fault': ctx.fault['id'] if ctx.fault else None,
            }
            self.request_log.append(ctx.entry)
            if len(self.request_log) > REQUEST_LOG_LIMIT:
                del self.request_log[:len(self.request_log) - REQUEST_LOG_LIMIT]
        return ctx

    def finish_api(self, ctx, status, handled_status=None):
        with self.lock:
            ctx.entry['status'] = status
            if handled_status is not None:
                ctx.entry['handled_status'] = handled_status

    def _match_fault(self, method, path):
        for rule in self.faults:
            if rule['remaining'] is not None and rule['remaining'] <= 0:
                continue
            if rule['method'] is not None:
                if rule['method'] != method:
                    continue
            elif rule['effect'] == 'fail_action' and method not in ('POST', 'DELETE'):
                continue
            if rule['regex'] is not None and not rule['regex'].search(path):
                continue
            if rule['skip_remaining'] > 0:
                rule['skip_remaining'] -= 1
                continue
            if rule['remaining'] is not None:
                rule['remaining'] -= 1
            rule['hits'] += 1
            return rule
        return None

    def fault_answer(self, ctx):
        """Build the canned answer of a status fault: (status, headers, body bytes, content type)."""
        rule = ctx.fault
        status = rule['status']
        with self.lock:
            limit = self.config['rate_limit']
            headers = {'X-RateLimit-Limit': str(limit), 'X-RateLimit-Remaining': str(self._remaining(ctx.token, time.time()))}
        body = rule['body']
        if body is None:
            body = {'error': ERROR_CODES.get(status, 'error'), 'error_description': 'Simulated fault: HTTP %d' % status}
        if isinstance(body, str):
            data, ctype = body.encode('utf-8'), 'text/html; charset=utf-8'
        else:
            data, ctype = _dumps(body), 'application/json; charset=utf-8'
        headers.update(rule['headers'])
        return status, headers, data, ctype

    def handle_api(self, ctx):
        """Answer an API request: (status, JSON payload, headers)."""
        fail_message = ctx.fault['fail_action'] if ctx.fault is not None and ctx.fault['effect'] == 'fail_action' else None
        with self.lock:
            now = time.time()
            limit = self.config['rate_limit']
            headers = {'X-RateLimit-Limit': str(limit), 'X-RateLimit-Remaining': str(limit)}
            try:
                if ctx.route is None:
                    # Like Rails, the router answers unknown paths before any authentication happens.
                    raise SimError(404, 'No route matches %s %s' % (ctx.method, ctx.log_path))
                token = self.world.tokens.get(ctx.token) if ctx.token is not None else None
                if token is None:
                    if ctx.auth_kind == 'missing':
                        raise SimError(401, "No access token given: send 'Authorization: Bearer <token>'")
                    raise SimError(401, 'The access token is invalid')
                remaining, throttled = self._consume_rate(ctx.token, now)
                headers['X-RateLimit-Remaining'] = str(remaining)
                if throttled:
                    raise SimError(503, 'Rate limit exceeded: %d requests per hour' % limit,
                                   details='Too many requests for this token; wait for the hourly window to reset')
                account = self._account(token, ctx.account_header)
                scope, handler_name, params = ctx.route
                if scope not in token['scopes']:
                    raise SimError(403, "This action requires the '%s' scope" % scope)
                status, payload = getattr(self, handler_name)(ctx, params, account, now, fail_message)
            except SimError as err:
                status, payload = err.status, err.payload()
            if ctx.fault is not None and ctx.fault['effect'] == 'release':
                self.release_actions(time.time())
        return status, payload, headers

    def release_actions(self, now):
        """Finish every held action now and let the lists follow again; returns how many actions were held."""
        held = [action for action in self.world.actions.values() if action.finish_at == math.inf]
        for action in held:
            action.release(now)
        self.config = dict(self.config, hold_actions=False, hold_lists=False)
        self.lists_frozen_at = None
        return len(held)

    def _remaining(self, token, now):
        limit = self.config['rate_limit']
        window = self._rates.get(token)
        if window is None or now - window[0] >= RATE_WINDOW_SECONDS:
            return limit
        return max(0, limit - window[1])

    def _consume_rate(self, token, now):
        window = self._rates.get(token)
        if window is None or now - window[0] >= RATE_WINDOW_SECONDS:
            window = [now, 0]
            self._rates[token] = window
        window[1] += 1
        limit = self.config['rate_limit']
        return max(0, limit - window[1]), window[1] > limit

    @staticmethod
    def _account(token, header):
        if header is None or not header.strip():
            return token['default_account']
        text = header.strip()
        if not _digits(text) or int(text) not in token['accounts']:
            raise SimError(403, "This token cannot access account '%s'" % text)
        return int(text)

    # -- lookups --------------------------------------------------------------------------------------------------

    def _stack(self, params, account):
        stack = self.world.stacks_by_uid.get(params['stack'])
        if stack is None or stack['account'] != account:
            raise SimError(404, 'Stack not found')
        return stack

    def _group(self, params, account, needs_databases=False):
        stack = self._stack(params, account)
        text = params['group']
        group = stack['groups_by_id'].get(int(text)) if _digits(text) else None
        if group is None:
            raise SimError(404, 'Server group not found')
        if needs_databases and not group.supports_databases():
            raise SimError(400, 'Server group does not support database operations')
        return stack, group

    def _start_action(self, stack, group, action_type, resource_type, resource_uid, subject, now, fail_message):
        action = Action(self.world.new_action_id(), group, action_type, resource_type, resource_uid, subject, now,
                        self.config, fail_message)
        self.world.actions[action.id] = action
        self.world.action_order.append(action.id)
        stack['action_ids'].append(action.id)
        group.inflight.append(action)
        return action

    def _render_database(self, record, usernames, group=None, profile='endpoint'):
        if profile == 'model':
            return {
                'uid': record['uid'],
                'stack_uid': group.stack_uid,
                'server_group_id': group.id,
                'database_name': record['name'],
                'collation': record['collation'],
                'encoding': record['charset'],
                'size_bytes': record['size_bytes'],
                'size_rows': 0,
                'created_at_iso': record['created_at'],
                'updated_at_iso': record['created_at'],
            }
        return {
            'uid': record['uid'],
            'name': record['name'],
            'charset': record['charset'],
            'collation': record['collation'],
            'size_bytes': record['size_bytes'],
            'created_at': record['created_at'],
            'users': [usernames[uid] for uid in record['user_uids'] if uid in usernames],
        }

    @staticmethod
    def _render_user(user, databases, now, group=None, profile='endpoint'):
        if profile == 'model':
            return {
                'uid': user['uid'],
                'stack_uid': group.stack_uid,
                'server_group_id': group.id,
                'username': user['username'],
                'host': '%',
                'created_at_iso': user['created_at'],
                'updated_at_iso': user['created_at'],
            }
        return {
            'uid': user['uid'],
            'username': user['username'],
            'databases': [db['name'] for db in databases if _db_exists(db, now) and user['uid'] in db['user_uids']],
            'user_type': user['user_type'],
            'created_at': user['created_at'],
        }

    def _group_types(self):
        types = self.config['group_types']
        return self.config['profile'] == 'endpoint' if types is None else types

    def _render_action(self, action, now):
        return action.render(now, self.config['action_shape'], self.config['profile'])

    def _duplicate(self, description):
        """A create of a name in use: 400 in the endpoint profile, the general 409 conflict in the model one."""
        if self.config['profile'] == 'model':
            return SimError(409, description)
        return _bad(description)

    # -- API handlers ---------------------------------------------------------------------------------------------

    def _api_list_stacks(self, ctx, params, account, now, fail_message):
        stacks = [stack['record'] for stack in self.world.stacks if stack['account'] == account]
        return 200, paginate(stacks, ctx.query, profile=self.config['profile'])

    def _api_get_stack(self, ctx, params, account, now, fail_message):
        return 200, {'response': self._stack(params, account)['record']}

    def _api_list_groups(self, ctx, params, account, now, fail_message):
        stack = self._stack(params, account)
        with_type = self._group_types()
        return 200, paginate(stack['groups'], ctx.query, lambda group: group.record(with_type), self.config['profile'])

    def _api_get_group(self, ctx, params, account, now, fail_message):
        return 200, {'response': self._group(params, account)[1].record(self._group_types())}

    def _api_list_databases(self, ctx, params, account, now, fail_message):
        group = self._group(params, account, True)[1]
        lag = self.config['list_lag_seconds']
        if self.lists_frozen_at is not None:
            listed = [db for db in group.databases if _db_exists(db, self.lists_frozen_at)]
        else:
            if any(db['dies'] is not None and now >= db['dies'] + lag for db in group.databases):
                group.databases = [db for db in group.databases if db['dies'] is None or now < db['dies'] + lag]
            listed = [db for db in group.databases if _db_listed(db, now, lag)]
        usernames = group.user_names(now)
        profile = self.config['profile']
        return 200, paginate(listed, ctx.query, lambda db: self._render_database(db, usernames, group, profile), profile)

    def _api_create_database(self, ctx, params, account, now, fail_message):
        stack, group = self._group(params, account, True)
        body = ctx.json_object()
        name = body.get('database_name')
        if name is None or (isinstance(name, str) and not name.strip()):
            raise _bad('database_name is required')
        if not isinstance(name, str):
            raise _bad('database_name must be a string')
        if not DB_NAME_RE.fullmatch(name):
            raise _bad("Invalid database name '%s': it must start with a letter or underscore and contain only letters, "
                       "digits and underscores (at most 63 characters)" % name)
        if name.lower() in RESERVED_NAMES:
            raise _bad("Invalid database name '%s': the name is reserved" % name)
        group.prune(now)
        taken = any(db['name'] == name and (db['dies'] is None or now < db['dies']) for db in group.databases)
        taken = taken or any(a.action_type == 'database_create' and a.subject == name for a in group.inflight)
        if taken:
            raise self._duplicate("Database '%s' already exists" % name)
        user_ids = body.get('database_user_ids')
        if user_ids is None or user_ids == '':
            user_ids = []
        elif isinstance(user_ids, str):
            user_ids = [user_ids]
        if not isinstance(user_ids, list) or not all(isinstance(uid, str) for uid in user_ids):
            raise _bad('database_user_ids must be a list of database user uids')
        known = set(user['uid'] for user in group.live_users(now))
        selected = []
        for uid in user_ids:
            if uid not in known:
                raise _bad("Unknown database user '%s'" % uid)
            if uid not in selected:
                selected.append(uid)
        db_uid = 'db_' + _random_hex()
        action = self._start_action(stack, group, 'database_create', 'database', db_uid, name, now, fail_message)
        if action.success:
            charset, collation = DB_CHARSETS[group.type]
            record = {'uid': db_uid, 'name': name, 'charset': charset, 'collation': collation, 'size_bytes': 0,
                      'user_uids': selected, 'dies': None}
            action.takes_effect(record, 'born')
            group.databases.append(record)
        return 200, {'response': self._render_action(action, now)}

    def _api_delete_database(self, ctx, params, account, now, fail_message):
        stack, group = self._group(params, account, True)
        uid = params['database']
        record = None
        for db in group.databases:
            if db['uid'] == uid and _db_exists(db, now):
                record = db
                break
        if record is None:
            raise SimError(404, 'Database not found')
        group.prune(now)
        action = self._start_action(stack, group, 'database_delete', 'database', uid, record['name'], now, fail_message)
        if action.success and (record['dies'] is None or action.finish_at < record['dies']):
            action.takes_effect(record, 'dies')
        return 200, {'response': self._render_action(action, now)}

    def _api_list_users(self, ctx, params, account, now, fail_message):
        group = self._group(params, account, True)[1]
        users = group.live_users(now)
        profile = self.config['profile']
        return 200, paginate(users, ctx.query, lambda user: self._render_user(user, group.databases, now, group, profile),
                             profile)

    def _api_create_user(self, ctx, params, account, now, fail_message):
        stack, group = self._group(params, account, True)
        body = ctx.json_object()
        username = body.get('username')
        if username is None or (isinstance(username, str) and not username.strip()):
            raise _bad('username is required')
        if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
            raise _bad("Invalid username '%s': it must start with a letter or underscore and contain only letters, digits "
                       "and underscores (at most 32 characters)" % (username,))
        user_type = body.get('user_type') or 'application'
        if user_type not in USER_TYPES:
            raise _bad("Invalid user_type '%s': it must be application or readonly" % (user_type,))
        group.prune(now)
        taken = any(user['username'] == username for user in group.users)
        taken = taken or any(a.action_type == 'database_user_create' and a.subject == username for a in group.inflight)
        if taken:
            raise self._duplicate("Database user '%s' already exists" % username)
        db_ids = body.get('database_ids')
        if db_ids is None or db_ids == '':
            db_ids = []
        elif isinstance(db_ids, str):
            db_ids = [db_ids]
        if not isinstance(db_ids, list) or not all(isinstance(uid, str) for uid in db_ids):
            raise _bad('database_ids must be a list of database uids')
        targets = []
        for uid in db_ids:
            found = [db for db in group.databases if db['uid'] == uid and _db_exists(db, now)]
            if not found:
                raise _bad("Unknown database '%s'" % uid)
            targets.append(found[0])
        user_uid = 'user_' + _random_hex()
        action = self._start_action(stack, group, 'database_user_create', 'database_user', user_uid, username, now, fail_message)
        if action.success:
            user = {'uid': user_uid, 'username': username, 'user_type': user_type}
            action.takes_effect(user, 'born')
            group.users.append(user)
            for db in targets:
                if user_uid not in db['user_uids']:
                    db['user_uids'].append(user_uid)
        return 200, {'response': self._render_action(action, now)}

    def _api_list_actions(self, ctx, params, account, now, fail_message):
        stack = self._stack(params, account)
        shape, profile = self.config['action_shape'], self.config['profile']
        # Cloud66 does not document the order; the model profile lists the oldest first, the endpoint one the newest.
        ordered = list(stack['action_ids']) if profile == 'model' else list(reversed(stack['action_ids']))
        return 200, paginate(ordered, ctx.query, lambda action_id: self.world.actions[action_id].render(now, shape, profile),
                             profile)

    def _api_get_action(self, ctx, params, account, now, fail_message):
        stack = self._stack(params, account)
        text = params['action']
        action = self.world.actions.get(int(text)) if _digits(text) else None
        if action is None or action.stack_uid != stack['uid']:
            raise SimError(404, 'Action not found')
        return 200, {'response': self._render_action(action, now)}

    # -- control API ----------------------------------------------------------------------------------------------

    def handle_control(self, method, sub_path, body_bytes):
        """Answer a /_sim request: (status, JSON payload)."""
        sub_path = sub_path.rstrip('/') or '/'
        try:
            data = {}
            if body_bytes and body_bytes.strip():
                try:
                    data = json.loads(body_bytes.decode('utf-8'))
                except ValueError:
                    raise _bad('control request body is not valid JSON')
                if not isinstance(data, dict):
                    raise _bad('control request body must be a JSON object')
            key = (method, sub_path)
            if key == ('GET', '/health'):
                return 200, {'ok': True}
            if key == ('POST', '/reset'):
                unknown = set(data) - set(('fixture', 'fixture_file', 'config'))
                if unknown:
                    raise _bad('unknown reset keys: %s' % ', '.join(sorted(unknown)))
                try:
                    config = self.reset(data.get('fixture'), data.get('fixture_file'), data.get('config'))
                except ValueError as exc:
                    raise _bad(str(exc))
                return 200, {'ok': True, 'config': config}
            if key == ('GET', '/config'):
                with self.lock:
                    return 200, dict(self.config)
            if key == ('POST', '/config'):
                try:
                    return 200, self.set_config(**data)
                except ValueError as exc:
                    raise _bad(str(exc))
            if key == ('POST', '/databases'):
                return 200, self._seed_databases(data)
            if key == ('POST', '/release'):
                with self.lock:
                    return 200, {'released': self.release_actions(time.time())}
            if key == ('GET', '/faults'):
                with self.lock:
                    return 200, {'faults': [_public_fault(rule) for rule in self.faults]}
            if key == ('POST', '/faults'):
                try:
                    return 200, {'id': self.add_fault(**data)}
                except ValueError as exc:
                    raise _bad(str(exc))
            if key == ('DELETE', '/faults'):
                self.clear_faults()
                return 200, {'ok': True}
            if key == ('GET', '/requests'):
                return 200, {'requests': self.requests()}
            if key == ('DELETE', '/requests'):
                self.clear_requests()
                return 200, {'ok': True}
            if key == ('GET', '/state'):
                return 200, self.state()
            raise SimError(404, 'Unknown control endpoint %s %s%s' % (method, CONTROL_PREFIX, sub_path))
        except SimError as err:
            return err.status, err.payload()

    def state(self):
        with self.lock:
            now = time.time()
            lag = self.config['list_lag_seconds']
            shape = self.config['action_shape']
            groups = []
            for stack in self.world.stacks:
                for group in stack['groups']:
                    group.prune(now)
                    usernames = group.user_names(now)
                    databases = []
                    for db in group.databases:
                        if _db_exists(db, now):
                            record = self._render_database(db, usernames)
                            record['listed'] = _db_listed(db, now, lag)
                            databases.append(record)
                    groups.append({
                        'stack_id': stack['uid'],
                        'server_group_id': group.id,
                        'type': group.type,
                        'databases': databases,
                        'database_users': [self._render_user(user, group.databases, now) for user in group.live_users(now)],
                        'pending': [self._state_action(action, now, shape) for action in group.inflight],
                    })
            actions = [self._state_action(self.world.actions[action_id], now, shape) for action_id in self.world.action_order]
            return {'groups': groups, 'actions': actions}

    @staticmethod
    def _state_action(action, now, shape):
        body = action.render(now, shape)
        body['stack_id'] = action.stack_uid
        body['server_group_id'] = action.group_id
        body['target_name'] = action.subject
        return body

    def _seed_databases(self, data):
        unknown = set(data) - set(('stack_id', 'server_group_id', 'count', 'prefix', 'users', 'start', 'width', 'size_bytes'))
        if unknown:
            raise _bad('unknown keys: %s' % ', '.join(sorted(unknown)))
        count = data.get('count')
        if not _is_int(count) or count < 1 or count > 100000:
            raise _bad('count must be an integer between 1 and 100000')
        start = data.get('start', 1)
        if not _is_int(start) or start < 0:
            raise _bad('start must be an integer >= 0')
        prefix = data.get('prefix', 'bulk_')
        if not isinstance(prefix, str):
            raise _bad('prefix must be a string')
        width = data.get('width', max(4, len(str(start + count - 1))))
        if not _is_int(width) or width < 0 or width > 20:
            raise _bad('width must be an integer between 0 and 20')
        size = data.get('size_bytes', 0)
        if not _is_int(size) or size < 0:
            raise _bad('size_bytes must be an integer >= 0')
        users = data.get('users', [])
        if not isinstance(users, list) or not all(isinstance(user, str) for user in users):
            raise _bad('users must be a list of usernames')
        group_id = data.get('server_group_id')
        params = {'stack': str(data.get('stack_id')), 'group': str(group_id)}
        with self.lock:
            now = time.time()
            stack = self.world.stacks_by_uid.get(params['stack'])
            if stack is None:
                raise SimError(404, 'Stack not found')
            group = self._group(params, stack['account'], True)[1]
            by_name = dict((user['username'], user['uid']) for user in group.live_users(now))
            user_uids = []
            for username in users:
                if username not in by_name:
                    raise _bad("Unknown database user '%s'" % username)
                user_uids.append(by_name[username])
            names = ['%s%0*d' % (prefix, width, number) for number in range(start, start + count)]
            taken = set(db['name'] for db in group.databases if db['dies'] is None or now < db['dies'])
            taken.update(a.subject for a in group.inflight if a.action_type == 'database_create' and not a.finished(now))
            clash = [name for name in names if name in taken]
            if clash:
                raise _bad("Database '%s' already exists" % clash[0])
            charset, collation = DB_CHARSETS[group.type]
            created_at = iso_time(now)
            uids = []
            for name in names:
                uid = 'db_' + _random_hex()
                uids.append(uid)
                group.databases.append({
                    'uid': uid, 'name': name, 'charset': charset, 'collation': collation, 'size_bytes': size,
                    'created_at': created_at, 'user_uids': list(user_uids), 'born': 0.0, 'dies': None,
                })
        return {'names': names, 'uids': uids}


def _compile_fault(rule):
    unknown = set(rule) - FAULT_KEYS
    if unknown:
        raise ValueError('unknown fault keys: %s' % ', '.join(sorted(unknown)))
    effects = [name for name in FAULT_EFFECTS if name in rule]
    if len(effects) != 1:
        raise ValueError('a fault needs exactly one of: %s' % ', '.join(FAULT_EFFECTS))
    effect = effects[0]
    value = rule[effect]
    if effect == 'status' and (not _is_int(value) or not 100 <= value <= 599):
        raise ValueError('status must be an integer HTTP status')
    if effect == 'delay' and (not _is_number(value) or value < 0 or value > 600):
        raise ValueError('delay must be a number of seconds between 0 and 600')
    if effect in ('drop', 'lost_answer', 'release') and value is not True:
        raise ValueError('%s must be true' % effect)
    if effect == 'fail_action' and (not isinstance(value, str) or not value):
        raise ValueError('fail_action must be a non-empty message')
    if ('body' in rule or 'headers' in rule) and effect != 'status':
        raise ValueError('body and headers only go with a status fault')
    body = rule.get('body')
    if body is not None and not isinstance(body, (dict, list, str)):
        raise ValueError('body must be an object, a list or a string')
    headers = rule.get('headers') or {}
    if not isinstance(headers, dict):
        raise ValueError('headers must be an object')
    method = rule.get('method')
    if method is not None and (not isinstance(method, str) or not method):
        raise ValueError('method must be a string')
    path = rule.get('path')
    regex = None
    if path is not None:
        if not isinstance(path, str):
            raise ValueError('path must be a regular expression string')
        try:
            regex = re.compile(path)
        except re.error as exc:
            raise ValueError('path is not a valid regular expression: %s' % exc)
    times = rule.get('times', 1)
    if times is not None and (not _is_int(times) or times < 1):
        raise ValueError('times must be an integer >= 1 (or null for every matching request)')
    skip = rule.get('skip', 0)
    if not _is_int(skip) or skip < 0:
        raise ValueError('skip must be an integer >= 0')
    return {
        'id': None,
        'method': method.upper() if method else None,
        'path': path,
        'regex': regex,
        'times': times,
        'skip': skip,
        'remaining': times,
        'skip_remaining': skip,
        'hits': 0,
        'effect': effect,
        effect: value,
        'body': body,
        'headers': dict((str(k), str(v)) for k, v in headers.items()),
        'comment': rule.get('comment'),
    }


def _public_fault(rule):
    out = dict((key, value) for key, value in rule.items() if key not in ('regex', 'effect'))
    if rule['effect'] != 'status':
        out.pop('body')
        out.pop('headers')
    return out


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
    protocol_version = 'HTTP/1.1'
    server_version = 'Cloud66Simulator/1.0'
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
        if 'chunked' in self.headers.get('Transfer-Encoding', '').lower():
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b';')[0].strip(), 16)
                except ValueError:
                    raise ValueError('malformed chunked body')
                if size == 0:
                    while self.rfile.readline(1024) not in (b'\r\n', b'\n', b''):
                        pass
                    return b''.join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise ValueError('request body too large')
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = self.headers.get('Content-Length')
        if length is None or not length.strip():
            return b''
        try:
            size = int(length)
        except ValueError:
            raise ValueError('invalid Content-Length')
        if size < 0 or size > MAX_BODY_BYTES:
            raise ValueError('invalid Content-Length')
        return self.rfile.read(size) if size else b''

    def _send(self, status, data, content_type, headers=None):
        try:
            self.send_response(status)
            self.send_header('Content-Type', content_type)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if status in (204, 304) or status < 200:
                data = b''
            else:
                self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            if data and self.command != 'HEAD':
                self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def _send_json(self, status, payload, headers=None):
        self._send(status, _dumps(payload), 'application/json; charset=utf-8', headers)

    def _dispatch(self):
        try:
            self._dispatch_inner()
        except Exception:
            if self.server.sim.verbose:
                traceback.print_exc()
            else:
                where = self.path.split('?')[0]
                sys.stderr.write('cloud66 simulator: internal error on %s %s\n%s' % (self.command, where, traceback.format_exc()))
            self.close_connection = True
            self._send_json(500, {'error': 'internal_server_error', 'error_description': 'simulator bug, see its stderr'})

    def _dispatch_inner(self):
        sim = self.server.sim
        try:
            body = self._read_body()
        except ValueError as exc:
            self.close_connection = True
            self._send_json(400, {'error': 'bad_request', 'error_description': str(exc)})
            return
        split = urlsplit(self.path)
        path = split.path
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + '/'):
            status, payload = sim.handle_control(self.command, path[len(CONTROL_PREFIX):], body)
            self._send_json(status, payload)
            return
        ctx = sim.begin_api(self.command, path, split.query, self.headers, body)
        rule = ctx.fault
        effect = rule['effect'] if rule is not None else None
        if effect == 'status':
            status, headers, data, content_type = sim.fault_answer(ctx)
            sim.finish_api(ctx, status)
            self._send(status, data, content_type, headers)
            return
        if effect == 'drop':
            sim.finish_api(ctx, None)
            self.close_connection = True
            return
        if effect == 'delay':
            time.sleep(rule['delay'])
        status, payload, headers = sim.handle_api(ctx)
        if effect == 'lost_answer':
            sim.finish_api(ctx, None, handled_status=status)
            self.close_connection = True
            return
        sim.finish_api(ctx, status)
        self._send_json(status, payload, headers)


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------

def _write_port_file(path, port):
    directory = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(directory, '.%s.%d.tmp' % (os.path.basename(path), os.getpid()))
    with open(temp, 'w', encoding='utf-8') as handle:
        handle.write('%d\n' % port)
    os.replace(temp, path)


def build_parser():
    parser = argparse.ArgumentParser(description='Local, stateful simulator of the Cloud66 v3 API.')
    parser.add_argument('--host', default='127.0.0.1', help='loopback address to bind (default 127.0.0.1)')
    parser.add_argument('--port', type=int, default=0, help='port to bind; 0 picks a free one (default 0)')
    parser.add_argument('--fixture', default=DEFAULT_FIXTURE, help='fixture JSON file (default fixtures/default.json)')
    parser.add_argument('--port-file', help='write the bound port number to this file (atomically)')
    parser.add_argument('--action-seconds', type=float, default=DEFAULT_CONFIG['action_seconds'],
                        help='seconds from an action being created to it finishing')
    parser.add_argument('--queue-seconds', type=float, default=DEFAULT_CONFIG['queue_seconds'],
                        help='seconds an action stays queued before running')
    parser.add_argument('--list-lag-seconds', type=float, default=DEFAULT_CONFIG['list_lag_seconds'],
                        help='seconds after an action finishes before the database list reflects it')
    parser.add_argument('--action-shape', choices=ACTION_SHAPES, default=DEFAULT_CONFIG['action_shape'],
                        help='"status" (with a status field) or "legacy" (no status, finished_success as strings)')
    parser.add_argument('--profile', choices=PROFILES, default=DEFAULT_CONFIG['profile'],
                        help='"endpoint" (the endpoint pages\' example shapes) or "model" (the model pages\' shapes '
                             'everywhere, 409 on a duplicate, actions listed oldest first)')
    parser.add_argument('--group-types', choices=('yes', 'no'), default=None,
                        help='whether server groups carry their type (default: as the profile has it)')
    parser.add_argument('--rate-limit', type=int, default=DEFAULT_CONFIG['rate_limit'], help='requests per token per hour')
    parser.add_argument('--verbose', action='store_true', help='log every request to stderr')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not is_loopback(args.host):
        sys.stderr.write('cloud66_sim: refusing to listen on non-loopback host %r; use 127.0.0.1, ::1 or localhost\n' % args.host)
        return 2
    try:
        sim = Simulator(fixture=args.fixture, host=args.host, port=args.port, verbose=args.verbose,
                        action_seconds=args.action_seconds, queue_seconds=args.queue_seconds,
                        list_lag_seconds=args.list_lag_seconds, action_shape=args.action_shape, profile=args.profile,
                        group_types=None if args.group_types is None else args.group_types == 'yes',
                        rate_limit=args.rate_limit)
    except ValueError as exc:
        sys.stderr.write('cloud66_sim: %s\n' % exc)
        return 2
    try:
        url = sim.start()
    except OSError as exc:
        sys.stderr.write('cloud66_sim: cannot listen on %s port %d: %s\n' % (args.host, args.port, exc))
        return 2
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sys.stdout.write('Cloud66 simulator listening on %s\n' % url)
    sys.stdout.flush()
    if args.port_file:
        _write_port_file(args.port_file, sim.port)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())

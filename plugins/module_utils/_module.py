# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The options every module shares and the base class of the modules. Private to this collection."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ansible.module_utils.ansible_release import __version__ as ANSIBLE_CORE_VERSION
from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ._actions import ActionFailed, ActionWaiter, WaitTimeout
from ._client import (
    DEFAULT_API_URL,
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    Cloud66Client,
    Deadline,
    check_api_url,
)
from ._errors import Cloud66Error, scrub, scrub_all
from ._records import without_secrets
from ._server_group import ServerGroup
from ._stacks import DATABASE_GROUP_TYPES, Resolver, Target

# The collection's version is written in galaxy.yml alone: a module that runs through AnsiballZ cannot read it, so
# the User-Agent names the collection and the ansible-core that runs it.
USER_AGENT = "cloud66.cloud ansible-core/%s" % ANSIBLE_CORE_VERSION
MAX_RETRIES = 20
MAX_API_TIMEOUT = 600
MAX_WAIT_TIMEOUT = 86400
# What an HTTP header can carry: printable ASCII, no spaces or line breaks.
HEADER_SAFE = re.compile(r"[\x21-\x7e]+")
NAMING_OPTIONS = ("stack_id", "stack_name", "environment", "server_group_id", "server_group_name")
TARGET_OPTIONS = NAMING_OPTIONS + ("server_group_type",)
# ASCII and Latin-1 control characters: NUL, tabs, line breaks, DEL, ... No name, id or type Cloud66 takes has one.
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Options checked on their own terms (trimmed first), not by options_problem.
CONNECTION_TEXT_OPTIONS = frozenset(["api_token", "api_url", "account_id"])


def text_problem(value: str) -> str | None:
    """What is wrong with a name, username, id or type given as input, or None: blank, or holding a control
    character. Names are checked further by ``name_problem``."""
    if not value.strip():
        return "must not be empty"
    if CONTROL_CHARACTER.search(value):
        return "must not contain control characters such as NUL, tabs or line breaks"
    return None


def options_problem(params: dict[str, Any], spec: dict[str, dict[str, Any]]) -> str | None:
    """A message for the first option, at any depth, that no Cloud66 call can take, or None:

    - a boolean where the option is a number (``api_timeout: true`` would otherwise count as 1);
    - a control character in any text;
    - a blank entry of a list, or a blank text inside a list's entries (a blank top-level option is each module's
      to judge: its message names what it is).
    """
    for option, settings in spec.items():
        value = params.get(option)
        if option in CONNECTION_TEXT_OPTIONS or value is None:
            continue
        if settings.get("type") in ("int", "float") and isinstance(value, bool):
            return "%s must be a number, not a boolean (got %s)." % (option, value)
        problem = _value_problem(option, value, settings, top=True)
        if problem:
            return problem
    return None


def _value_problem(path: str, value: Any, settings: dict[str, Any], top: bool) -> str | None:
    if isinstance(value, str):
        if CONTROL_CHARACTER.search(value):
            return "%s %s, got %r." % (path, text_problem(value), value)
        if not top and not value.strip():
            return "%s must not be empty." % path
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str) and not item.strip():
                return "%s must not hold empty entries." % path
            problem = _value_problem("%s[%d]" % (path, index), item, settings, top=False)
            if problem:
                return problem
        return None
    if isinstance(value, dict):
        options = settings.get("options") or {}
        for key, item in value.items():
            # Inside a list entry (cloud66_databases' server_groups), an empty server group name counts as unset.
            if item is None or (
                key in TARGET_OPTIONS and isinstance(item, str) and not item.strip()
            ):
                continue
            if options.get(key, {}).get("type") in ("int", "float") and isinstance(item, bool):
                return "%s.%s must be a number, not a boolean (got %s)." % (path, key, item)
            problem = _value_problem("%s.%s" % (path, key), item, options.get(key, {}), top=False)
            if problem:
                return problem
    return None


def cloud66_argument_spec() -> dict[str, dict[str, Any]]:
    """The connection options of every module, documented once in the cloud66.cloud.cloud66 doc fragment."""
    return dict(
        api_token=dict(
            type="str", required=True, no_log=True, fallback=(env_fallback, ["CLOUD66_API_TOKEN"])
        ),
        api_url=dict(
            type="str", default=DEFAULT_API_URL, fallback=(env_fallback, ["CLOUD66_API_URL"])
        ),
        account_id=dict(type="str", fallback=(env_fallback, ["CLOUD66_ACCOUNT_ID"])),
        validate_certs=dict(type="bool", default=True),
        api_timeout=dict(type="int", default=30),
        api_retries=dict(type="int", default=5),
    )


def server_group_argument_spec() -> dict[str, dict[str, Any]]:
    """How a module names its server group, documented in the cloud66.cloud.cloud66.server_group doc fragment."""
    return dict(
        stack_id=dict(type="str"),
        stack_name=dict(type="str"),
        environment=dict(type="str"),
        server_group_id=dict(type="str"),
        server_group_name=dict(type="str"),
        server_group_type=dict(type="str", choices=list(DATABASE_GROUP_TYPES)),
    )


SERVER_GROUP_RULES: dict[str, Any] = dict(
    required_one_of=[
        ("stack_id", "stack_name"),
        ("server_group_id", "server_group_name", "server_group_type"),
    ],
    mutually_exclusive=[
        ("stack_id", "stack_name"),
        ("server_group_id", "server_group_name", "server_group_type"),
    ],
    required_by={"environment": "stack_name"},
)


def stack_argument_spec() -> dict[str, dict[str, Any]]:
    """How a module that works on a whole stack names it, documented in the cloud66.cloud.cloud66.stack fragment."""
    return dict(
        stack_id=dict(type="str"), stack_name=dict(type="str"), environment=dict(type="str")
    )


STACK_RULES: dict[str, Any] = dict(
    required_one_of=[("stack_id", "stack_name")],
    mutually_exclusive=[("stack_id", "stack_name")],
    required_by={"environment": "stack_name"},
)


def target_problem(options: dict[str, Any]) -> str | None:
    """Why ``options`` (empty values count as unset) do not name one server group, or None; the same rules as
    SERVER_GROUP_RULES, for a target given inside a list."""
    given = set(key for key in server_group_argument_spec() if str(options.get(key) or "").strip())
    for names in SERVER_GROUP_RULES["required_one_of"]:
        if not given.intersection(names):
            return "give one of %s" % ", ".join(names)
    for names in SERVER_GROUP_RULES["mutually_exclusive"]:
        if len(given.intersection(names)) > 1:
            return "give only one of %s" % ", ".join(names)
    if "environment" in given and "stack_name" not in given:
        return "environment goes with stack_name"
    group_type = options.get("server_group_type")
    if group_type and group_type not in DATABASE_GROUP_TYPES:
        return "server_group_type must be one of %s, got %r" % (
            ", ".join(DATABASE_GROUP_TYPES),
            group_type,
        )
    return None


class Cloud66Module:
    """What the modules share: option checks, the API client, one wait budget, and failing without a traceback.

    A module checks its own options in ``check_module_params`` and may derive its result's final form in
    ``final_result``.
    """

    module: AnsibleModule
    params: dict[str, Any]
    result: dict[str, Any]
    deadline: Deadline
    client: Cloud66Client
    resolver: Resolver

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params = module.params
        if not HAS_REQUESTS:
            module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
        self.result = {"changed": False}
        # Secrets copied from files or vaults often end with a line break, so the token is sent trimmed. The trimmed
        # token is masked like the given one (the params themselves stay as given, so that Ansible's masking of the
        # invocation still matches them).
        if self.api_token:
            module.no_log_values.add(self.api_token)
        problem = self.check_params()
        if problem:
            self.fail(problem)
        self.deadline = Deadline(self.params.get("wait_timeout") or 0)
        self.client = Cloud66Client(
            api_url=self.api_url,
            api_token=self.api_token,
            account_id=self.account_id,
            validate_certs=self.params["validate_certs"],
            timeout=self.params["api_timeout"],
            retries=self.params["api_retries"],
            user_agent=USER_AGENT,
            # With wait, wait_timeout bounds the whole run: every request, retry and sleep, not only the waits.
            deadline=self.deadline if self.params.get("wait") else None,
        )
        self.resolver = Resolver(self.client)
        self._group: ServerGroup | None = None

    @classmethod
    def define_module(
        cls, argument_spec: dict[str, dict[str, Any]], target_rules: bool = True, **kwargs: Any
    ) -> AnsibleModule:
        """An AnsibleModule with the connection options, the server group options and the module's own.

        Without ``target_rules`` the module checks how its server groups are named itself (``target_problem``).
        """
        spec = cloud66_argument_spec()
        spec.update(server_group_argument_spec())
        spec.update(argument_spec)
        for rule, entries in SERVER_GROUP_RULES.items() if target_rules else ():
            kwargs[rule] = (
                entries + kwargs.get(rule, [])
                if isinstance(entries, list)
                else dict(entries, **kwargs.get(rule, {}))
            )
        return AnsibleModule(argument_spec=spec, **kwargs)

    @classmethod
    def define_stack_module(
        cls, argument_spec: dict[str, dict[str, Any]], **kwargs: Any
    ) -> AnsibleModule:
        """An AnsibleModule with the connection options, the options naming a stack and the module's own."""
        spec = cloud66_argument_spec()
        spec.update(stack_argument_spec())
        spec.update(argument_spec)
        for rule, entries in STACK_RULES.items():
            kwargs[rule] = (
                entries + kwargs.get(rule, [])
                if isinstance(entries, list)
                else dict(entries, **kwargs.get(rule, {}))
            )
        return AnsibleModule(argument_spec=spec, **kwargs)

    def stack_id(self) -> str:
        """The uid of the stack the options name, looked up by name where no uid was given."""
        return self.resolver.stack_id(Target.of(self.params))

    @property
    def api_url(self) -> str:
        """api_url as sent: a URL pasted with a trailing space or line break would otherwise reach another path."""
        return self.params["api_url"].strip()

    @property
    def api_token(self) -> str:
        """api_token as sent, without the spaces or line breaks around it."""
        return self.params["api_token"].strip()

    @property
    def account_id(self) -> str | None:
        """account_id as sent; empty counts as unset: AWX injects CLOUD66_ACCOUNT_ID even when its field is empty."""
        return (self.params["account_id"] or "").strip() or None

    def server_group(self) -> ServerGroup:
        """The server group the options name, looked up by name where no id was given (once per run)."""
        if self._group is None:
            key = self.resolver.resolve(Target.of(self.params))
            self._group = ServerGroup(self.client, key.stack_id, key.server_group_id)
        return self._group

    def check_params(self) -> str | None:
        """A message for the first unusable option, or None. Runs before any request is sent: first the options
        every module shares (connection, naming, wait_timeout), then the module's own (``check_module_params``)."""
        return self.check_shared_params() or self.check_module_params()

    def check_module_params(self) -> str | None:
        """A message for the first unusable option of the module's own, or None; modules override it."""
        return None

    def check_shared_params(self) -> str | None:
        """A message for the first unusable option of those every module shares, or None."""
        api_url_problem = check_api_url(self.api_url)
        if api_url_problem:
            return api_url_problem
        # Anything odd in the token besides the spaces around it is refused, unquoted.
        if not HEADER_SAFE.fullmatch(self.api_token):
            return (
                "api_token must be printable ASCII without spaces or line breaks (its value is not shown). "
                "Check api_token or the CLOUD66_API_TOKEN environment variable."
            )
        if self.account_id is not None and not HEADER_SAFE.fullmatch(self.account_id):
            return (
                "account_id must be printable ASCII without spaces, got %r."
                % self.params["account_id"]
            )
        for option in NAMING_OPTIONS:
            value = self.params.get(option)
            if value is not None and not value.strip():
                return "%s must not be empty." % option
        problem = options_problem(self.params, self.module.argument_spec)
        if problem:
            return problem
        if not 0 < self.params["api_timeout"] <= MAX_API_TIMEOUT:
            return "api_timeout must be a positive number of seconds, at most %d, got %d." % (
                MAX_API_TIMEOUT,
                self.params["api_timeout"],
            )
        if not 0 <= self.params["api_retries"] <= MAX_RETRIES:
            return "api_retries must be between 0 and %d, got %d." % (
                MAX_RETRIES,
                self.params["api_retries"],
            )
        wait_timeout = self.params.get("wait_timeout")
        if wait_timeout is not None:
            least = 1 if self.params.get("wait") else 0
            if not least <= wait_timeout <= MAX_WAIT_TIMEOUT:
                return "wait_timeout must be %s number of seconds, at most %d, got %d." % (
                    "a positive" if least else "zero or a positive",
                    MAX_WAIT_TIMEOUT,
                    wait_timeout,
                )
        return None

    def waiter(self, stack_id: str | int) -> ActionWaiter:
        return ActionWaiter(self.client, stack_id, self.deadline)

    def follow(self, group: ServerGroup, action: dict[str, Any] | None, acted: bool) -> bool:
        """Report a started create, delete or change, and wait for its action when asked to; True when the caller
        should go on to wait for the list too."""
        self.result["changed"] = acted
        if action:
            self.result["action"] = action
        if not self.params["wait"]:
            return False
        if action:
            self.result["action"] = self.waiter(group.stack_id).wait([action])[0]
        return True

    def set_diff(self, before: dict[str, Any], after: dict[str, Any]) -> None:
        if self.module._diff:
            self.result["diff"] = {"before": before, "after": after}

    def final_result(self) -> dict[str, Any]:
        """The result to return, on success or failure; a module that counts changes item by item derives
        ``changed`` here."""
        return self.result

    def shown(self, result: dict[str, Any]) -> dict[str, Any]:
        """The result as the user may see it: no key that names a password, secret or token (passwords stay when the
        task asked for them, with return_password or show_password), and no piece of the token in any string."""
        keep_passwords = bool(
            self.params.get("return_password") or self.params.get("show_password")
        )
        return scrub_all(without_secrets(result, keep_passwords), self.api_token)

    def warn(self, warning: str) -> None:
        """Warn, with the warning scrubbed of the token: it may quote what Cloud66 sent."""
        self.module.warn(scrub(warning, self.api_token))

    def pass_on_warnings(self) -> None:
        """Show every distinct notice Cloud66 sent during the run (X-Cloud66-Warning) as an Ansible warning, once."""
        client = getattr(self, "client", None)
        for text in client.warnings if client is not None else ():
            self.warn("Cloud66: %s" % text)
        if client is not None:
            client.warnings = []

    def fail(self, msg: str, **extra: Any) -> None:
        result = dict(self.final_result())
        result.update(extra)
        self.pass_on_warnings()
        self.module.fail_json(msg=scrub(msg, self.api_token), **self.shown(result))

    def timed_out(self, actions: list[dict[str, Any]]) -> None:
        """Put the actions, as last seen before the wait ran out, into the result."""
        if actions:
            self.result["action"] = actions[0]

    def execute(self, operation: Callable[[], None]) -> None:
        """Run ``operation`` and exit with the result, turning every API failure into a clear task failure."""
        try:
            operation()
        except ActionFailed as exc:
            self.fail(str(exc), changed=False, action=exc.action)
        except WaitTimeout as exc:
            self.timed_out(exc.actions)
            self.fail(str(exc))
        except Cloud66Error as exc:
            self.fail(exc.message, **exc.details())
        self.pass_on_warnings()
        self.module.exit_json(**self.shown(self.final_result()))

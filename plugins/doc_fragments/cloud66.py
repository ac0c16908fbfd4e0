# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # What every module of the collection shares: its author, the connection options, where it runs.
    DOCUMENTATION = r"""
author:
  - cloud66.cloud maintainers (@cloud66-community)
options:
  api_token:
    description:
      - A Cloud66 personal access token. Reading needs the C(public) scope; creating or deleting databases needs
        the C(admin) scope.
      - If not set, the value of the E(CLOUD66_API_TOKEN) environment variable is used.
      - The token is never shown in results, messages or verbose output.
    type: str
    required: true
  api_url:
    description:
      - The base URL of the Cloud66 v3 API.
      - If not set, the value of the E(CLOUD66_API_URL) environment variable is used, else the default.
      - Must use C(https://); plain C(http://) is accepted only for a loopback address, such as the simulator that
        ships with this collection.
      - A proxy set with E(HTTPS_PROXY) (or C(ALL_PROXY)) is used unless E(NO_PROXY) names the host; a loopback
        address is always reached directly. Credentials from C(~/.netrc) are never sent.
    type: str
    default: https://app.cloud66.com/api/3
  account_id:
    description:
      - The Cloud66 account to act in, for a token that can reach several accounts. Sent as the C(X-Account) header.
      - If not set, the value of the E(CLOUD66_ACCOUNT_ID) environment variable is used, else the token's default
        account. An empty value counts as not set.
    type: str
  validate_certs:
    description:
      - Whether to verify the TLS certificate of the API. The usual E(REQUESTS_CA_BUNDLE) setting is honoured.
      - Set to V(false) only for a test endpoint.
    type: bool
    default: true
  api_timeout:
    description:
      - How many seconds one HTTP request may take, its whole answer included (a status line, headers or body that
        arrive slowly count).
      - Between 1 and 600.
      - In modules with C(wait), each request is also cut short by what is left of C(wait_timeout) when C(wait=true).
    type: int
    default: 30
  api_retries:
    description:
      - How many times to retry a request that met a transient failure (throttling, a gateway error, a dropped
        connection, an answer cut off or not JSON, or a timeout), with exponential backoff and jitter, honouring
        C(Retry-After) up to 120 seconds (a longer C(Retry-After) fails the task at once, saying how long Cloud66 asked
        to wait).
      - Between 0 and 20.
      - Requests that create or delete are not repeated blindly; the module first looks again whether the first
        one went through.
    type: int
    default: 5
requirements:
  - requests >= 2.25
notes:
  - Run this module on the controller (C(hosts=localhost) or C(delegate_to=localhost)); it needs the Python
    C(requests) library there.
  - Cloud66 allows 3,000 API requests per hour for each user, and answers C(503 throttled) past that.
attributes:
  action_group:
    description: Use C(group/cloud66.cloud.cloud66) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - cloud66.cloud.cloud66
  platform:
    platforms: all
seealso:
  - name: Cloud66 API documentation
    description: The reference of the Cloud66 v3 API.
    link: https://developers.cloud66.com/
"""

    # The modules that only read.
    INFO = r"""
attributes:
  check_mode:
    support: full
    details: The module only reads, so it runs the same in check mode.
  diff_mode:
    support: N/A
"""

    # The modules that create or delete (or change a password), and can wait for Cloud66 to finish.
    STATE = r"""
attributes:
  check_mode:
    support: full
    details: Check mode reports the same C(changed) as a real run and sends no request that changes anything.
  diff_mode:
    support: full
options:
  wait:
    description:
      - Wait until the actions the module started have finished and the list shows their result, so that the next
        task sees it.
      - With V(false) the module returns as soon as Cloud66 has accepted its requests, with the started actions.
    type: bool
    default: true
  wait_timeout:
    description:
      - How many seconds in total the module may take with O(wait=true), for its requests, their retries, the
        actions and the list to catch up. No request or sleep runs past it.
      - Between 1 and 86400 with O(wait=true).
    type: int
    default: 600
"""

    # How a module names its server group.
    SERVER_GROUP = r"""
options:
  stack_id:
    description:
      - The uid of the stack, as shown in the stack's settings or returned by the Cloud66 API.
      - Give O(stack_id) or O(stack_name).
    type: str
  stack_name:
    description:
      - The name of the stack, matched without regard to case, instead of O(stack_id).
      - When several stacks share the name, add O(environment); the module fails rather than pick one.
    type: str
  environment:
    description:
      - The environment of the stack named by O(stack_name), such as V(production) or V(staging).
    type: str
  server_group_id:
    description:
      - The id of the server group (a MySQL or PostgreSQL group) that holds the databases.
      - Give one of O(server_group_id), O(server_group_name) and O(server_group_type).
    type: str
  server_group_name:
    description:
      - The name of the server group, instead of O(server_group_id).
    type: str
  server_group_type:
    description:
      - The type of the server group, instead of O(server_group_id), when the stack has exactly one group of that type.
    type: str
    choices: [mysql, postgresql]
"""

    # How a module that works on a whole stack (its backups) names it.
    STACK = r"""
options:
  stack_id:
    description:
      - The uid of the stack, as shown in the stack's settings or returned by the Cloud66 API.
      - Give O(stack_id) or O(stack_name).
    type: str
  stack_name:
    description:
      - The name of the stack, matched without regard to case, instead of O(stack_id).
      - When several stacks share the name, add O(environment); the module fails rather than pick one.
    type: str
  environment:
    description:
      - The environment of the stack named by O(stack_name), such as V(production) or V(staging).
    type: str
"""

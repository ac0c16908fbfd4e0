#!/usr/bin/python
# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloud66_action_info
short_description: Look up the actions of a Cloud66 stack, and wait for them to finish
version_added: 1.1.0
description:
  - Returns actions of a Cloud66 stack, such as those that the modules of this collection start when they create or
    delete a database, either the ones named in O(action_ids) or the stack's most recent ones.
  - With O(wait=true) the module waits until every returned action has finished, and fails when one of them failed,
    naming it with Cloud66's message, as the module that started it would have.
  - This lets a play start long changes with O(cloud66.cloud.cloud66_database#module:wait=false) and follow them up
    later, in the same play or in another one.
  - Reading actions needs only the C(public) scope, so a read-only token is enough.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - cloud66.cloud.cloud66
  - cloud66.cloud.cloud66.stack
  - cloud66.cloud.cloud66.info
options:
  action_ids:
    description:
      - The ids of the actions to return, in this order, such as the C(id) of the C(action) a module returned.
      - An id that Cloud66 does not know on this stack fails the task, naming it.
      - Without ids the module returns the stack's most recent actions, at most O(limit).
    type: list
    elements: str
  limit:
    description:
      - How many of the stack's most recent actions to return when no O(action_ids) are given, between 1 and 100.
    type: int
    default: 10
  wait:
    description:
      - Wait until every returned action has finished. The task fails when one of them failed, or when
        O(wait_timeout) runs out first.
      - With V(false) the actions are returned as they are now.
    type: bool
    default: false
  wait_timeout:
    description:
      - How many seconds in total the module may take with O(wait=true), for its requests, their retries and the
        actions to finish. No request or sleep runs past it.
      - Between 1 and 86400 with O(wait=true).
    type: int
    default: 600
notes:
  - Cloud66 keeps its actions for a limited time; an old id may no longer be known.
seealso:
  - module: cloud66.cloud.cloud66_database
  - module: cloud66.cloud.cloud66_databases
  - ref: ansible_collections.cloud66.cloud.docsite.user_guide
    description: The user guide, which shows the ways to wait for long changes.
"""

EXAMPLES = r"""
- name: Start creating a database without waiting for Cloud66
  cloud66.cloud.cloud66_database:
    stack_name: shop
    environment: production
    server_group_type: mysql
    name: reports
    wait: false
  register: reports_db
  delegate_to: localhost

# ... other tasks ...

- name: Wait for the database to be created
  cloud66.cloud.cloud66_action_info:
    stack_name: shop
    environment: production
    action_ids:
      - "{{ reports_db.action.id }}"
    wait: true
    wait_timeout: 1800
  delegate_to: localhost
  when: reports_db.action is defined

- name: List the five most recent actions of a stack
  cloud66.cloud.cloud66_action_info:
    stack_id: 5999b763474b0eafa5fafb64bff0ba80
    limit: 5
  register: recent
  delegate_to: localhost
"""

RETURN = r"""
actions:
  description:
    - The actions, in the order of O(action_ids), or the most recent first, with every field Cloud66 sent.
    - With O(wait=true), as they were once every one had finished (or when the wait ran out).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The action's id.
      type: int
      sample: 1001
    action_type:
      description: What the action does.
      type: str
      sample: Add database
    started_via:
      description: Where the action was started from.
      type: str
      sample: api
    started_at:
      description: When the action started.
      type: str
      sample: "2024-01-15T10:30:00Z"
    finished_at:
      description: When the action finished; empty while it runs.
      type: str
    finished_success:
      description: Whether the action succeeded, once it has finished.
      type: bool
    finished_message:
      description: Cloud66's message about how the action finished.
      type: str
    outcome:
      description:
        - The action's outcome in one word, V(pending), V(succeeded) or V(failed), read from whichever fields Cloud66
          sent.
      type: str
      sample: succeeded
"""

from ansible_collections.cloud66.cloud.plugins.module_utils._actions import (
    MAX_RECENT,
    ActionFailed,
    ActionLookup,
    first_failed,
    with_outcome,
)
from ansible_collections.cloud66.cloud.plugins.module_utils._module import Cloud66Module
from ansible_collections.cloud66.cloud.plugins.module_utils._records import whole_number


class Cloud66ActionInfo(Cloud66Module):
    def check_module_params(self):
        for action_id in self.params["action_ids"] or []:
            if whole_number(action_id) is None:
                return (
                    "action_ids must be whole numbers (Cloud66's action ids), got %r." % action_id
                )
        if not 1 <= self.params["limit"] <= MAX_RECENT:
            return "limit must be between 1 and %d, got %d." % (MAX_RECENT, self.params["limit"])
        return None

    def action_ids(self):
        """The given ids in their order, each once."""
        ids = []
        for action_id in self.params["action_ids"] or []:
            number = whole_number(action_id)
            if number not in ids:
                ids.append(number)
        return ids

    def gather(self):
        lookup = ActionLookup(self.client, self.stack_id(), self.deadline)
        actions = lookup.read(self.action_ids(), self.params["limit"])
        self.result["actions"] = [with_outcome(action) for action in actions]
        if not self.params["wait"]:
            return
        actions = lookup.wait(actions)
        self.result["actions"] = [with_outcome(action) for action in actions]
        failed = first_failed(actions)
        if failed is not None:
            raise ActionFailed(failed)

    def timed_out(self, actions):
        if actions:
            self.result["actions"] = [with_outcome(action) for action in actions]


def main():
    module = Cloud66ActionInfo.define_stack_module(
        dict(
            action_ids=dict(type="list", elements="str"),
            limit=dict(type="int", default=10),
            wait=dict(type="bool", default=False),
            wait_timeout=dict(type="int", default=600),
        ),
        supports_check_mode=True,
    )
    info = Cloud66ActionInfo(module)
    info.execute(info.gather)


if __name__ == "__main__":
    main()

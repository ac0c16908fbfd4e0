#!/usr/bin/env bash
# The databases role in a play over several hosts (inventory.ini, host_vars/) that name their groups in different
# ways: every host's lists are ensured, merged by resolved stack and server group, each item written once; a second
# run changes nothing; two hosts that disagree (naming the group differently) fail the play before anything is sent,
# and the message names the item and the hosts.
set -euo pipefail

config=../../integration_config.yml
export ANSIBLE_ROLES_PATH=..
# ansible-test points the interpreter setting at a placeholder; runme.sh targets name their own.
python=$(command -v python)
playbook() {
    ansible-playbook -e ansible_python_interpreter="$python" -e @"$config" "$@"
}

playbook -i localhost, prepare.yml
playbook -i inventory.ini ensure.yml -e many_hosts_first_run=true "$@"
playbook -i localhost, check.yml -e many_hosts_stage=first
playbook -i inventory.ini ensure.yml -e many_hosts_first_run=false "$@"
playbook -i localhost, check.yml -e many_hosts_stage=again
playbook -i inventory.ini skipped.yml "$@"

output=$(mktemp)
trap 'rm -f "$output"' EXIT
if playbook -i inventory.ini conflict.yml "$@" >"$output" 2>&1; then
    cat "$output"
    echo "FAIL: the play with hosts that disagree succeeded"
    exit 1
fi
# web1 names the group by ids and web2 by names: the refusal names the resolved group.
if ! grep -q "Database 'mh_app' of server group 42 of stack 5999b763474b0eafa5fafb64bff0ba80 is asked for differently" "$output" \
    || ! grep -q "web1 asks" "$output" || ! grep -q "web2 asks" "$output"; then
    cat "$output"
    echo "FAIL: the refusal does not name the database and both hosts"
    exit 1
fi
playbook -i localhost, check.yml -e many_hosts_stage=conflict
echo "role over many hosts: merged, idempotent, conflicts refused"

#!/usr/bin/env bash
# Six ansible-playbook processes ensure the same database at the same moment, and one more playbook with
# six forks does the same for another name. Afterwards exactly one database of each name may exist, and no
# task may have failed. check.yml reads the simulator's state and request log to decide.
set -euo pipefail

processes=6
config=../../integration_config.yml
export ANSIBLE_ROLES_PATH=..
# ansible-test points the interpreter setting at a placeholder; runme.sh targets name their own.
python=$(command -v python)
playbook() {
    ansible-playbook -i localhost, -e ansible_connection=local -e ansible_python_interpreter="$python" -e @"$config" "$@"
}

playbook prepare.yml -e concurrency_runs=$((2 * processes))

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
pids=()
for i in $(seq "$processes"); do
    playbook ensure.yml -e concurrency_name=race_db >"$logs/process-$i.log" 2>&1 &
    pids+=($!)
done
for i in $(seq "$processes"); do
    echo "host$i ansible_connection=local ansible_python_interpreter=$python"
done >"$logs/hosts"
ansible-playbook -i "$logs/hosts" -e @"$config" -f "$processes" ensure.yml -e concurrency_name=race_forks \
    >"$logs/forks.log" 2>&1 &
pids+=($!)

failed=0
for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
        failed=$((failed + 1))
    fi
done
if [ "$failed" -ne 0 ]; then
    tail -n 30 "$logs"/*.log
    echo "FAIL: $failed of ${#pids[@]} concurrent ansible-playbook runs failed"
    exit 1
fi

playbook check.yml -e concurrency_processes="$processes"

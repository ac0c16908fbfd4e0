#!/usr/bin/env bash
# The role prints its summary line when something changed, or at -v; an unchanged run at the default
# verbosity shows no summary.
set -euo pipefail

config=../../integration_config.yml
read_config() {
    python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))[sys.argv[2]])' "$config" "$1"
}
export CLOUD66_API_URL SUMMARY_SIM_URL CLOUD66_API_TOKEN
CLOUD66_API_URL=$(read_config cloud66_api_url)
SUMMARY_SIM_URL=$(read_config cloud66_sim_url)
CLOUD66_API_TOKEN=$(read_config cloud66_api_token)
export ANSIBLE_ROLES_PATH=.. ANSIBLE_NOCOLOR=1

output=$(mktemp)
trap 'rm -f "$output"' EXIT

run() {
    # run DESCRIPTION [ansible-playbook options...]: the playbook's output lands in $output
    local description=$1
    shift
    # ansible-test points the interpreter setting at a placeholder; runme.sh targets name their own.
    ansible-playbook -i localhost, -e ansible_python_interpreter="$(command -v python)" summary.yml "$@" \
        >"$output" 2>&1 || {
        cat "$output"
        echo "FAIL: $description: the playbook failed"
        exit 1
    }
}

expect() {
    # expect DESCRIPTION yes|no PATTERN
    if grep -q -F -- "$3" "$output"; then found=yes; else found=no; fi
    if [ "$found" != "$2" ]; then
        cat "$output"
        echo "FAIL: $1: expected the output to $([ "$2" = yes ] || echo 'not ')show '$3'"
        exit 1
    fi
}

# The summary reads "N of M databases ... changed: NAMES" (or "would change:" in check mode).
run "first run" -e summary_reset=true
expect "first run" yes "changed: summary_db"

run "check mode, nothing to do" --check
expect "check mode, nothing to do" no "would change: "

run "second run"
expect "second run" no "changed: none"
expect "second run" yes "changed=0"

run "second run at -v" -v
expect "second run at -v" yes "changed: none"
echo "role summary: shown when changed and at -v, not on an unchanged run"

#!/usr/bin/env bash
# Runs playbooks that give the modules every token of the simulator (valid, read-only, unknown, with no
# scope) on success and failure paths, at -vvvv, and searches the whole output for any of the tokens.
set -euo pipefail

# The harness writes the simulator's addresses (and the admin token) here; ansible-test copies it next to
# the targets. The playbooks get only the addresses: the tokens reach them through the environment.
config=../../integration_config.yml
read_config() {
    python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))[sys.argv[2]])' "$config" "$1"
}
export CLOUD66_API_URL SECRECY_SIM_URL CLOUD66_API_TOKEN SECRECY_READ_TOKEN SECRECY_UNKNOWN_TOKEN SECRECY_NOSCOPE_TOKEN
CLOUD66_API_URL=$(read_config cloud66_api_url)
SECRECY_SIM_URL=$(read_config cloud66_sim_url)
CLOUD66_API_TOKEN=$(read_config cloud66_api_token)
SECRECY_READ_TOKEN=sim-read-token
SECRECY_NOSCOPE_TOKEN=sim-noscope-token
SECRECY_UNKNOWN_TOKEN="unknown-$(python -c 'import secrets; print(secrets.token_hex(12))')"
export ANSIBLE_ROLES_PATH=..

output=$(mktemp)
trap 'rm -f "$output"' EXIT

# ansible-test points the interpreter setting at a placeholder; runme.sh targets name their own.
ansible-playbook -i localhost, -e ansible_python_interpreter="$(command -v python)" secrecy.yml -vvvv "$@" >"$output" 2>&1 || {
    tail -n 60 "$output"
    echo "FAIL: the secrecy playbook failed"
    exit 1
}
lines=$(wc -l <"$output")
if [ "$lines" -lt 200 ]; then
    echo "FAIL: only $lines lines of -vvvv output; the search below would prove little"
    exit 1
fi

found=0
for token in "$CLOUD66_API_TOKEN" "$SECRECY_READ_TOKEN" "$SECRECY_NOSCOPE_TOKEN" "$SECRECY_UNKNOWN_TOKEN"; do
    if grep -n -F -- "$token" "$output" | sed 's/^/    /'; then
        echo "FAIL: a token (${#token} characters) shows in the -vvvv output above"
        found=1
    fi
done
# A server page that echoes the request headers was cut where the token sits: no piece of 8 characters may show.
for ((start = 0; start + 8 <= ${#CLOUD66_API_TOKEN}; start++)); do
    piece=${CLOUD66_API_TOKEN:start:8}
    if grep -n -F -- "$piece" "$output" | sed 's/^/    /'; then
        echo "FAIL: 8 characters of the token (from position $start) show in the -vvvv output above"
        found=1
    fi
done
[ "$found" -eq 0 ]
# ansible-core 2.21 and later no longer show a module's arguments (and so the masked api_token) at -vvvv;
# every version names the module file it runs.
grep -q -e 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' -e 'Using module file .*/cloud66_database' "$output" || {
    echo "FAIL: no module run shows in the -vvvv output; did the modules run at all?"
    exit 1
}
echo "token secrecy: $lines lines of -vvvv output searched, no token found"

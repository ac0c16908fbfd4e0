#!/usr/bin/env bash
# examples/application.yml from an empty server group, twice, at -vvvv: the first run provisions the database and
# its user and hands the password to a file, the second changes nothing, and no password of the simulator ever
# shows in the output (secrecy.yml adds the paths that touch a password without asking for it).
set -euo pipefail

config=../../integration_config.yml
read_config() {
    python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))[sys.argv[2]])' "$config" "$1"
}
export ANSIBLE_ROLES_PATH=..
export CLOUD66_API_URL CLOUD66_API_TOKEN TMPDIR SECRECY_SIM_URL
CLOUD66_API_URL=$(read_config cloud66_api_url)
CLOUD66_API_TOKEN=$(read_config cloud66_api_token)
sim_url=$(read_config cloud66_sim_url)
SECRECY_SIM_URL=$sim_url
TMPDIR=$(mktemp -d)
output=$(mktemp)
trap 'rm -rf "$TMPDIR" "$output"' EXIT
python=$(command -v python)
# ansible-test copies only tests/ next to the targets; the example comes from the collection it runs against.
example=
for path in ${ANSIBLE_COLLECTIONS_PATH//:/ }; do
    if [ -f "$path/ansible_collections/cloud66/cloud/examples/application.yml" ]; then
        example=$path/ansible_collections/cloud66/cloud/examples/application.yml
        break
    fi
done
[ -n "$example" ] || { echo "FAIL: examples/application.yml not found in ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-}"; exit 1; }
playbook() {
    ansible-playbook -i localhost, -e ansible_connection=local -e ansible_python_interpreter="$python" "$@"
}

playbook prepare.yml -e @"$config"
playbook "$example" -vvvv >"$output" 2>&1 || { tail -n 60 "$output"; echo "FAIL: the first run failed"; exit 1; }
grep -q 'localhost *: ok=[0-9]* *changed=[1-9]' "$output" || { tail -n 30 "$output"; echo "FAIL: the first run changed nothing"; exit 1; }
playbook "$example" -vvvv >>"$output" 2>&1 || { tail -n 60 "$output"; echo "FAIL: the second run failed"; exit 1; }
tail -n 5 "$output" | grep -q 'localhost *: ok=[0-9]* *changed=0 ' || { tail -n 30 "$output"; echo "FAIL: the second run changed something"; exit 1; }
playbook secrecy.yml -vvvv >>"$output" 2>&1 || { tail -n 60 "$output"; echo "FAIL: the secrecy playbook failed"; exit 1; }

# The file the application reads holds the user's password as Cloud66 shows it.
state=$(python -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1] + "/state").read().decode())' "$sim_url")
password=$(python -c '
import json, sys
state = json.loads(sys.argv[1])
users = [user for group in state["groups"] for user in group["database_users"] if user["username"] == "orders_app"]
print(users[0]["password"])' "$state")
grep -q -x -F "password: $password" "$TMPDIR/cloud66-example-orders/database.yml" || {
    echo "FAIL: the configuration file does not hold the user's password"
    exit 1
}

# Every password the simulator knows, current or replaced, must be absent from the output.
lines=$(wc -l <"$output")
found=0
secrets=$(python -c '
import json, sys
states = [json.loads(sys.argv[1]), json.load(open(sys.argv[2]))]
print("\n".join(sorted(set(user["password"] for state in states for group in state["groups"] for user in group["database_users"]))))' \
    "$state" "$TMPDIR/state-before.json")
count=$(echo "$secrets" | grep -c .)
if [ "$count" -lt 6 ]; then
    echo "FAIL: only $count passwords to look for; the search below would prove little"
    exit 1
fi
for secret in $secrets; do
    if grep -n -F -- "$secret" "$output" | head -n 3; then
        echo "FAIL: a password shows in the -vvvv output above"
        found=1
    fi
done
[ "$found" -eq 0 ]
echo "example application: provisioned, second run unchanged, none of $count passwords in $lines lines of -vvvv output"

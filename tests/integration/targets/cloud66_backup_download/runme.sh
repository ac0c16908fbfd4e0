#!/usr/bin/env bash
# Runs download.yml at -vvvv, then searches the whole output for what only a presigned download URL holds: the
# simulated store's key id and a signature parameter. Neither may show, on success or failure paths.
set -euo pipefail

# The harness writes the simulator's addresses here; ansible-test copies it next to the targets.
config=../../integration_config.yml
export ANSIBLE_ROLES_PATH=..

output=$(mktemp)
trap 'rm -f "$output"' EXIT

# ansible-test points the interpreter setting at a placeholder; runme.sh targets name their own.
ansible-playbook -i localhost, -e ansible_python_interpreter="$(command -v python)" -e "@$config" download.yml -vvvv "$@" \
    >"$output" 2>&1 || {
    tail -n 80 "$output"
    echo "FAIL: the download playbook failed"
    exit 1
}
found=0
for secret in SIMULATEDKEYID 'Signature=' 'Expires='; do
    if grep -n -F -- "$secret" "$output" | cut -c1-300 | sed 's/^/    /'; then
        echo "FAIL: a download URL ($secret) shows in the -vvvv output above"
        found=1
    fi
done
[ "$found" -eq 0 ]
grep -q 'Using module file .*/cloud66_backup_download' "$output" || {
    echo "FAIL: cloud66_backup_download did not run"
    exit 1
}
echo "cloud66_backup_download: $(wc -l <"$output") lines of -vvvv output searched, no download URL found"

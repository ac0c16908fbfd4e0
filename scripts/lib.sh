# shellcheck shell=bash
# Helpers shared by scripts/test and scripts/demo. Source it; do not run it.
#
# What lives here:
#   harness_venv            create or reuse .venv from requirements/test.txt
#   harness_build_venv      create or reuse any venv from a pin file (.venv-*)
#   harness_ecosystem_venv  .venv-ecosystem (ansible-lint, antsibull-*, ...)
#   harness_get_pip_standin put scripts/get_pip_standin.py where ansible-test looks
#   harness_copy_tree       copy the checkout into .../ansible_collections/cloud66/cloud
#   harness_link_tree       the same, as a symlink (enough for ansible-playbook)
#   sim_start / sim_stop    one Cloud66 simulator on a free loopback port
#   harness_start_background  run a command in its own process group (a lane)
#   harness_cleanup         stop what was started, remove temporary trees (EXIT trap)
#
# The caller is expected to run with `set -euo pipefail` and to call
# harness_traps right after sourcing this file.

HARNESS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
HARNESS_VENV="$HARNESS_ROOT/.venv"
HARNESS_REQUIREMENTS="$HARNESS_ROOT/requirements/test.txt"
HARNESS_PYTHON_VERSION=3.11
HARNESS_NAMESPACE=cloud66
HARNESS_NAME=cloud

HARNESS_TEMP_DIRS=()
HARNESS_BACKGROUND_PIDS=()
SIM_PID=
SIM_PORT=
SIM_LOG=
SIM_API_URL=
SIM_CONTROL_URL=

# Traffic to the simulator must never go through a proxy.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"

harness_say() {
    printf '[harness] %s\n' "$*"
}

harness_die() {
    printf '[harness] ERROR: %s\n' "$*" >&2
    exit 1
}

harness_header() {
    printf '\n==============================================================================\n'
    printf '== %s\n' "$*"
    printf '==============================================================================\n'
}

harness_mktemp() {
    # harness_mktemp VAR: store in VAR a new temporary directory that
    # harness_cleanup removes (not usable as $(...): the list must be kept).
    local dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/cloud66-harness.XXXXXX")
    HARNESS_TEMP_DIRS+=("$dir")
    printf -v "$1" '%s' "$dir"
}

harness_traps() {
    # Clean up on every way out; an interrupt becomes an ordinary exit so that
    # the EXIT trap (and so sim_stop) runs.
    trap harness_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

harness_cleanup() {
    local rc=$?
    harness_stop_background || true
    sim_stop || true
    local dir
    for dir in "${HARNESS_TEMP_DIRS[@]+"${HARNESS_TEMP_DIRS[@]}"}"; do
        if [ -n "${HARNESS_KEEP_TEMP:-}" ]; then
            harness_say "keeping $dir (HARNESS_KEEP_TEMP is set)"
        else
            rm -rf -- "$dir"
        fi
    done
    HARNESS_TEMP_DIRS=()
    return "$rc"
}

# --- Python and the virtual environment -------------------------------------

harness_python_version() {
    # harness_python_version PYTHON: print PYTHON's X.Y; fails if it does not run
    "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null
}

harness_find_python_version() {
    # harness_find_python_version X.Y: the path of a Python X.Y interpreter:
    # pythonX.Y on PATH, else one of pyenv's (${PYENV_ROOT:-~/.pyenv}/versions/X.Y.*),
    # else python3 if it is X.Y.
    local want=$1 candidate version
    local candidates=("python$want")
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$want".*/bin/python"$want"; do
        [ -x "$candidate" ] && candidates+=("$candidate")
    done
    candidates+=(python3)
    for candidate in "${candidates[@]}"; do
        command -v "$candidate" >/dev/null 2>&1 || continue
        version=$(harness_python_version "$candidate") || continue
        if [ "$version" = "$want" ]; then
            command -v "$candidate"
            return 0
        fi
    done
    harness_die "Python $want not found on PATH or in pyenv's versions"
}

harness_find_python() {
    # The interpreter .venv is built from: $HARNESS_PYTHON if set (it must be
    # Python $HARNESS_PYTHON_VERSION), else harness_find_python_version's pick.
    local version
    if [ -n "${HARNESS_PYTHON:-}" ]; then
        version=$(harness_python_version "$HARNESS_PYTHON") \
            || harness_die "HARNESS_PYTHON=$HARNESS_PYTHON does not run"
        [ "$version" = "$HARNESS_PYTHON_VERSION" ] \
            || harness_die "HARNESS_PYTHON=$HARNESS_PYTHON is Python $version, not $HARNESS_PYTHON_VERSION"
        command -v "$HARNESS_PYTHON"
        return 0
    fi
    harness_find_python_version "$HARNESS_PYTHON_VERSION"
}

harness_venv_stamp() {
    # harness_venv_stamp PYTHON REQUIREMENTS: changes whenever the pins or the
    # base interpreter change.
    {
        cat "$2"
        "$1" -c 'import sys; print(sys.version)'
    } | sha256sum | cut -d' ' -f1
}

harness_build_venv() {
    # harness_build_venv VENV REQUIREMENTS PYTHON: create VENV with PYTHON and
    # install exactly REQUIREMENTS into it, or reuse it when neither changed.
    # A lock file beside VENV keeps concurrent runs from building it twice.
    local venv=$1 requirements=$2 python=$3 stamp stamp_file log lock_fd
    [ -f "$requirements" ] || harness_die "missing $requirements"
    stamp=$(harness_venv_stamp "$python" "$requirements")
    stamp_file="$venv/.harness-stamp"
    exec {lock_fd}>"$venv.lock"
    flock "$lock_fd"

    if [ -x "$venv/bin/python" ] && [ -f "$stamp_file" ] \
        && [ "$(cat "$stamp_file")" = "$stamp" ] \
        && "$venv/bin/python" -c 'import ansible_test' >/dev/null 2>&1; then
        harness_say "reusing $venv"
    else
        harness_say "building $venv from ${requirements#"$HARNESS_ROOT"/} with $python"
        rm -rf -- "$venv"
        "$python" -m venv "$venv"
        log="$venv/pip-install.log"
        if ! "$venv/bin/python" -m pip install --disable-pip-version-check \
            -r "$requirements" >"$log" 2>&1; then
            cat "$log" >&2
            rm -f -- "$stamp_file"
            harness_die "pip install -r ${requirements#"$HARNESS_ROOT"/} failed (log above)"
        fi
        if ! "$venv/bin/python" -m pip check >>"$log" 2>&1; then
            cat "$log" >&2
            harness_die "pip check found broken requirements in $venv"
        fi
        printf '%s\n' "$stamp" >"$stamp_file"
        harness_say "venv ready ($(grep -c '==' "$requirements") pinned packages)"
    fi
    exec {lock_fd}>&-
}

harness_activate() {
    # harness_activate VENV: put VENV's bin first on PATH
    export VIRTUAL_ENV="$1"
    export PATH="$1/bin:$PATH"
    unset PYTHONHOME
}

harness_venv() {
    # .venv from requirements/test.txt, activated
    harness_build_venv "$HARNESS_VENV" "$HARNESS_REQUIREMENTS" "$(harness_find_python)"
    harness_activate "$HARNESS_VENV"
}

harness_ecosystem_venv() {
    # .venv-ecosystem from requirements/ecosystem.txt, activated
    harness_build_venv "$HARNESS_ROOT/.venv-ecosystem" "$HARNESS_ROOT/requirements/ecosystem.txt" \
        "$(harness_find_python)"
    harness_activate "$HARNESS_ROOT/.venv-ecosystem"
}

# --- ansible-test's pip bootstrap ---------------------------------------------

harness_get_pip_standin() {
    # ansible-test reads ~/.ansible/test/cache/get_pip_<X_Y>.py before trying to
    # download the real script; the version is the pip it pins for new venvs.
    local pip_version target
    pip_version=$(python - <<'PY'
import pathlib
import re

import ansible_test

source = pathlib.Path(ansible_test.__file__).parent / '_internal' / 'python_requirements.py'
match = re.search(r"\bpip='([0-9][0-9.]*)'", source.read_text())
print(match.group(1) if match else '')
PY
)
    [ -n "$pip_version" ] || harness_die "could not find the pip version ansible-test bootstraps"
    target="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
    if [ -f "$target" ]; then
        harness_say "pip bootstrap script present: $target"
    else
        mkdir -p -- "$(dirname "$target")"
        cp -- "$HARNESS_ROOT/scripts/get_pip_standin.py" "$target"
        harness_say "installed pip bootstrap stand-in: $target"
    fi
}

# --- the collection tree ------------------------------------------------------

harness_list_files() {
    # NUL-separated paths (relative to the checkout) that make up the collection:
    # tracked plus untracked-not-ignored files in a git checkout, otherwise every
    # file except local state and build output.
    if git -C "$HARNESS_ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1 \
        && [ "$(git -C "$HARNESS_ROOT" rev-parse --show-toplevel)" = "$HARNESS_ROOT" ]; then
        local path
        git -C "$HARNESS_ROOT" ls-files -z -c -o --exclude-standard | sort -zu |
            while IFS= read -r -d '' path; do
                # tracked files deleted from the work tree are skipped
                if [ -e "$HARNESS_ROOT/$path" ] || [ -L "$HARNESS_ROOT/$path" ]; then
                    printf '%s\0' "$path"
                fi
            done
    else
        (cd "$HARNESS_ROOT" && find . \
            \( -path ./.git -o -path ./.venv -o -path ./tests/output -o -path ./.cache \
               -o -name __pycache__ -o -name .pytest_cache \) -prune \
            -o \( -type f -o -type l \) ! -name '*.tar.gz' ! -name '*.pyc' -print0 |
            sed -z 's|^\./||')
    fi
}

harness_copy_tree() {
    # Sets COLLECTION_ROOT to a fresh copy of the checkout under
    # <temp>/ansible_collections/cloud66/cloud.
    local base
    harness_mktemp base
    COLLECTION_ROOT="$base/ansible_collections/$HARNESS_NAMESPACE/$HARNESS_NAME"
    mkdir -p -- "$COLLECTION_ROOT"
    harness_list_files | tar -C "$HARNESS_ROOT" --null -T - -cf - | tar -C "$COLLECTION_ROOT" -xf -
    harness_say "collection copied to $COLLECTION_ROOT ($(find "$COLLECTION_ROOT" -type f | wc -l) files)"
}

harness_link_tree() {
    # Sets COLLECTIONS_PATH to a directory where the checkout itself appears
    # as ansible_collections/cloud66/cloud.
    harness_mktemp COLLECTIONS_PATH
    mkdir -p -- "$COLLECTIONS_PATH/ansible_collections/$HARNESS_NAMESPACE"
    ln -s -- "$HARNESS_ROOT" "$COLLECTIONS_PATH/ansible_collections/$HARNESS_NAMESPACE/$HARNESS_NAME"
}

# --- background lanes -----------------------------------------------------------

harness_start_background() {
    # harness_start_background LOG COMMAND [ARGS...]: run COMMAND in a process
    # group of its own (setsid), output to LOG; sets HARNESS_BACKGROUND_PID.
    # harness_cleanup stops the whole group if it is still running.
    local log=$1
    shift
    setsid "$@" >"$log" 2>&1 </dev/null &
    HARNESS_BACKGROUND_PID=$!
    HARNESS_BACKGROUND_PIDS+=("$HARNESS_BACKGROUND_PID")
}

harness_wait_background() {
    # harness_wait_background PID: wait for a lane; returns its exit status
    local pid=$1 rc=0 kept=() other
    wait "$pid" || rc=$?
    for other in "${HARNESS_BACKGROUND_PIDS[@]+"${HARNESS_BACKGROUND_PIDS[@]}"}"; do
        [ "$other" = "$pid" ] || kept+=("$other")
    done
    HARNESS_BACKGROUND_PIDS=("${kept[@]+"${kept[@]}"}")
    return "$rc"
}

harness_stop_background() {
    local pid
    for pid in "${HARNESS_BACKGROUND_PIDS[@]+"${HARNESS_BACKGROUND_PIDS[@]}"}"; do
        # the lane's bash traps TERM, so its own cleanup (simulator, temp dirs) runs
        kill -TERM -- "-$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        harness_say "background lane (pid $pid) stopped"
    done
    HARNESS_BACKGROUND_PIDS=()
}

# --- the simulator ------------------------------------------------------------

sim_start() {
    # sim_start SOURCE_ROOT [simulator options...]
    # Starts SOURCE_ROOT/tests/simulator/cloud66_sim.py on a free port, waits
    # until /_sim/health answers and sets SIM_PID, SIM_PORT, SIM_API_URL,
    # SIM_CONTROL_URL.
    local source_root=$1
    shift
    local script="$source_root/tests/simulator/cloud66_sim.py"
    local work port_file deadline
    [ -f "$script" ] || { harness_say "simulator not found: $script"; return 1; }

    harness_mktemp work
    port_file="$work/port"
    SIM_LOG="$work/simulator.log"
    python "$script" --port 0 --port-file "$port_file" "$@" >"$SIM_LOG" 2>&1 &
    SIM_PID=$!

    deadline=$((SECONDS + 30))
    SIM_PORT=
    while [ "$SECONDS" -lt "$deadline" ]; do
        if ! kill -0 "$SIM_PID" 2>/dev/null; then
            harness_say "simulator exited during start-up; its output:"
            cat "$SIM_LOG"
            SIM_PID=
            return 1
        fi
        if [ -s "$port_file" ]; then
            SIM_PORT=$(grep -oE '[0-9]+' "$port_file" | tail -n 1 || true)
            if [ -n "$SIM_PORT" ] && python - "http://127.0.0.1:$SIM_PORT/_sim/health" <<'PY' >/dev/null 2>&1
import sys
import urllib.request

with urllib.request.urlopen(sys.argv[1], timeout=2) as response:
    sys.exit(0 if response.status == 200 else 1)
PY
            then
                SIM_API_URL="http://127.0.0.1:$SIM_PORT/api/3"
                SIM_CONTROL_URL="http://127.0.0.1:$SIM_PORT/_sim"
                export SIM_API_URL SIM_CONTROL_URL
                harness_say "simulator (pid $SIM_PID) ready at $SIM_API_URL"
                return 0
            fi
        fi
        sleep 0.2
    done
    harness_say "simulator did not become healthy within 30 s; its output:"
    cat "$SIM_LOG"
    sim_stop
    return 1
}

sim_stop() {
    [ -n "${SIM_PID:-}" ] || return 0
    local pid=$SIM_PID waited=0
    SIM_PID=
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 50 ]; do
            sleep 0.1
            waited=$((waited + 1))
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    harness_say "simulator (pid $pid) stopped"
}

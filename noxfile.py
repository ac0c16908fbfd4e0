"""The cloud66.cloud test sessions. `nox -l` lists them; docs/development.md explains them.

scripts/test runs all of them (three lanes side by side) and scripts/demo runs `demo`;
both install nox itself from requirements/nox.txt first.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

import nox

sys.path.insert(0, str(Path(__file__).resolve().parent / "scripts"))

# pylint: disable-next=wrong-import-position
from harness import common, ecosystem, warning_check  # noqa: E402
from harness.common import CORES, MAIN_CORE, ROOT, Core  # noqa: E402

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.download_python = "never"
nox.options.error_on_missing_interpreters = True
nox.needs_version = ">=2025.2.9"

# The targets that run a second time against a simulator answering in the shapes of Cloud66's model pages.
MODEL_TARGETS = (
    "cloud66_database",
    "cloud66_database_info",
    "cloud66_databases",
    "role_databases",
    "cloud66_database_user",
    "cloud66_database_user_info",
    "role_many_hosts",
    "cloud66_backup_info",
    "cloud66_backup_download",
)
# The fault matrix drives the collection's own Python client, the same on every ansible-core, and is the
# longest target by far: it runs on the main ansible-core only.
MAIN_CORE_ONLY_TARGETS = ("fault_matrix",)


def sim_args() -> list[str]:
    """Extra simulator options for the integration sessions (SIM_ARGS, shell words)."""
    return shlex.split(os.environ.get("SIM_ARGS", ""))


@nox.session
def simulator(session: nox.Session) -> None:
    """pytest on tests/simulator: the simulator's own tests."""
    common.install(session, MAIN_CORE.pins)
    if not list((ROOT / "tests" / "simulator").glob("test_*.py")):
        session.error("no simulator tests found (tests/simulator/test_*.py)")
    session.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/simulator",
        *session.posargs,
    )


def sanity(session: nox.Session, core: Core) -> None:
    """ansible-doc of every module and role, then every ansible-test sanity test (--venv)."""
    ignored = [
        path
        for path in (ROOT / "tests" / "sanity").glob("ignore-*.txt")
        if path.read_text().strip()
    ]
    if ignored:
        session.error(
            f"sanity must pass without ignore entries; found: {', '.join(map(str, ignored))}"
        )
    common.install(session, core.pins)
    tree = common.collection_tree(session)
    ecosystem.ansible_doc(session, tree)
    common.prepare_pip_bootstrap(session, tree, core.python)
    common.ansible_test(
        session, tree, "sanity", "--venv", "--python", core.python, *session.posargs
    )


def units(session: nox.Session, core: Core) -> None:
    """ansible-test units in the session's venv (what they need is pinned with the core)."""
    if not list((ROOT / "tests" / "unit").rglob("test_*.py")):
        session.error("no unit tests found (tests/unit/**/test_*.py)")
    common.check_unit_requirements(session, core.pins)
    common.install(session, core.pins)
    tree = common.collection_tree(session)
    common.ansible_test(session, tree, "units", "--python", core.python, *session.posargs)


def integration(
    session: nox.Session, core: Core, *args: str, simulator_args: tuple[str, ...] = ()
) -> None:
    """ansible-test integration against one simulator; every target runs, then the failures are listed.

    Every target also fails on a warning from ansible-core that it does not declare (harness/warning_check.py).
    """
    common.install(session, core.pins)
    tree = common.collection_tree(session)
    if not list((tree / "tests" / "integration" / "targets").glob("*/tasks/main.yml")):
        session.error("no integration targets found (tests/integration/targets/*/tasks/main.yml)")
    (tree / "tests" / "output").mkdir(parents=True, exist_ok=True)
    record = warning_check.record_path(tree / "tests" / "output")
    (tree / "tests" / "integration" / "integration.cfg").write_text(
        warning_check.integration_cfg(tree, record)
    )
    with common.simulator(session, *simulator_args, *sim_args(), source=tree) as running:
        (tree / "tests" / "integration" / "integration_config.yml").write_text(
            "---\n"
            "# Written by the integration session for this run; ansible-test passes it to every target.\n"
            f"cloud66_api_url: {running.api_url}\n"
            f"cloud66_sim_url: {running.control_url}\n"
            f"cloud66_api_token: {common.SIM_TOKEN}\n"
        )
        excluded = (
            []
            if core == MAIN_CORE
            else [f"--exclude={target}" for target in MAIN_CORE_ONLY_TARGETS]
        )
        try:
            common.ansible_test(
                session,
                tree,
                "integration",
                "--python",
                core.python,
                "--continue-on-error",
                *excluded,
                *args,
                *session.posargs,
            )
        except nox.command.CommandFailed:
            session.log(f"the simulator's last lines:\n{running.tail()}")
            raise
        finally:
            unexpected = warning_check.report(session, record, warning_check.integration_target)
    warning_check.fail_on(session, unexpected)
    named = [arg for arg in (*args, *session.posargs) if not arg.startswith("-")]
    if not named or warning_check.PROBE_TARGET in named:
        warning_check.check_probe(session, record)


def add_core_sessions(core: Core) -> None:
    """sanity-X.Y, units-X.Y and integration-X.Y for one ansible-core of the matrix."""
    python = common.find_python(core.python)
    for name, run in (("sanity", sanity), ("units", units), ("integration", integration)):

        def session_function(session: nox.Session, run=run) -> None:
            run(session, core)

        session_function.__doc__ = (
            f"{run.__doc__.splitlines()[0].rstrip('.')} (ansible-core {core.version})."
        )
        nox.session(name=f"{name}-{core.version}", python=python, tags=[name])(session_function)


for _core in CORES:
    add_core_sessions(_core)


@nox.session
def model(session: nox.Session) -> None:
    """The database, user and role targets again, with the simulator in the model pages' shapes."""
    targets = () if session.posargs else MODEL_TARGETS
    integration(session, MAIN_CORE, *targets, simulator_args=("--profile", "model"))


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmark (docs/benchmark.md); the suite runs `--smoke`, a small size that fails on a missed target."""
    parser = argparse.ArgumentParser(prog="nox -s bench --", add_help=False)
    parser.add_argument("--action-seconds", type=float)
    parser.add_argument("--list-lag-seconds", type=float, default=1)
    parser.add_argument(
        "--full", action="store_true", help="the full size (what scripts/bench runs by default)"
    )
    known, rest = parser.parse_known_args(session.posargs or ["--smoke"])
    smoke = "--smoke" in rest or "--small" in rest
    action_seconds = known.action_seconds or (2 if smoke else 4)
    common.install(session, MAIN_CORE.pins)
    collections = common.linked_collections()
    with common.simulator(
        session,
        "--action-seconds",
        str(action_seconds),
        "--list-lag-seconds",
        str(known.list_lag_seconds),
    ) as running:
        session.run(
            "python",
            str(ROOT / "tests" / "benchmark" / "bench.py"),
            "--api-url",
            running.api_url,
            "--control-url",
            running.control_url,
            "--collections-path",
            str(collections),
            *rest,
        )


@nox.session(default=False)
def demo(session: nox.Session) -> None:
    """examples/demo.yml (or the playbook given after --) against the bundled simulator.

    Like the integration targets, it fails on a warning from ansible-core that no task declares.
    """
    args = list(session.posargs)
    playbook = args.pop(0) if args and not args[0].startswith("-") else "examples/demo.yml"
    common.install(session, MAIN_CORE.pins)
    collections = common.linked_collections()
    record = warning_check.record_path(common.temp_dir("warnings"))
    with common.simulator(
        session, *(sim_args() or ["--action-seconds", "2", "--list-lag-seconds", "1"])
    ) as running:
        session.log(f"ansible-playbook {playbook} (API: {running.api_url})")
        session.run(
            "ansible-playbook",
            playbook,
            *args,
            env={
                "CLOUD66_API_URL": running.api_url,
                "CLOUD66_API_TOKEN": common.SIM_TOKEN,
                "ANSIBLE_COLLECTIONS_PATH": str(collections),
                "ANSIBLE_LOCALHOST_WARNING": "false",
                "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
                **warning_check.playbook_env(ROOT, record),
            },
        )
    warning_check.check(session, record, lambda entry: playbook)

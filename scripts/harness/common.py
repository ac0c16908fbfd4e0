"""What the nox sessions share: pins, the collection tree, ansible-test's state, the simulator.

Every session works on a fresh copy of the checkout under a temporary directory of
its own, laid out as ``<temp>/ansible_collections/cloud66/cloud`` (where
ansible-test wants a collection). ansible-test's own state (its virtual
environment cache and the pip bootstrap script) lives in ``<temp>/home``, so two
runs on one machine never share it. ``HARNESS_KEEP_TEMP=1`` keeps the directories.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "cloud66"
NAME = "cloud"
SIM_TOKEN = "sim-admin-token"
LOOPBACK = "127.0.0.1,localhost"


def _exit_on_terminate(signum: int, frame: object) -> None:
    """A terminated run still stops its simulators and removes its temporary trees."""
    del frame
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, _exit_on_terminate)

# What a copy of the checkout leaves out when the checkout is not a git work tree.
LOCAL_STATE = {".git", ".nox", ".cache", ".pytest_cache", "__pycache__", "build", ".ansible"}


@dataclass(frozen=True)
class Core:
    """One ansible-core of the test matrix: its pin file and the Python it runs on."""

    version: str
    pins: str
    python: str


CORES = (
    Core("2.16", "oldest", "3.11"),
    Core("2.19", "test", "3.11"),
    Core("2.21", "newest", "3.13"),
)
MAIN_CORE = CORES[1]


def find_python(version: str) -> str:
    """The path of a working Python ``version`` (X.Y): on PATH, else one of pyenv's."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(
        str(path) for path in pyenv_root.glob(f"versions/{version}.*/bin/python{version}")
    )
    candidates.append(sys.executable)
    for candidate in filter(None, candidates):
        check = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode == 0 and check.stdout.strip() == version:
            return candidate
    # nox reports the session as failed: the interpreter is missing
    return f"python{version}"


def install(session: nox.Session, pins: str) -> None:
    """Install requirements/<pins>.txt, the exact pin set, into the session's venv."""
    session.install("-r", str(ROOT / "requirements" / f"{pins}.txt"))


def temp_dir(label: str) -> Path:
    """A new temporary directory, removed when nox exits (unless HARNESS_KEEP_TEMP is set)."""
    path = Path(tempfile.mkdtemp(prefix=f"cloud66-{label}-"))
    if os.environ.get("HARNESS_KEEP_TEMP"):
        print(f"[harness] keeping {path} (HARNESS_KEEP_TEMP is set)")
    else:
        atexit.register(shutil.rmtree, path, True)
    return path


def checkout_files() -> list[str]:
    """The checkout's files: tracked plus untracked-not-ignored ones in a git work tree."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "-c", "-o", "--exclude-standard"],
        capture_output=True,
        check=False,
    )
    toplevel = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode == 0 and Path(toplevel.stdout.strip()).resolve() == ROOT:
        names = sorted(set(listed.stdout.decode().split("\0")) - {""})
        return [name for name in names if os.path.lexists(ROOT / name)]
    files = []
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in LOCAL_STATE and not d.startswith(".venv")]
        relative = Path(folder).relative_to(ROOT)
        if relative.parts[:2] == ("tests", "output"):
            continue
        files += [str(relative / name) for name in names if not name.endswith((".pyc", ".tar.gz"))]
    return files


def collection_tree(session: nox.Session) -> Path:
    """A fresh copy of the checkout at <temp>/ansible_collections/cloud66/cloud."""
    tree = temp_dir(session.name.replace("/", "_")) / "ansible_collections" / NAMESPACE / NAME
    files = checkout_files()
    for name in files:
        target = tree / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target, follow_symlinks=False)
    session.log(f"collection copied to {tree} ({len(files)} files)")
    return tree


def collections_base(tree: Path) -> Path:
    """The directory that holds ``ansible_collections`` (for ANSIBLE_COLLECTIONS_PATH)."""
    return tree.parents[2]


def linked_collections() -> Path:
    """A collections path in which the checkout itself is cloud66.cloud (enough for ansible-playbook)."""
    base = temp_dir("link")
    (base / "ansible_collections" / NAMESPACE).mkdir(parents=True)
    (base / "ansible_collections" / NAMESPACE / NAME).symlink_to(ROOT)
    return base


def ansible_test_env(tree: Path) -> dict[str, str]:
    """Environment for ansible-test: a home of its own inside the run's temporary tree.

    ansible-test keeps its virtual environments and the pip bootstrap script under
    ~/.ansible/test; with HOME in the temporary tree, concurrent runs cannot share
    them. pip's configuration and cache stay the user's own.
    """
    home = collections_base(tree) / "home"
    home.mkdir(exist_ok=True)
    real_home = Path.home()
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": os.environ.get("XDG_CONFIG_HOME", str(real_home / ".config")),
        "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME", str(real_home / ".cache")),
    }


# ansible-test names the file it would read instead of downloading pip's bootstrap script.
BOOTSTRAP_PATH = re.compile(r"saved to: (\S+/get_pip_[0-9_]+\.py)")


def prepare_pip_bootstrap(session: nox.Session, tree: Path, python: str) -> None:
    """Put scripts/get_pip_standin.py where ansible-test looks for pip's bootstrap script.

    ``ansible-test --venv`` first downloads that script from a host these machines
    cannot reach; when the download fails, it says where a copy may be saved. One
    quick sanity test learns that path from its output.
    """
    env = ansible_test_env(tree)
    with session.chdir(tree):
        output = session.run(
            "ansible-test",
            "sanity",
            "--venv",
            "--test",
            "shebang",
            "--python",
            python,
            env=env,
            silent=True,
            success_codes=range(256),
        )
    match = BOOTSTRAP_PATH.search(output or "")
    if not match:
        session.log("ansible-test did not ask for a pip bootstrap script")
        return
    target = Path(match.group(1))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "scripts" / "get_pip_standin.py", target)
    session.log(f"pip bootstrap stand-in installed at {target}")


def ansible_test(
    session: nox.Session, tree: Path, *args: str, env: dict[str, str] | None = None
) -> None:
    """Run ansible-test in the tree; its reports are copied to tests/output/<session> afterwards."""
    try:
        with session.chdir(tree):
            session.run("ansible-test", *args, env={**ansible_test_env(tree), **(env or {})})
    finally:
        output = tree / "tests" / "output"
        if output.is_dir():
            kept = ROOT / "tests" / "output" / session.name
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(output, kept, ignore=shutil.ignore_patterns(".tmp"), dirs_exist_ok=True)


@dataclass(frozen=True)
class Simulator:
    """A running simulator's addresses and the file its output goes to."""

    api_url: str
    control_url: str
    log: Path

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


# The simulator listens on loopback: its health check never goes through a proxy.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _healthy(control_url: str) -> bool:
    try:
        with _DIRECT.open(f"{control_url}/health", timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


@contextlib.contextmanager
def simulator(session: nox.Session, *args: str, source: Path = ROOT) -> Iterator[Simulator]:
    """Start tests/simulator/cloud66_sim.py on a free loopback port; stop it on exit.

    From then on, the session's commands reach loopback addresses without a proxy.
    """
    session.env.update(NO_PROXY=LOOPBACK, no_proxy=LOOPBACK)
    work = temp_dir("sim")
    port_file = work / "port"
    log = work / "simulator.log"
    script = source / "tests" / "simulator" / "cloud66_sim.py"
    command = [sys.executable, str(script), "--port", "0", "--port-file", str(port_file), *args]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                session.error(
                    f"the simulator exited during start-up; its output:\n{log.read_text()}"
                )
            port = port_file.read_text().strip() if port_file.exists() else ""
            control_url = f"http://127.0.0.1:{port}/_sim"
            if port.isdigit() and _healthy(control_url):
                break
            if time.monotonic() > deadline:
                session.error(
                    f"the simulator did not answer within 30 s; its output:\n{log.read_text()}"
                )
            time.sleep(0.2)
        running = Simulator(f"http://127.0.0.1:{port}/api/3", control_url, log)
        session.log(f"simulator (pid {process.pid}) ready at {running.api_url}")
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def check_unit_requirements(session: nox.Session, pins: str) -> None:
    """What tests/unit/requirements.txt asks for must be pinned in requirements/<pins>.txt.

    The unit tests run in the session's venv, which holds exactly the pin file.
    """
    # packaging comes with nox; imported here because only this check needs it
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    wanted_file = ROOT / "tests" / "unit" / "requirements.txt"
    if not wanted_file.exists():
        return
    pinned = {}
    for line in (ROOT / "requirements" / f"{pins}.txt").read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if "==" in requirement:
            name, version = requirement.split("==", 1)
            pinned[canonicalize_name(name)] = version.strip()
    missing = []
    for line in wanted_file.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            wanted = Requirement(line)
        except InvalidRequirement as error:
            missing.append(f"{line} (unparsable: {error})")
            continue
        version = pinned.get(canonicalize_name(wanted.name))
        if version is None:
            missing.append(f"{line} (not pinned)")
        elif not wanted.specifier.contains(version, prereleases=True):
            missing.append(f"{line} (pinned: {version})")
    if missing:
        session.error(
            f"tests/unit/requirements.txt asks for packages requirements/{pins}.txt lacks: {'; '.join(missing)}"
        )

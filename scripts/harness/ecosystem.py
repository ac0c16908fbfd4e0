"""The ecosystem sessions: docs, docs-site, changelog, lint, ee and galaxy.

Each installs requirements/ecosystem.txt and checks the collection the way a
tool of the Ansible ecosystem sees it. Checks that read YAML run in the
session's venv (ecosystem_checks.py): the interpreter that runs nox has none
of those libraries. ansible_doc() is shared with the sessions of each
ansible-core version.
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
import subprocess
import tarfile
import zlib
from pathlib import Path

import nox
from nox.command import CommandFailed

from .common import (
    MAIN_CORE,
    NAME,
    NAMESPACE,
    ROOT,
    SIM_TOKEN,
    collection_tree,
    collections_base,
    find_python,
    install,
    simulator,
    temp_dir,
)
from .warning_check import check as check_warnings
from .warning_check import playbook_env, record_path

# requirements/ecosystem.txt is pinned on the Python of the main ansible-core
PYTHON = find_python(MAIN_CORE.python)
FQCN = f"{NAMESPACE}.{NAME}"
TARBALL_GLOB = f"{NAMESPACE}-{NAME}-*.tar.gz"
CHECKS = Path(__file__).with_name("ecosystem_checks.py")
RUFF_PATHS = ("plugins", "tests", "scripts", "noxfile.py")
ANSIBLE_LINT = "ansible-lint --offline --profile production --nocolor --format pep8".split()

# What the tarball must hold (globs over the checkout) and must not.
TARBALL_FILES = (
    "MANIFEST.json",
    "FILES.json",
    "README.md",
    "LICENSE",
    "meta/runtime.yml",
    "meta/execution-environment.yml",
    "requirements.txt",
    "changelogs/changelog.yaml",
    "plugins/modules/*.py",
    "roles/*/meta/argument_specs.yml",
)
UNWANTED = re.compile(
    r"^(\.venv|\.nox/|\.ansible/|\.cache/|build/|scripts/|requirements/|tests/output/)"
    r"|__pycache__|\.tar\.gz$"
)
# A path of the machine the tarball was built on, or beside the collection.
OUTSIDE_PATH = re.compile(r"(?:^|[^\w.~-])(?:/work/|/home/|/root/|\.\./shared/|shared/reference/)")

INSTALLED_PLAYBOOK = """\
---
- name: Run a module of the installed collection
  hosts: localhost
  gather_facts: false
  tasks:
    - name: List the databases of group 42
      cloud66.cloud.cloud66_database_info:
        api_url: "{{ sim_api_url }}"
        api_token: "{{ sim_api_token }}"
        stack_id: 5999b763474b0eafa5fafb64bff0ba80
        server_group_id: "42"
      register: installed_list

    - name: The fixture's databases are listed
      ansible.builtin.assert:
        that:
          - installed_list is not changed
          - "'app_production' in (installed_list.databases | map(attribute='name'))"
"""

# The labels of docs.ansible.com that antsibull-docs pages refer to, resolved
# offline. Add one here when sphinx-build reports "undefined label" for another.
ANSIBLE_LABELS = (
    (
        "common_return_values",
        "reference_appendices/common_return_values.html#common-return-values",
        "Return Values",
    ),
    (
        "ansible_configuration_settings",
        "reference_appendices/config.html#ansible-configuration-settings",
        "Ansible Configuration Settings",
    ),
    (
        "ansible_collections.ansible.builtin.get_url_module",
        "collections/ansible/builtin/get_url_module.html",
        "ansible.builtin.get_url module",
    ),
)


# --- helpers ------------------------------------------------------------------


def check(session: nox.Session, *args: str) -> None:
    """Run a check of ecosystem_checks.py (in the current directory)."""
    session.run("python", str(CHECKS), *args)


def query(session: nox.Session, *args: str) -> str:
    """The output of a query of ecosystem_checks.py (in the current directory)."""
    return session.run("python", str(CHECKS), *args, silent=True, stderr=None)


def git(*args: str) -> str | None:
    """The output of git -C ROOT ARGS, or None if it fails."""
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return done.stdout if done.returncode == 0 else None


def modules(tree: Path) -> list[str]:
    """The modules of TREE."""
    return [
        path.stem for path in sorted(tree.glob("plugins/modules/*.py")) if path.stem != "__init__"
    ]


def roles(tree: Path, *patterns: str) -> list[str]:
    """The roles with an argument spec (meta/argument_specs.PATTERN)."""
    found = {
        path.relative_to(tree).parts[1]
        for pattern in patterns
        for path in tree.glob(f"roles/*/meta/argument_specs.{pattern}")
    }
    return sorted(found)


# --- ansible-doc --------------------------------------------------------------


def ansible_doc(session: nox.Session, tree: Path) -> None:
    """Every module and every role argument spec of TREE renders with
    ansible-doc, with no warning."""
    work = temp_dir("ansible-doc")
    env = {
        "ANSIBLE_COLLECTIONS_PATH": str(collections_base(tree)),
        "ANSIBLE_NOCOLOR": "1",
    }
    items = [("module", name) for name in modules(tree)]
    items += [("role", name) for name in roles(tree, "yml", "yaml")]
    if not items:
        session.error("no modules or roles to document")
    with session.chdir(tree):
        for kind, name in items:
            check_ansible_doc(session, kind, f"{FQCN}.{name}", work, env)


def check_ansible_doc(
    session: nox.Session, kind: str, fqcn: str, work: Path, env: dict[str, str]
) -> None:
    """ansible-doc renders the documentation of FQCN, with no warning."""
    doc, err = work / "doc.txt", work / "doc.err"
    failed = False
    with open(doc, "w") as stdout, open(err, "w") as stderr:
        try:
            session.run("ansible-doc", "-t", kind, fqcn, env=env, stdout=stdout, stderr=stderr)
        except CommandFailed:
            failed = True
    errors = err.read_text()
    if failed:
        print(errors, end="")
        session.error(f"ansible-doc -t {kind} {fqcn} failed")
    # ansible-core 2.21 warns about a collection of its own that has no version
    warnings = [
        line
        for line in errors.splitlines()
        if "/ansible/_internal/ansible_collections/" not in line
    ]
    if warnings:
        print("\n".join(warnings))
        session.error(f"ansible-doc -t {kind} {fqcn} printed warnings or errors")
    text = doc.read_text()
    # ansible-core 2.16 shows a role's name in capitals
    if fqcn.lower() not in text.lower():
        session.error(f"ansible-doc -t {kind} {fqcn} shows no documentation")
    session.log(f"ansible-doc -t {kind} {fqcn}: {len(text.splitlines())} lines")


# --- docs ---------------------------------------------------------------------


def build_site(session: nox.Session, base: Path, output: Path) -> None:
    """The HTML site of the collection under BASE/ansible_collections, into
    OUTPUT: a Sphinx project of `antsibull-docs sphinx-init`, built by its
    build.sh (antsibull-docs collection, then sphinx-build with warnings as
    errors), with docs.ansible.com's labels resolved offline."""
    project = temp_dir("sphinx")
    env = {"ANSIBLE_COLLECTIONS_PATH": str(base)}
    init = "antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error"
    init_args = ("--title", "Cloud66 Collection", "--project", FQCN)
    init_args += ("--dest-dir", str(project), FQCN)
    session.run(*init.split(), *init_args, env=env, silent=True)
    write_inventory(project / "ansible_devel.inv")
    with open(project / "conf.py", "a", encoding="utf-8") as conf:
        conf.write(
            "\n# Added by scripts/harness/ecosystem.py: resolve docs.ansible.com labels offline.\n"
            "intersphinx_mapping = {\n"
            "    'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/',"
            f" {str(project / 'ansible_devel.inv')!r}),\n"
            "}\n"
        )
    session.log("building the site (antsibull-docs collection, sphinx-build -W)")
    # build.sh runs the venv's antsibull-docs and sphinx-build
    session.run(str(project / "build.sh"), env=env, silent=True, external=True)
    shutil.rmtree(output, ignore_errors=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(project / "build" / "html", output)


def write_inventory(path: Path) -> None:
    """A Sphinx (intersphinx) inventory of ANSIBLE_LABELS."""
    header = (
        "# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    entries = "".join(f"{name} std:label -1 {uri} {title}\n" for name, uri, title in ANSIBLE_LABELS)
    path.write_bytes(header.encode() + zlib.compress(entries.encode()))


def site_pages(tree: Path) -> list[str]:
    """The pages the site must have: the index, one per module and role."""
    pages = ["index.html"]
    pages += [f"{name}_module.html" for name in modules(tree)]
    pages += [f"{name}_role.html" for name in roles(tree, "yml")]
    return pages


@nox.session(name="docs", python=PYTHON)
def docs(session: nox.Session) -> None:
    """antsibull-docs lint, ansible-doc of every module and role, and the docs site, checked.

    Every module and role, every guide of docs/docsite/extra-docs.yml and the
    changelog are pages of the site, and its internal links resolve.
    """
    install(session, "ecosystem")
    tree = collection_tree(session)
    base = collections_base(tree)
    session.env["ANSIBLE_COLLECTIONS_PATH"] = str(base)
    with session.chdir(tree):
        lint_docs = "lint-collection-docs --plugin-docs --check-extra-docs-refs ."
        session.run("antsibull-docs", *lint_docs.split())
        # the credential type the execution environment guide shows is the example's
        check(session, "awx-docs")
    ansible_doc(session, tree)
    html = temp_dir("site") / "html"
    build_site(session, base, html)
    missing = [
        page
        for page in site_pages(tree)
        if not (html / page).is_file() or not (html / page).stat().st_size
    ]
    if missing:
        session.error(f"the docs site lacks {' '.join(missing)}")
    with session.chdir(tree):
        check(session, "site", str(html))
    session.log(f"docs site has {len(list(html.rglob('*.html')))} pages")


@nox.session(name="docs-site", python=PYTHON, default=False)
def docs_site(session: nox.Session) -> None:
    """The docs site of the checkout, into build/docs-site or the directory given after --.

    What scripts/docs-site runs; not part of the suite. A relative directory is
    taken from the checkout's root.
    """
    if len(session.posargs) > 1:
        session.error("usage: nox -s docs-site [-- OUTPUT_DIR]")
    output = ROOT / (session.posargs[0] if session.posargs else "build/docs-site")
    install(session, "ecosystem")
    tree = collection_tree(session)
    build_site(session, collections_base(tree), output)
    session.log(f"docs site: {output}/index.html ({len(list(output.rglob('*.html')))} pages)")


# --- changelog ----------------------------------------------------------------


@nox.session(name="changelog", python=PYTHON)
def changelog(session: nox.Session) -> None:
    """antsibull-changelog lint, CHANGELOG.rst as generated, a fragment for each change.

    A change to plugins/ or roles/ since the last release needs a fragment;
    fragments added after a release belong to the next one.
    """
    install(session, "ecosystem")
    tree = collection_tree(session)
    with session.chdir(tree):
        session.run("antsibull-changelog", "lint")
        session.run("antsibull-changelog", "lint-changelog-yaml", "changelogs/changelog.yaml")
        check_changelog_rst(session, tree)
        last = query(session, "last-release").strip()
    # A change to plugins/ or roles/ since the last release needs a fragment
    # (antsibull-changelog release removes the fragments it folds in).
    fragments = [
        path
        for path in (tree / "changelogs" / "fragments").rglob("*")
        if path.is_file() and path.suffix in (".yml", ".yaml")
    ]
    changed: list[str] = []
    if not last:
        session.log("no release yet: all of plugins/ and roles/ is unreleased")
        changed = sorted(
            path.relative_to(tree).as_posix()
            for top in ("plugins", "roles")
            for path in (tree / top).rglob("*")
            if path.is_file() and path.suffix != ".pyc"
        )
    else:
        tag = None
        if git("rev-parse", "--is-inside-work-tree") is not None:
            for name in (last, f"v{last}"):
                tag = (
                    git("rev-parse", "-q", "--verify", f"refs/tags/{name}^{{commit}}") or ""
                ).strip()
                if tag:
                    break
        if tag:
            session.log(f"last release: {last} (commit {tag})")
            diff = git("diff", "--name-only", tag, "--", "plugins", "roles") or ""
            new = git("ls-files", "-o", "--exclude-standard", "--", "plugins", "roles") or ""
            changed = sorted(set(filter(None, (diff + new).splitlines())))
        else:
            session.log(
                f"NOTE: no git tag {last} or v{last}; cannot tell what changed since release {last}"
            )
    if changed and not fragments:
        print("\n".join(f"  {name}" for name in changed))
        session.error(
            "these files changed since the last release, but changelogs/fragments/ is empty"
        )
    session.log(
        f"{len(changed)} files changed since the last release; {len(fragments)} changelog fragments"
    )
    if fragments:
        # Fragments merged after `antsibull-changelog release` are fine: the
        # next release run folds them in (CONTRIBUTING.md, "Cutting a release").
        session.log(
            f"{len(fragments)} fragments are not in a release yet;"
            " the next antsibull-changelog release takes them"
        )


def check_changelog_rst(session: nox.Session, tree: Path) -> None:
    """CHANGELOG.rst is what antsibull-changelog renders from changelog.yaml:
    edit the fragments or changelog.yaml, never CHANGELOG.rst by hand."""
    committed = tree / "CHANGELOG.rst"
    if not committed.is_file():
        session.error(
            "CHANGELOG.rst is missing; antsibull-changelog release writes it (CONTRIBUTING.md)"
        )
    session.log("CHANGELOG.rst matches antsibull-changelog generate")
    generated = temp_dir("changelog") / "CHANGELOG.rst"
    session.run("antsibull-changelog", "generate", "--output", str(generated))
    have = committed.read_text(encoding="utf-8").splitlines(keepends=True)
    want = generated.read_text(encoding="utf-8").splitlines(keepends=True)
    if have != want:
        print("".join(difflib.unified_diff(have, want, "CHANGELOG.rst", str(generated))))
        session.error(
            "CHANGELOG.rst differs from what changelogs/changelog.yaml renders to (diff above);"
            " run antsibull-changelog generate"
        )


# --- lint ---------------------------------------------------------------------


@nox.session(name="lint", python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff (format and lint) over the Python code, ansible-lint --profile production.

    ruff format --check and ruff check (settings: pyproject.toml) over plugins,
    tests, scripts and noxfile.py; ansible-lint with .ansible-lint, then on
    tests/integration/targets with tests/integration/.ansible-lint. Every step
    runs; the session fails if one did.
    """
    install(session, "ecosystem")
    # The copy holds what git would commit; the collection resolves from it.
    tree = collection_tree(session)
    session.env["ANSIBLE_COLLECTIONS_PATH"] = str(collections_base(tree))
    ruff_paths = [path for path in RUFF_PATHS if (tree / path).exists()]
    targets = ("-c", "tests/integration/.ansible-lint", "tests/integration/targets")
    steps = (
        ("ruff format --check", ("ruff", "format", "--check", *ruff_paths)),
        ("ruff check", ("ruff", "check", *ruff_paths)),
        ("ansible-lint", ANSIBLE_LINT),
        ("ansible-lint of tests/integration/targets", (*ANSIBLE_LINT, *targets)),
    )
    failed = []
    with session.chdir(tree):
        for title, command in steps:
            try:
                session.run(*command)
            except CommandFailed:
                failed.append(title)
    if failed:
        session.error("failed: " + "; ".join(failed))


# --- ee -----------------------------------------------------------------------


@nox.session(name="ee", python=PYTHON)
def ee(session: nox.Session) -> None:
    """ansible-builder introspect and create of the example EE; the demo through ansible-runner.

    The example execution environment is created with a tarball of the
    collection; examples/demo.yml runs through ansible-runner against a
    simulator, with the environment of the example AWX credential type; like the demo session, it
    fails on a warning from ansible-core that no task declares.
    """
    install(session, "ecosystem")
    tree = collection_tree(session)
    base = collections_base(tree)
    work = temp_dir("ee")
    with session.chdir(tree):
        pip_txt = work / "pip.txt"
        session.run("ansible-builder", "introspect", str(base), "--write-pip", str(pip_txt))
        if not re.search(
            rf"^requests.*from collection {re.escape(FQCN)}",
            pip_txt.read_text(),
            re.MULTILINE,
        ):
            session.error("ansible-builder introspect does not report requests for the collection")

        session.log("ansible-builder create of the example, with a tarball of the collection")
        build = "ansible-galaxy collection build --output-path"
        session.run(*build.split(), str(work / "dist"), silent=True)
        built = sorted((work / "dist").glob(TARBALL_GLOB))
        if len(built) != 1:
            session.error(f"ansible-galaxy collection build made {len(built)} tarballs, not one")
        shutil.copy(built[0], tree / "examples" / f"{NAMESPACE}-{NAME}.tar.gz")
        create = "ansible-builder create -f examples/execution-environment.yml"
        create_args = ("--context", str(work / "context"))
        session.run(*create.split(), *create_args, "--output-filename", "Containerfile")
        check_ee_collection(session, work / "context", work / "ee-collections")

        session.log("examples/demo.yml through ansible-runner, against the simulator")
        runner = work / "runner"
        (runner / "project").mkdir(parents=True)
        (runner / "env").mkdir()
        shutil.copy(tree / "examples" / "demo.yml", runner / "project")
        rc = 0
        with simulator(session, "--action-seconds", "2", "--list-lag-seconds", "1") as sim:
            # The connection comes the way AWX passes it: the example credential type's injectors.
            envvars = query(session, "credential-env", sim.api_url, SIM_TOKEN, "")
            envvars += (
                f"ANSIBLE_COLLECTIONS_PATH: {base}\n"
                'ANSIBLE_LOCALHOST_WARNING: "false"\n'
                'ANSIBLE_INVENTORY_UNPARSED_WARNING: "false"\n'
                'ANSIBLE_NOCOLOR: "true"\n'
            )
            # the demo fails on a warning no task declares, here as in the demo session
            record = record_path(work)
            envvars += "".join(
                f"{key}: {value}\n" for key, value in playbook_env(tree, record).items()
            )
            (runner / "env" / "envvars").write_text(envvars)
            # process isolation is off unless asked for: no container engine needed
            try:
                run = ("ansible-runner", "run", str(runner))
                session.run(*run, "-p", "demo.yml", "--ident", "demo")
            except CommandFailed as error:
                rc = error.return_code
    status_file = runner / "artifacts" / "demo" / "status"
    status = status_file.read_text().strip() if status_file.is_file() else "missing"
    if rc != 0 or status != "successful":
        session.error(f"ansible-runner: exit status {rc}, run status {status}")
    check_warnings(session, record, lambda entry: "examples/demo.yml (through ansible-runner)")


def check_ee_collection(session: nox.Session, context: Path, work: Path) -> None:
    """The build context of the example execution environment holds the
    collection's tarball, its galaxy requirements install it, and it installs
    as the version of galaxy.yml (run in the tree)."""
    tarball = context / "_build" / "collections" / f"{NAMESPACE}-{NAME}.tar.gz"
    if not tarball.is_file() or not tarball.stat().st_size:
        session.error(f"the build context lacks the collection's tarball ({tarball})")
    requirements = context / "_build" / "requirements.yml"
    if f"/build/collections/{tarball.name}" not in read(requirements):
        session.error(
            "the example execution environment does not install the collection from its tarball"
        )
    if not re.search(r"^COPY _build /build", read(context / "Containerfile"), re.MULTILINE):
        session.error("the Containerfile does not copy the build context to /build")
    install_args = ("--offline", str(tarball), "-p", str(work))
    session.run("ansible-galaxy", "collection", "install", *install_args, silent=True)
    want = query(session, "galaxy-version").strip()
    listing = session.run(
        *f"ansible-galaxy collection list {FQCN} -p".split(),
        str(work),
        env={"ANSIBLE_COLLECTIONS_PATH": str(work)},
        silent=True,
    )
    if not re.search(rf"^{re.escape(FQCN)} +{re.escape(want)}\b", listing, re.MULTILINE):
        session.error(f"the tarball in the build context does not install {FQCN} {want}")
    session.log(f"the example execution environment installs {FQCN} {want} from its tarball")


def read(path: Path) -> str:
    """The text of PATH, or "" if it does not exist."""
    return path.read_text(encoding="utf-8") if path.is_file() else ""


# --- galaxy -------------------------------------------------------------------


@nox.session(name="galaxy", python=PYTHON)
def galaxy(session: nox.Session) -> None:
    """ansible-galaxy collection build, galaxy-importer, install, a module run from the install.

    The tarball is built from the checkout itself; galaxy-importer's settings
    are .ci/galaxy-importer.cfg; the install goes into an empty path.
    """
    install(session, "ecosystem")
    work = temp_dir("galaxy")
    # Built from the checkout itself, venvs, build output and all, the way a
    # user would: galaxy.yml's build_ignore must keep those out.
    build_args = (str(ROOT), "--output-path", str(work / "dist"))
    session.run("ansible-galaxy", "collection", "build", *build_args)
    built = sorted((work / "dist").glob(TARBALL_GLOB))
    if not built:
        session.error("no tarball was built")
    tarball = built[0]
    with tarfile.open(tarball) as archive:
        entries = [
            member.name.removeprefix("./") + ("/" if member.isdir() else "")
            for member in archive.getmembers()
        ]
    wanted = [
        path.relative_to(ROOT).as_posix() if isinstance(path, Path) else path
        for pattern in TARBALL_FILES
        for path in (sorted(ROOT.glob(pattern)) if "*" in pattern else [pattern])
    ]
    missing = [name for name in wanted if name not in entries]
    if missing:
        session.error(f"the tarball lacks {' '.join(missing)}")
    unwanted = [name for name in entries if UNWANTED.search(name)]
    if unwanted:
        print("\n".join(unwanted[:20]))
        session.error("the tarball holds files that build_ignore should keep out")
    session.log(f"{tarball.name}: {len(entries)} entries")
    check_no_outside_paths(session, tarball)
    check_galaxy_importer(session, tarball, work / "importer")

    collections = work / "collections"
    session.env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
    session.env["ANSIBLE_COLLECTIONS_SCAN_SYS_PATH"] = "false"
    session.log("ansible-galaxy collection install into an empty path")
    install_args = ("--offline", str(tarball), "-p", str(collections))
    session.run("ansible-galaxy", "collection", "install", *install_args)
    listing = session.run("ansible-galaxy", "collection", "list", FQCN, silent=True)
    print(listing, end="")
    if str(collections) not in listing:
        session.error(f"the collection is not listed from {collections}")

    session.log("a module of the installed copy, against the simulator")
    (work / "installed.yml").write_text(INSTALLED_PLAYBOOK)
    with simulator(session) as sim, session.chdir(work):
        session.run(
            "ansible-playbook",
            "installed.yml",
            "-e",
            f"sim_api_url={sim.api_url}",
            "-e",
            f"sim_api_token={SIM_TOKEN}",
            env={
                "ANSIBLE_LOCALHOST_WARNING": "false",
                "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            },
        )


def check_no_outside_paths(session: nox.Session, tarball: Path) -> None:
    """No shipped text file cites a path of the machine it was built on or
    beside the collection (a reader on Galaxy has neither)."""
    found = []
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            if not member.isfile():
                continue
            data = archive.extractfile(member).read()
            if b"\0" in data:  # binary
                continue
            lines = data.decode("utf-8", errors="replace").splitlines()
            name = member.name.removeprefix("./")
            found += [
                f"{name}:{number}:{line}"
                for number, line in enumerate(lines, 1)
                if OUTSIDE_PATH.search(line)
            ]
    if found:
        print("\n".join(found[:20]))
        session.error("shipped files cite paths outside the collection (above)")


def check_galaxy_importer(session: nox.Session, tarball: Path, work: Path) -> None:
    """Galaxy's own import checks (settings: .ci/galaxy-importer.cfg) accept
    the tarball with no warning, find the documentation of every module and
    the README of every role."""
    work.mkdir(parents=True)
    session.log(f"galaxy-importer {tarball.name}")
    log = work / "importer.log"
    rc = 0
    env = {"GALAXY_IMPORTER_CONFIG": str(ROOT / ".ci" / "galaxy-importer.cfg")}
    with session.chdir(work), open(log, "w") as stdout:
        try:
            importer = ("python", "-m", "galaxy_importer.main", str(tarball))
            session.run(*importer, env=env, stdout=stdout)
        except CommandFailed as error:
            rc = error.return_code
    text = log.read_text()
    print(text, end="")
    if rc:
        session.error(f"galaxy-importer rejected the tarball (exit status {rc})")
    if not re.search(r"^Importer processing completed successfully", text, re.MULTILINE):
        session.error("galaxy-importer did not complete")
    if re.search(r"^(WARNING|ERROR|CRITICAL)", text, re.MULTILINE):
        session.error("galaxy-importer printed warnings or errors (above)")
    blob = json.loads((work / "importer_result.json").read_text())["docs_blob"]
    problems = [
        f"{item['content_type']} {item['content_name']} has no {want}"
        for item in blob["contents"]
        for kind, want, key in (
            ("module", "documentation", "doc_strings"),
            ("role", "README", "readme_html"),
        )
        if item["content_type"] == kind and not item.get(key)
    ]
    if not blob["collection_readme"].get("html"):
        problems.append("the collection README did not render")
    if problems:
        print("\n".join(f"FAIL: galaxy-importer: {problem}" for problem in problems))
        session.error("galaxy-importer did not find all the documentation (above)")

"""Checks of the ecosystem sessions that read YAML, run in the session's venv.

nox imports the noxfile with an interpreter that has nox and little else, so
what needs PyYAML, Jinja2 or packaging lives here and the sessions of
ecosystem.py run it with the venv's python:

    python scripts/harness/ecosystem_checks.py COMMAND [ARGS...]

Run from the root of the collection tree. A check prints one "FAIL: ..." line
per problem and exits 1 if there was any; a query prints its answer.
"""

from __future__ import annotations

import argparse
import html.parser
import os
import re
import sys
import textwrap
import urllib.parse
from pathlib import Path

import jinja2
import yaml
from packaging.version import Version

EXTRA_DOCS = Path("docs/docsite/extra-docs.yml")
CHANGELOG = Path("changelogs/changelog.yaml")
EE_GUIDE = Path("docs/docsite/rst/execution_environment.rst")
CREDENTIAL_TYPE = Path("examples/awx-credential-type.yml")
CREDENTIAL_ENV = {"CLOUD66_API_TOKEN", "CLOUD66_API_URL", "CLOUD66_ACCOUNT_ID"}


def load_yaml(path: Path):
    with open(path, encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def releases() -> list[str]:
    """The versions changelogs/changelog.yaml has released, oldest first."""
    return sorted((load_yaml(CHANGELOG) or {}).get("releases") or {}, key=Version)


class Page(html.parser.HTMLParser):
    """The anchors a page defines and the links it makes."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])


def read_site(site: Path) -> dict[str, Page]:
    pages = {}
    for path in site.rglob("*.html"):
        page = Page()
        page.feed(path.read_text(encoding="utf-8"))
        pages[path.relative_to(site).as_posix()] = page
    return pages


def site_problems(site: Path) -> list[str]:
    """Every guide of extra-docs.yml and the changelog (a section per release)
    are pages of the site, and every link between its pages resolves."""
    pages = read_site(site)
    sections = load_yaml(EXTRA_DOCS)["sections"]
    guides = [name for section in sections for name in section["toctree"]]
    problems = [
        f"the guide {name} is not in the site"
        for name in guides
        if f"docsite/{name}.html" not in pages
    ]
    versions = releases()
    changelog = pages.get("changelog.html")
    if changelog is None:
        problems.append("the site has no changelog page")
    else:
        problems.extend(
            f"the changelog page has no section for release {version}"
            for version in versions
            if "v" + version.replace(".", "-") not in changelog.ids
        )
    checked = 0
    for name, page in sorted(pages.items()):
        for href in page.links:
            url = urllib.parse.urlsplit(href)
            if url.scheme or url.netloc or href.startswith("mailto:"):
                continue
            checked += 1
            target = name
            if url.path:
                target = os.path.normpath(os.path.join(os.path.dirname(name), url.path))
            if target not in pages:
                if not (site / target).exists():
                    problems.append(f"{name} links to {href}, which is not in the site")
            elif url.fragment and url.fragment not in pages[target].ids:
                problems.append(f"{name} links to {target}, which has no anchor {url.fragment}")
    print(
        f"{len(guides)} guides and the changelog ({len(versions)} releases)"
        f" in the site; {checked} internal links checked"
    )
    return problems


def awx_docs_problems() -> list[str]:
    """The credential type shown in the execution environment guide is the one
    in examples/awx-credential-type.yml (which the ee session runs)."""
    guide = EE_GUIDE.read_text(encoding="utf-8")
    example = load_yaml(CREDENTIAL_TYPE)
    problems = []
    for title, key in (
        ("Input configuration:", "inputs"),
        ("Injector configuration:", "injectors"),
    ):
        block = re.search(
            re.escape(title) + r"\n\n\.\. code-block:: yaml\n\n((?:   .*\n|\n)+)", guide
        )
        if not block or yaml.safe_load(textwrap.dedent(block.group(1))) != example[key]:
            problems.append(
                f'the "{title}" block of {EE_GUIDE} is not the {key} of {CREDENTIAL_TYPE}'
            )
    return problems


def credential_env(api_url: str, api_token: str, account_id: str) -> list[str]:
    """Print, as YAML, the environment the example credential type injects."""
    credential_type = load_yaml(CREDENTIAL_TYPE)
    inputs = {"api_url": api_url, "api_token": api_token, "account_id": account_id}
    declared = {field["id"] for field in credential_type["inputs"]["fields"]}
    if declared != set(inputs):
        return [f"the credential type declares {sorted(declared)}, not {sorted(inputs)}"]
    env = {
        name: jinja2.Template(value).render(inputs)
        for name, value in credential_type["injectors"]["env"].items()
    }
    if set(env) != CREDENTIAL_ENV:
        return [f"the credential type injects {sorted(env)}, not {sorted(CREDENTIAL_ENV)}"]
    print(yaml.safe_dump(env, explicit_start=True), end="")
    return []


def last_release() -> list[str]:
    """Print the newest version of changelogs/changelog.yaml (nothing if none)."""
    versions = releases()
    print(versions[-1] if versions else "")
    return []


def galaxy_version() -> list[str]:
    """Print the version of galaxy.yml."""
    print(load_yaml(Path("galaxy.yml"))["version"])
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("site", help=site_problems.__doc__).add_argument("html", type=Path)
    commands.add_parser("awx-docs", help=awx_docs_problems.__doc__)
    env = commands.add_parser("credential-env", help=credential_env.__doc__)
    for name in ("api_url", "api_token", "account_id"):
        env.add_argument(name)
    commands.add_parser("last-release", help=last_release.__doc__)
    commands.add_parser("galaxy-version", help=galaxy_version.__doc__)
    args = parser.parse_args()
    if args.command == "site":
        problems = site_problems(args.html)
    elif args.command == "awx-docs":
        problems = awx_docs_problems()
    elif args.command == "credential-env":
        problems = credential_env(args.api_url, args.api_token, args.account_id)
    elif args.command == "last-release":
        problems = last_release()
    else:
        problems = galaxy_version()
    for problem in problems:
        print(f"FAIL: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

# Copyright: Contributors to the cloud66.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""galaxy.yml is the one source of the version and the author: the modules do not repeat the version (the User-Agent
names the collection and ansible-core), and the author lines of the modules and roles must say the same. Also what the
connection options make of AWX's injected environment, and the order of the option checks."""

from __future__ import annotations

import glob
import importlib
import json
import os

import pytest
import yaml
from ansible.module_utils.ansible_release import __version__ as ANSIBLE_CORE_VERSION

from ansible_collections.cloud66.cloud.plugins.module_utils import _module

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def galaxy_metadata():
    """galaxy.yml, or the collection_info of MANIFEST.json when the tests run from an installed build."""
    galaxy = os.path.join(COLLECTION_ROOT, "galaxy.yml")
    if os.path.exists(galaxy):
        with open(galaxy, encoding="utf-8") as stream:
            return yaml.safe_load(stream)
    with open(os.path.join(COLLECTION_ROOT, "MANIFEST.json"), encoding="utf-8") as stream:
        return json.load(stream)["collection_info"]


def read_yaml(path):
    with open(path, encoding="utf-8") as stream:
        return yaml.safe_load(stream)


class FakeModule:
    def __init__(self, params):
        self.params = params
        self.no_log_values = set()
        self.argument_spec = dict(
            _module.cloud66_argument_spec(), **_module.server_group_argument_spec()
        )

    def fail_json(self, **kwargs):
        raise AssertionError("the module failed: %s" % kwargs.get("msg"))


def cloud66_module(module_class=_module.Cloud66Module, **params):
    """A MODULE_CLASS over the default options and PARAMS."""
    values = {name: spec.get("default") for name, spec in _module.cloud66_argument_spec().items()}
    values.update({name: None for name in _module.server_group_argument_spec()})
    values.update(
        api_token="c66tok-version-test",
        stack_id="5999b763474b0eafa5fafb64bff0ba80",
        server_group_id="42",
    )
    values.update(params)
    return module_class(FakeModule(values))


def test_user_agent_names_the_collection_and_ansible_core():
    assert (
        cloud66_module().client.session.headers["User-Agent"]
        == "cloud66.cloud ansible-core/%s" % ANSIBLE_CORE_VERSION
    )


class RefusingModule(_module.Cloud66Module):
    def check_module_params(self):
        return "the module's own check failed"


def test_the_shared_options_are_checked_before_the_module_s_own():
    with pytest.raises(AssertionError, match="api_timeout must be a positive number"):
        cloud66_module(RefusingModule, api_timeout=0)
    with pytest.raises(AssertionError, match="api_token must be printable ASCII"):
        cloud66_module(RefusingModule, api_token="two words")
    with pytest.raises(AssertionError, match="the module's own check failed"):
        cloud66_module(RefusingModule)


def test_checking_the_options_sets_nothing_and_the_client_gets_them_trimmed():
    module = cloud66_module(
        api_url=" https://app.cloud66.com/api/3\n", api_token="c66tok-trimmed\n"
    )
    attributes = dict(vars(module))
    assert module.check_params() is None
    assert vars(module) == attributes
    assert module.client.base_url == "https://app.cloud66.com/api/3"
    assert module.client.session.headers["Authorization"] == "Bearer c66tok-trimmed"
    assert "c66tok-trimmed" in module.module.no_log_values


@pytest.mark.parametrize("account_id", ["", "  "])
def test_empty_account_id_counts_as_unset(account_id):
    # AWX injects CLOUD66_ACCOUNT_ID (see examples/awx-credential-type.yml) even when its field is left empty.
    assert "X-Account" not in cloud66_module(account_id=account_id).client.session.headers
    assert cloud66_module(account_id=" 4711 ").client.session.headers["X-Account"] == "4711"


def test_galaxy_accepts_the_authors():
    authors = galaxy_metadata()["authors"]
    assert len(authors) == 1
    # Galaxy's importer refuses an author longer than 64 characters.
    assert 0 < len(authors[0]) <= 64


MODULES = sorted(
    os.path.basename(path)[:-3]
    for path in glob.glob(os.path.join(COLLECTION_ROOT, "plugins", "modules", "*.py"))
    if not path.endswith("__init__.py")
)
ROLES = sorted(
    os.path.basename(path) for path in glob.glob(os.path.join(COLLECTION_ROOT, "roles", "*"))
)


def test_the_shared_doc_fragment_names_the_collection_author():
    fragment = importlib.import_module(
        "ansible_collections.cloud66.cloud.plugins.doc_fragments.cloud66"
    )
    assert (
        yaml.safe_load(fragment.ModuleDocFragment.DOCUMENTATION)["author"]
        == galaxy_metadata()["authors"]
    )


@pytest.mark.parametrize("name", MODULES)
def test_module_author_is_the_collection_author(name):
    # A module takes its author from the cloud66.cloud.cloud66 doc fragment; one of its own must be the same.
    module = importlib.import_module("ansible_collections.cloud66.cloud.plugins.modules.%s" % name)
    documentation = yaml.safe_load(module.DOCUMENTATION)
    assert "cloud66.cloud.cloud66" in documentation["extends_documentation_fragment"]
    assert documentation.get("author", galaxy_metadata()["authors"]) == galaxy_metadata()["authors"]


@pytest.mark.parametrize("name", ROLES)
def test_role_author_is_the_collection_author(name):
    role = os.path.join(COLLECTION_ROOT, "roles", name)
    assert [
        read_yaml(os.path.join(role, "meta", "main.yml"))["galaxy_info"]["author"]
    ] == galaxy_metadata()["authors"]
    for entry_point in read_yaml(os.path.join(role, "meta", "argument_specs.yml"))[
        "argument_specs"
    ].values():
        assert entry_point["author"] == galaxy_metadata()["authors"]


@pytest.mark.parametrize("name", ROLES)
def test_role_has_a_readme(name):
    # Galaxy's importer refuses a role without one.
    assert os.path.isfile(os.path.join(COLLECTION_ROOT, "roles", name, "README.md"))

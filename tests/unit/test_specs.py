"""The argument specs are the one description of each role's variables: defaults/main.yml carries the
same names and values, and the READMEs' option tables are generated from the specs (bin/specdoc)."""

import pathlib
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROLES = sorted(p.parent.parent.name for p in ROOT.glob("roles/*/meta/argument_specs.yml"))


def specs(role):
    return yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]


def defaults(role):
    return yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text()) or {}


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_specified(role):
    assert sorted(defaults(role)) == sorted(specs(role)["main"]["options"])


@pytest.mark.parametrize("role", ROLES)
def test_spec_defaults_match_the_role_defaults(role):
    values = defaults(role)
    differ = {name: (option["default"], values[name]) for name, option in specs(role)["main"]["options"].items()
              if "default" in option and option["default"] != values.get(name)}
    assert not differ


@pytest.mark.parametrize("role", ROLES)
def test_other_entry_points_reuse_the_main_descriptions(role):
    main = specs(role)["main"]["options"]
    for entry, spec in specs(role).items():
        for name, option in spec.get("options", {}).items():
            assert option == main[name], f"{entry}: {name}"


def test_readme_tables_match_the_specs():
    result = subprocess.run([sys.executable, str(ROOT / "bin" / "specdoc"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

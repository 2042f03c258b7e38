"""The collection artifact holds what a user runs or reads, and nothing from development: built here with
`ansible-galaxy collection build` (galaxy.yml's build_ignore decides), then listed. This file is the
allowlist: a new top-level entry, doc or test file that reaches the artifact fails it until it is either
listed here (it ships) or ignored in galaxy.yml (it does not)."""

import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

TOP_LEVEL = {"MANIFEST.json", "FILES.json", "README.md", "LICENSE", "CHANGELOG.md",
             "changelogs", "docs", "meta", "playbooks", "plugins", "roles", "tests"}
# The user docs; development.md, lab.md, testing.md and performance.md stay in the repository.
USER_DOCS = {"docs/audit.md", "docs/firewall.md", "docs/ftp_server.md", "docs/networking.md", "docs/systems.md"}
CHANGELOGS = {"changelogs/changelog.yaml"}
# ansible-test sanity reads its ignore files in the installed collection (bin/collection).
TESTS = re.compile(r"tests/sanity/ignore-\d+\.\d+\.txt")
# Anything at or under these paths, or named so anywhere, is development.
FORBIDDEN_PATHS = ("bench", "bin", "molecule", "inventories", "library", "site.yml", "ansible.cfg",
                   "tests/e2e", "tests/unit", "tests/sanity/get_pip.py", "changelogs/fragments",
                   "changelogs/config.yaml", "docs/development.md", "docs/lab.md", "docs/testing.md",
                   "docs/performance.md", "playbooks/files/ftp_client.py")
FORBIDDEN_NAMES = re.compile(r"(^|/)(get_pip\.py|__pycache__|[^/]*\.pyc|[^/]*\.png|[^/]*\.tar\.gz)$")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def galaxy():
    """The ansible-galaxy of the Python running the tests (the project's virtualenv), else the PATH's."""
    beside = pathlib.Path(sys.executable).parent / "ansible-galaxy"
    return str(beside) if beside.exists() else shutil.which("ansible-galaxy")


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    """{path: tarfile member} of the built artifact, directories without their trailing slash."""
    if not galaxy():
        pytest.skip("ansible-galaxy is not installed")
    out = tmp_path_factory.mktemp("artifact")
    # From the scratch folder: the clone's ansible.cfg plays no part in a build.
    subprocess.run([galaxy(), "collection", "build", "--output-path", str(out), str(ROOT)],
                   cwd=out, check=True, capture_output=True, text=True)
    (tarball,) = out.glob("ftp_lab-ftp-*.tar.gz")
    with tarfile.open(tarball) as tar:
        return {m.name.rstrip("/"): m for m in tar.getmembers()}


def files(artifact):
    return {name for name, member in artifact.items() if not member.isdir()}


def test_top_level_entries_are_exactly_the_shipped_ones(artifact):
    assert {name.split("/")[0] for name in artifact} == TOP_LEVEL


def test_docs_changelogs_and_tests_hold_only_what_users_need(artifact):
    shipped = files(artifact)
    assert {f for f in shipped if f.startswith("docs/")} == USER_DOCS
    assert {f for f in shipped if f.startswith("changelogs/")} == CHANGELOGS
    tests = {f for f in shipped if f.startswith("tests/")}
    assert tests and all(TESTS.fullmatch(f) for f in tests), sorted(tests)


def test_nothing_from_development(artifact):
    found = sorted(name for name in artifact
                   if any(name == p or name.startswith(p + "/") for p in FORBIDDEN_PATHS)
                   or FORBIDDEN_NAMES.search(name)
                   or any(part.startswith(".") for part in name.split("/")))
    assert not found


def tracked(*folders):
    """Files git tracks under folders that exist in the work tree; None outside a git clone."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--", *folders], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return {f for f in listed.split("\0") if f and os.path.lexists(ROOT / f)}


def test_every_tracked_role_and_plugin_file_ships(artifact):
    wanted = tracked("roles", "plugins")
    if wanted is None:
        pytest.skip("not a git clone")
    assert wanted, "git lists no file under roles/ or plugins/"
    assert sorted(wanted - files(artifact)) == []
    # The links that carry the modules inside the roles stay links (into plugins/), not copies.
    links = {f for f in wanted if (ROOT / f).is_symlink()}
    assert links, "the roles carry the modules as links"
    assert sorted(f for f in links if not artifact[f].issym()) == []


def test_relative_links_of_the_shipped_pages_resolve_inside_the_artifact(artifact):
    """README.md is the collection's page: what it and the user docs link to relatively must ship;
    pages that stay in the repository are linked by absolute URL."""
    shipped = files(artifact)
    broken = []
    for page in ["README.md", *sorted(USER_DOCS)]:
        for target in LINK.findall((ROOT / page).read_text()):
            if re.match(r"[a-z]+:|#", target):
                continue
            resolved = os.path.normpath(os.path.join(os.path.dirname(page), target.split("#")[0]))
            if resolved not in shipped and not any(f.startswith(resolved + "/") for f in shipped):
                broken.append(f"{page}: {target}")
    assert not broken

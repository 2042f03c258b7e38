"""Bad settings fail loudly, naming the variable, before anything on the host changes."""

import json

import pytest
from conftest import recap

PLAY = """
- name: Use the ftp_server role
  hosts: ftp_servers
  gather_facts: false
  roles: [ftp_server]
"""

HASH = "$6$saltsalt$" + "x" * 86   # the form of a crypt hash: these cases fail before it is used

# Each rule has its unit test (tests/unit/test_settings.py); here, that the role runs them before any
# change: the article's range (the settings check), an access mode the argument spec refuses, a hash
# and a truth value as they arrive from an inventory.
BAD = {
    "article's 20-20 range": (
        {"ftp_server_pasv_min_port": 20, "ftp_server_pasv_max_port": 20},
        "vsftpd silently ignores a range at or below 1024",
    ),
    "plain password": (
        {"ftp_server_users": [{"name": "eve", "password_hash": "secret"}]},
        "never the password itself",
    ),
    "unknown access mode": (
        {"ftp_server_users": [{"name": "eve", "password_hash": HASH, "access": "write_only"}]},
        "access must be one of: read_write, read_only, upload_only",
    ),
    "remove_files as a string": (
        {"ftp_server_users": [{"name": "eve", "password_hash": HASH, "state": "absent", "remove_files": "no"}]},
        "remove_files true or false",
    ),
}


def fingerprint(server):
    """Content and modification time of the files the role writes."""
    files = [server.settings["__ftp_server_config"]]
    return [server.node.check_output(f"sha256sum {f}; stat -c %Y {f}") for f in files]


@pytest.mark.first_server   # the checks run on the controller
@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_setting_fails_before_any_change(server, outside, case):
    extra_vars, message = BAD[case]
    before = fingerprint(server)
    rc, output = outside(PLAY, "--limit", server.name, "-e", json.dumps(extra_vars))
    assert rc == 2, output[-3000:]
    assert message in " ".join(output.split()), output[-3000:]
    assert recap(output)[server.name]["changed"] == 0
    assert fingerprint(server) == before


# The release files of a Debian 11 host, as Ansible reads them (the case: it converged with 10
# changes and no word about the system).
BULLSEYE = {
    "/etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\nNAME="Debian GNU/Linux"\nVERSION_ID="11"\n'
                       'VERSION="11 (bullseye)"\nVERSION_CODENAME=bullseye\nID=debian\n',
    "/etc/debian_version": "11.11\n",
}


@pytest.mark.scenario("default")
@pytest.mark.first_server   # the checks run on the controller
@pytest.mark.parametrize("role", ["ftp_server", "host_firewall"])
def test_other_system_is_refused_before_any_change(server, outside, role):
    """Each role alone on a host whose release files say Debian 11: refused by name, listing what is
    supported, with nothing changed. The FTP role in a play that gathers no facts (it learns the system
    itself); the firewall's in one that does (this inventory's management source is a fact)."""
    files = " ".join(BULLSEYE)
    server.node.check_output(f"for f in {files}; do cp -a $f $f.e2e; done")
    try:
        for path, text in BULLSEYE.items():
            server.node.check_output(f"rm -f {path}; printf '%s' {json.dumps(text)} > {path}")
        before = fingerprint(server)
        play = PLAY.replace("roles: [ftp_server]", f"roles: [{role}]")
        if role == "host_firewall":
            play = play.replace("gather_facts: false", "gather_facts: true")
        rc, output = outside(play, "--limit", server.name)
        said = " ".join(output.split())
        assert rc == 2, output[-3000:]
        assert (f"This host runs Debian 11; the {role} role supports Debian 12, Debian 13, Ubuntu 22.04, "
                "Ubuntu 24.04 only") in said, output[-3000:]
        assert recap(output)[server.name]["changed"] == 0
        assert fingerprint(server) == before
    finally:
        server.node.check_output(f"for f in {files}; do mv -f $f.e2e $f; done")

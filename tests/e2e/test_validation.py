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

BAD = {
    "article's 20-20 range": (
        {"ftp_server_pasv_min_port": 20, "ftp_server_pasv_max_port": 20},
        "vsftpd silently ignores a range at or below 1024",
    ),
    "range at 1024": (
        {"ftp_server_pasv_min_port": 1024, "ftp_server_pasv_max_port": 1100},
        "ftp_server_pasv_min_port is 1024",
    ),
    "reversed range": (
        {"ftp_server_pasv_min_port": 50010, "ftp_server_pasv_max_port": 50000},
        "the range must be ascending",
    ),
    "beyond 65535": (
        {"ftp_server_pasv_min_port": 65000, "ftp_server_pasv_max_port": 65536},
        "end at 65535 or below",
    ),
    "vsftpd's range smaller than the cap": (
        {"ftp_server_backend": "vsftpd", "ftp_server_pasv_min_port": 50100, "ftp_server_pasv_max_port": 50109,
         "ftp_server_max_clients": 11},
        "has 10 ports, fewer than ftp_server_max_clients (11)",
    ),
    "covers SQL Server": (
        {"ftp_server_pasv_min_port": 1400, "ftp_server_pasv_max_port": 1500},
        "covers port(s) 1433",
    ),
    "covers the control port": (
        {"ftp_server_pasv_min_port": 2000, "ftp_server_pasv_max_port": 2100, "ftp_server_control_port": 2021},
        "covers port(s) 2021",
    ),
    "hostname as address": (
        {"ftp_server_pasv_address": "ftp.example.org"},
        "A host name is accepted only with ftp_server_pasv_address_resolve: true",
    ),
    "link-local IPv6 listener": (
        {"ftp_server_pasv_address": "192.0.2.7", "ftp_server_ipv6_address": "fe80::1"},
        "not link-local",
    ),
    "certificate without its key": (
        {"ftp_server_tls": "required", "ftp_server_tls_certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n"},
        "must both be PEM text",
    ),
    "implicit FTPS without TLS": (
        {"ftp_server_tls": "off", "ftp_server_tls_implicit": True},
        "ftp_server_tls_implicit needs ftp_server_tls on",
    ),
    "plain password": (
        {"ftp_server_users": [{"name": "eve", "password_hash": "secret"}]},
        "never the password itself",
    ),
    "unknown access mode": (
        {"ftp_server_users": [{"name": "eve", "password_hash": HASH, "access": "write_only"}]},
        "access must be one of: read_write, read_only, upload_only",
    ),
    "shared directory outside the base": (
        {"ftp_server_users": [{"name": "eve", "password_hash": HASH, "shared": "/etc"}]},
        "shared names a directory inside ftp_server_home_base",
    ),
    "shared directory through ..": (
        {"ftp_server_users": [{"name": "eve", "password_hash": HASH, "shared": "shared/../../etc"}]},
        "shared names a directory inside ftp_server_home_base",
    ),
    "shared directory inside a home": (
        {"ftp_server_users": [{"name": "eve", "password_hash": HASH},
                              {"name": "bob", "password_hash": HASH, "shared": "eve/upload"}]},
        "apart from every account's home",
    ),
    "rate of zero": (
        {"ftp_server_users": [{"name": "eve", "password_hash": HASH, "max_rate": 0}]},
        "max_rate is a positive whole number",
    ),
    "rate not a number": (
        {"ftp_server_users": [{"name": "eve", "password_hash": HASH, "max_rate": "2MB"}]},
        "max_rate",
    ),
    "a name twice": (
        {"ftp_server_users": [{"name": "eve", "password_hash": HASH}, {"name": "eve", "password_hash": HASH}]},
        "lists a name more than once",
    ),
    "drop box reading a shared directory": (
        {"ftp_server_users": [{"name": "eve", "password_hash": HASH, "access": "upload_only",
                               "shared": "shared/inbox", "shared_access": "read_only"}]},
        "a drop box (access upload_only) with a shared directory it could read through",
    ),
    "shared access wider than the account's": (
        {"ftp_server_users": [{"name": "eve", "password_hash": HASH, "access": "read_only",
                               "shared": "shared/inbox", "shared_access": "read_write"}]},
        "shared_access may only narrow the account's access",
    ),
    "shared directory over the upload directory": (
        {"ftp_server_users": [{"name": "eve", "password_hash": HASH, "shared": "shared/upload"}]},
        "which is that of the upload directory",
    ),
    "anonymous logins": (
        {"ftp_server_anonymous": True},
        "neither backend offers anonymous logins",
    ),
    "an account named anonymous": (
        {"ftp_server_users": [{"name": "anonymous", "password_hash": HASH}]},
        "an account is named ftp or anonymous",
    ),
    "remove_files as a string": (
        {"ftp_server_users": [{"name": "eve", "password_hash": HASH, "state": "absent", "remove_files": "no"}]},
        "remove_files true or false",
    ),
    "keepalive beyond TCP's limit": (
        {"ftp_server_keepalive": 40000},
        "ftp_server_keepalive is 40000: seconds from 0",
    ),
    "accounts outside their homes": (
        {"ftp_server_chroot": False},
        "Every account is locked into its home",
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

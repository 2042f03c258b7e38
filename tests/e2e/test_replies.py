"""Both backends answer alike: the same command in the same situation gets the reply RFC 959/3659 name
(550 for a path that is not there, is outside the home or may not be read or changed; 553 for a file
STOR may not create), from the one table below; where vsftpd answers otherwise and cannot be changed,
the table says so per backend, and docs/ftp_server.md shows the same table."""

import json

import pytest

# command: (missing, outside the home, refused permission); a dict where the backends differ. Refused:
# a directory and a file in the home the account may neither read nor remove; write commands there.
EXPECTED = {
    # vsftpd lists what it can and says 226, an empty listing for a path that is not there.
    "LIST": {"vsftpd": ("226", "226", "226"), "pyftpdlib": ("550", "550", "550")},
    "NLST": {"vsftpd": ("226", "226", "226"), "pyftpdlib": ("550", "550", "550")},
    # vsftpd has no MLSD/MLST (RFC 3659): 500, and FEAT does not offer them.
    "MLSD": {"vsftpd": ("500", "500", "500"), "pyftpdlib": ("550", "550", "550")},
    "MLST": {"vsftpd": ("500", "500", "500"), "pyftpdlib": ("550", "550", "250")},
    "CWD": ("550", "550", "550"),
    # A file the account may not read still has a size and a time: its directory is readable.
    "SIZE": ("550", "550", "213"),
    "MDTM": ("550", "550", "213"),
    "RETR": ("550", "550", "550"),
    "STOR": ("553", "553", "553"),
    "DELE": ("550", "550", "550"),
    "RMD": ("550", "550", "550"),
    "MKD": ("550", "550", "550"),
    "RNFR": ("550", "550", "550"),
}
SITUATIONS = ("missing", "outside", "denied")


@pytest.fixture
def locked(server, client):
    """A directory and a file in the client's home that the account may neither read nor remove."""
    home = f"{server.settings['ftp_server_home_base']}/{client.user}"
    server.node.run_expect([0], f"mkdir -p {home}/e2e-locked && echo secret > {home}/e2e-locked.txt && "
                                f"chown root:root {home}/e2e-locked {home}/e2e-locked.txt && "
                                f"chmod 0700 {home}/e2e-locked && chmod 0600 {home}/e2e-locked.txt")
    yield
    server.node.run(f"rm -rf {home}/e2e-locked {home}/e2e-locked.txt {home}/e2e-new.txt {home}/e2e-newdir "
                    f"{home}/e2e-renamed.txt")


def expected(server, command):
    row = EXPECTED[command]
    row = row.get(server.settings["ftp_server_backend"]) if isinstance(row, dict) else row
    return dict(zip(SITUATIONS, row))


def test_reply_codes_follow_the_table(server, client, locked):
    seen = client.tool("replies", server.address, "--user", client.user, "--password", client.password)
    assert "error" not in seen, seen
    wrong = {command: (seen[command], expected(server, command)) for command in EXPECTED
             if seen[command] != expected(server, command)}
    assert not wrong, json.dumps(wrong)   # in full: seen, then expected

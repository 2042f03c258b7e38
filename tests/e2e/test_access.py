"""Who may log in, and where a logged-in user can go."""

import shlex

import pytest
from conftest import FAMILIES, address_in

@pytest.mark.parametrize("user", ["anonymous", "ftp"])
def test_anonymous_is_refused(server, client, user):
    assert client.session(server.address, user=user, password="guest@example.org")["login"].startswith("530")


def test_wrong_password_is_refused(server, client):
    assert client.session(server.address, password=client.password + "-wrong")["login"].startswith("530")


def test_system_account_is_refused(server, client):
    assert client.session(server.address, user="root", password="anything")["login"].startswith("530")


# USER alone, then QUIT: no password, so no failed login for the ban to count against the client.
USER_ONLY = """
import ftplib, sys
ftp = ftplib.FTP()
ftp.connect(sys.argv[1], int(sys.argv[3]), timeout=10)
print(ftp.sendcmd("USER " + sys.argv[2])[:3])
ftp.quit()
"""


@pytest.mark.parametrize("family", FAMILIES)
def test_user_names_are_not_revealed(server, client, family):
    """USER gets 331 whatever the name (an account, no account, a system account, a name vsftpd's user
    list once refused at once): nothing tells a guesser which names exist; the password decides."""
    host = address_in(server, client, family)
    port = server.settings["ftp_server_control_port"]
    replies = {name: client.node.check_output(f"python3 -c {shlex.quote(USER_ONLY)} {host} {name} {port}")
               for name in (client.user, "no-such-account", "root", "admin")}
    assert replies == {name: "331" for name in replies}, replies


def test_user_logs_in(server, client):
    assert client.session(server.address)["login"].startswith("230")


def test_user_stays_in_chroot(server, client):
    """Upwards and sideways from the home: the user stays where it started and sees only its home."""
    steps = client.session(server.address, "CWD ..", "CWD ../..", "PWD", "NLST /", "CWD /etc")["steps"]
    assert steps[2]["reply"].startswith('257 "/"'), steps
    assert sorted(name.rsplit("/", 1)[-1] for name in steps[3]["data"].split()) == ["upload"], steps
    assert steps[4]["reply"][:3] == "550", steps


def test_symlink_out_of_the_home_leads_nowhere(server, client):
    """A symlink to /etc planted in the upload directory does not open /etc to the user."""
    home = f"{server.settings['ftp_server_home_base']}/{client.user}/upload"
    server.node.run_expect([0], f"ln -sfn /etc {home}/escape")
    try:
        listing, retr = client.session(server.address, "NLST upload/escape", "RETR upload/escape/passwd")["steps"]
    finally:
        server.node.run(f"rm -f {home}/escape")
    assert "passwd" not in (listing["data"] or ""), listing
    assert retr["reply"].startswith("550"), retr

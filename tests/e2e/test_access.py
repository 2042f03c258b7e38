"""Who may log in, and where a logged-in user can go."""

import pytest

LOGIN = """
import ftplib, json, sys
host, user, password = sys.argv[1:4]
ftp = ftplib.FTP(host, timeout=20)
try:
    ftp.login(user, password)
    print(json.dumps("logged in"))
except ftplib.error_perm as e:
    print(json.dumps(str(e)))
"""

# Walk upwards and sideways from the home; report where the user ends up and what it sees.
ESCAPE = """
import ftplib, json, sys
host, user, password = sys.argv[1:4]
ftp = ftplib.FTP(host, timeout=20)
ftp.login(user, password)
ftp.cwd("..")
ftp.cwd("../..")
seen = {"pwd": ftp.pwd(), "root": sorted(name.rsplit("/", 1)[-1] for name in ftp.nlst("/"))}
try:
    ftp.cwd("/etc")
    seen["etc"] = "entered"
except ftplib.error_perm as e:
    seen["etc"] = str(e)[:3]
print(json.dumps(seen))
"""


@pytest.mark.parametrize("user", ["anonymous", "ftp"])
def test_anonymous_is_refused(server, client, user):
    reply = client.python(LOGIN, server.address, user, "guest@example.org")
    assert reply.startswith("530")


def test_wrong_password_is_refused(server, client):
    reply = client.python(LOGIN, server.address, client.user, client.password + "-wrong")
    assert reply.startswith("530")


def test_system_account_is_refused(server, client):
    reply = client.python(LOGIN, server.address, "root", "anything")
    assert reply.startswith("530")


def test_user_logs_in(server, client):
    assert client.python(LOGIN, server.address, client.user, client.password) == "logged in"


def test_user_stays_in_chroot(server, client):
    seen = client.python(ESCAPE, server.address, client.user, client.password)
    assert seen["pwd"] == "/"
    assert seen["root"] == ["upload"]
    assert seen["etc"] == "550"


def test_symlink_out_of_the_home_leads_nowhere(server, client):
    """A symlink to /etc planted in the upload directory does not open /etc to the user."""
    home = f"{server.settings['ftp_server_home_base']}/{client.user}/upload"
    server.node.run_expect([0], f"ln -sfn /etc {home}/escape")
    try:
        seen = client.python(SYMLINK, server.address, client.user, client.password)
    finally:
        server.node.run(f"rm -f {home}/escape")
    assert "passwd" not in seen["listing"]
    assert seen["retr"].startswith("550"), seen


SYMLINK = """
import ftplib, json, sys
host, user, password = sys.argv[1:4]
ftp = ftplib.FTP(host, timeout=20)
ftp.login(user, password)
seen = {}
try:
    seen["listing"] = ftp.nlst("upload/escape")
except ftplib.error_perm as e:
    seen["listing"] = [str(e)]
try:
    ftp.retrbinary("RETR upload/escape/passwd", lambda b: None)
    seen["retr"] = "read"
except ftplib.error_perm as e:
    seen["retr"] = str(e)
print(json.dumps(seen))
"""

"""Accounts the way FTP servers are used, the same on both backends: read_write, read_only and
upload_only (a drop box), a folder shared by several accounts, a rate cap, removal that ends a session
under way, and the accounts of release 1.x (system users) taken over by a converge. No FTP account is a
system account; every file belongs to one (ftp-server)."""

import ftplib
import json
import time
import uuid

import pytest
from conftest import ROOT, ansible_playbook, hostvars, random_file, recap

PLAYBOOK = ROOT / "playbooks" / "ftp_servers.yml"
PASSWORDS = {}   # account: password, for the accounts the client knows (ftp_client_accounts)


def password(name):
    return PASSWORDS[name]


def present(access, want=lambda user: True):
    """The present accounts of this access mode (and condition) in a list of ftp_server_users."""
    return lambda users: [user for user in users if user.get("state", "present") == "present"
                          and user.get("access", "read_write") == access and want(user)]


def account(server, client, access, want=lambda user: True):
    """The name of a present account of this access mode (and condition) whose password the client knows
    (inventory: ftp_client_accounts). The checks that need one are marked for servers that have one
    (pytest.mark.when); a skip when the client's inventory lacks its password."""
    PASSWORDS.update(hostvars(client.name).get("ftp_client_accounts", {}), **{client.user: client.password})
    for user in present(access, want)(server.settings["ftp_server_users"]):
        if user["name"] in PASSWORDS:
            return user["name"]
    pytest.skip(f"the client's inventory has no password (ftp_client_accounts) for the {access} account")


def shares(user):
    return bool(user.get("shared"))


def capped(user):
    return user.get("max_rate") == 2000000


def replies(client, server, user, *commands):
    steps = client.session(server.address, *commands, user=user, password=password(user))["steps"]
    return [(s["command"], s["reply"][:3]) for s in steps]


def upload_dir(server, name):
    return next(u.get("upload_dir", "upload") for u in server.settings["ftp_server_users"] if u["name"] == name)


def files_owner(server, path):
    return server.node.check_output(f"stat -c %U {path}")


def test_no_account_is_a_system_account(server):
    for name in [user["name"] for user in server.settings["ftp_server_users"]]:
        assert server.node.run(f"getent passwd {name}").rc == 2, f"{name} is in the passwd database"
    files = server.settings["__ftp_server_files_user"]
    assert server.node.check_output(f"getent passwd {files} | cut -d: -f7") == "/usr/sbin/nologin"


@pytest.mark.when(ftp_server_users=present("read_only", shares))
def test_read_write_and_the_shared_folder(server, client):
    """A read_write account (staff) publishes into the shared folder, which a read_only one (customer)
    sees and cannot change."""
    customer = account(server, client, "read_only", shares)
    shared = next(u["shared"] for u in server.settings["ftp_server_users"] if u["name"] == customer)
    staff = account(server, client, "read_write", lambda user: user.get("shared") == shared
                    and user.get("shared_access", "read_write") == "read_write")
    folder = shared.rstrip("/").rsplit("/", 1)[-1]
    name = f"release-{uuid.uuid4().hex[:8]}.txt"
    assert replies(client, server, staff, f"CWD {folder}", f"STOR {name}", f"STOR {name}", f"APPE {name}",
                   "LIST", f"RETR {name}", f"RNFR {name}", f"RNTO {name}.old", f"RNFR {name}.old",
                   f"RNTO {name}", "CWD /", f"STOR {name}") == [
        (f"CWD {folder}", "250"), (f"STOR {name}", "226"), (f"STOR {name}", "226"), (f"APPE {name}", "226"),
        ("LIST", "226"), (f"RETR {name}", "226"), (f"RNFR {name}", "350"), (f"RNTO {name}.old", "250"),
        (f"RNFR {name}.old", "350"), (f"RNTO {name}", "250"), ("CWD /", "250"),
        (f"STOR {name}", "553"),   # the home itself is read-only
    ]
    base = server.settings["ftp_server_home_base"]
    stored = f"{shared if shared.startswith('/') else base + '/' + shared}/{name}"
    assert files_owner(server, stored) == server.settings["__ftp_server_files_user"]
    steps = client.session(server.address, f"CWD {folder}", "LIST", f"RETR {name}", f"SIZE {name}", f"STOR {name}",
                           f"APPE {name}", f"DELE {name}", f"RNFR {name}", "MKD new", "CWD /", "LIST",
                           f"STOR {name}", user=customer, password=password(customer))["steps"]
    assert [(s["command"], s["reply"][:3]) for s in steps] == [
        (f"CWD {folder}", "250"), ("LIST", "226"), (f"RETR {name}", "226"), (f"SIZE {name}", "213"),
        (f"STOR {name}", "550"), (f"APPE {name}", "550"), (f"DELE {name}", "550"), (f"RNFR {name}", "550"),
        ("MKD new", "550"), ("CWD /", "250"), ("LIST", "226"), (f"STOR {name}", "550"),
    ]
    assert name in steps[1]["data"] and steps[2]["data"] == "e2ee2e", steps
    # A listing names no system account (vsftpd's hide_ids; pyftpdlib alike).
    owners = {tuple(line.split()[2:4]) for line in steps[1]["data"].splitlines() if line}
    assert owners == {("ftp", "ftp")}, steps[1]["data"]
    assert replies(client, server, staff, f"DELE {folder}/{name}") == [(f"DELE {folder}/{name}", "250")]


@pytest.mark.when(ftp_server_users=present("upload_only"))
def test_drop_box(server, client):
    """partner stores new files and nothing else: no listing, download, size, time, overwrite, append,
    resume, rename, delete or directory; what it stored belongs to the files' account."""
    partner = account(server, client, "upload_only")
    upload = upload_dir(server, partner)
    name = f"drop-{uuid.uuid4().hex[:8]}.txt"
    assert replies(client, server, partner, f"CWD {upload}", f"STOR {name}", f"STOR {name}", f"APPE {name}",
                   "LIST", "NLST", f"RETR {name}", f"SIZE {name}", f"MDTM {name}", "REST 5", f"DELE {name}",
                   f"RNFR {name}", "MKD new", f"STAT {name}", f"STOR /{name}") == [
        (f"CWD {upload}", "250"), (f"STOR {name}", "226"), (f"STOR {name}", "553"), (f"APPE {name}", "550"),
        ("LIST", "550"), ("NLST", "550"), (f"RETR {name}", "550"), (f"SIZE {name}", "550"),
        (f"MDTM {name}", "550"), ("REST 5", "550"), (f"DELE {name}", "550"), (f"RNFR {name}", "550"),
        ("MKD new", "550"), (f"STAT {name}", "550"), (f"STOR /{name}", "553"),
    ]
    stored = f"{server.settings['ftp_server_home_base']}/{partner}/{upload}/{name}"
    assert server.node.check_output(f"cat {stored}") == "e2e", "the first upload was overwritten"
    assert files_owner(server, stored) == server.settings["__ftp_server_files_user"]
    server.node.run(f"rm -f {stored}")


@pytest.mark.when(ftp_server_users=present("upload_only"))
def test_drop_box_with_real_clients(server, client):
    """curl uploads into the drop box; curl cannot list it or fetch from it, lftp cannot overwrite."""
    partner = account(server, client, "upload_only")
    upload = upload_dir(server, partner)
    name = f"drop-{uuid.uuid4().hex[:8]}.bin"
    sample = random_file(client, f"/tmp/{name}", "200K")
    url = f"ftp://{partner}:{password(partner)}@{server.address}/{upload}/"
    result = client.run(f"curl -sS --ftp-pasv -T {sample.path} {url}")
    assert result.rc == 0, result.stderr
    stored = f"{server.settings['ftp_server_home_base']}/{partner}/{upload}/{name}"
    assert server.node.check_output(f"sha256sum {stored}").split()[0] == sample.digest
    assert client.run(f"curl -sS --ftp-pasv {url}").rc != 0                 # a listing
    assert client.run(f"curl -sS --ftp-pasv -o /dev/null {url}{name}").rc != 0   # a download
    lftp = client.run(f"lftp -u {partner},{password(partner)} -e 'set ssl:verify-certificate no; "
                      f"set ftp:ssl-allow no; put -O {upload} {sample.path}; bye' {server.address}")
    assert lftp.rc != 0 and "553" in lftp.stderr, lftp.stdout + lftp.stderr
    assert server.node.check_output(f"sha256sum {stored}").split()[0] == sample.digest
    server.node.run(f"rm -f {stored}")


# Once per backend (vsftpd in egress, pyftpdlib in its own), on the first server: each takes a minute.
@pytest.mark.scenario("egress", "pyftpdlib")
@pytest.mark.first_server
@pytest.mark.when(ftp_server_users=present("read_write", capped))
def test_capped_download_and_upload(server, client):
    """An account capped at 2 MB/s (max_rate 2000000): 20 MB down and up take 9-12 s each with curl."""
    slow = account(server, client, "read_write", capped)
    upload = upload_dir(server, slow)
    home = f"{server.settings['ftp_server_home_base']}/{slow}/{upload}"
    files = server.settings["__ftp_server_files_user"]
    server.node.run_expect([0], f"head -c 20000000 /dev/urandom > {home}/big && chown {files}: {home}/big")
    url = f"ftp://{slow}:{password(slow)}@{server.address}/{upload}"
    down = client.run(f"curl -sS --ftp-pasv -o /tmp/slow.bin -w '%{{time_total}}' {url}/big")
    up = client.run(f"curl -sS --ftp-pasv -T /tmp/slow.bin -w '%{{time_total}}' {url}/back")
    server.node.run(f"rm -f {home}/big {home}/back")
    assert down.rc == 0 and up.rc == 0, down.stderr + up.stderr
    assert 9 <= float(down.stdout) <= 12, f"download took {down.stdout} s"
    assert 9 <= float(up.stdout) <= 12, f"upload took {up.stdout} s"


def converge(server, users):
    rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name, "-e", json.dumps({"ftp_server_users": users}))
    assert rc == 0, output[-3000:]
    return recap(output)[server.name]


def login(server, user):
    ftp = ftplib.FTP(timeout=20)
    ftp.connect(server.address, server.settings["ftp_server_control_port"])
    ftp.login(user, password(user))
    return ftp


@pytest.mark.scenario("egress", "pyftpdlib")
@pytest.mark.first_server
def test_release_1_accounts_and_removal(server, client):
    """A host as release 1.x left it (the account a system user without a shell, its uploads its own) is
    taken over by a converge: the system user goes, the files are re-owned, the same password logs in
    and the old files can be overwritten and deleted. Then state: absent refuses the next login and
    ends the session under way; remove_files takes the home."""
    base = server.settings["ftp_server_home_base"]
    users = server.settings["ftp_server_users"]
    PASSWORDS["leaver"] = "leaver-password"
    # What release 1.x's tasks made (ansible.builtin.user with these values; upload dir 0750, its own).
    hashed = server.node.check_output("openssl passwd -6 -salt legacysalt oldie-password")
    server.node.run_expect([0], f"useradd --home-dir {base}/oldie --no-create-home --shell /usr/sbin/nologin "
                                f"--password '{hashed}' oldie && install -d -o root -m 0755 {base}/oldie && "
                                f"install -d -o oldie -g oldie -m 0750 {base}/oldie/upload && "
                                f"echo old > {base}/oldie/upload/old.txt && chown oldie: {base}/oldie/upload/old.txt")
    leaver = server.node.check_output(f"openssl passwd -6 -salt leaversalt {password('leaver')}")
    extra = [{"name": "oldie", "password_hash": hashed}, {"name": "leaver", "password_hash": leaver}]
    done = False
    try:
        converge(server, users + extra)
        assert server.node.run("getent passwd oldie").rc == 2
        owners = server.node.check_output(f"find {base}/oldie/upload -printf '%u\\n' | sort -u")
        assert owners == server.settings["__ftp_server_files_user"]
        steps = client.session(server.address, "RETR upload/old.txt", "STOR upload/old.txt", "DELE upload/old.txt",
                               user="oldie", password="oldie-password")["steps"]
        assert [s["reply"][:3] for s in steps] == ["226", "226", "250"], steps
        assert steps[0]["data"].strip() == "old", steps
        assert converge(server, users + extra)["changed"] == 0

        held = login(server, "leaver")
        held.voidcmd("NOOP")
        gone = [{"name": "oldie", "password_hash": hashed, "state": "absent", "remove_files": True},
                {"name": "leaver", "password_hash": leaver, "state": "absent"}]
        converge(server, users + gone)
        with pytest.raises((EOFError, OSError, ftplib.Error)):
            time.sleep(1)   # pyftpdlib reads its accounts on the next turn of its loop
            held.voidcmd("NOOP")
        with pytest.raises(ftplib.error_perm, match="530"):
            login(server, "leaver")
        assert server.node.run(f"test -e {base}/oldie").rc == 1
        assert server.node.run(f"test -d {base}/leaver").rc == 0   # files stay unless the entry says
        done = True   # the accounts are the inventory's again (the two extra ones marked absent)
    finally:
        server.node.run(f"userdel oldie; rm -rf {base}/oldie {base}/leaver")
        if not done:
            converge(server, users)

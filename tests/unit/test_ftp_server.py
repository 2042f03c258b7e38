"""The pyftpdlib backend's program (roles/ftp_server/files/ftp_server.py) apart from the network: its
config and accounts checks with their messages, the announced address, the permissions of each access
mode, crypt(3) hashes, and uploads that take their target's name only when complete."""

import json
import os
import stat

import ftp_server
import pytest

CONFIG = {"listen_port": 21, "passive_min_port": 50000, "passive_max_port": 50049, "max_clients": 50,
          "max_per_ip": 5, "max_login_attempts": 3, "login_failure_delay": 2, "active_enabled": True,
          "anonymous": False, "tls": "off", "passive_address": "", "banner": "FTP server ready."}


@pytest.fixture
def base(tmp_path):
    """A home base with alice's home and upload directory, and her hash (crypt(3), SHA-512)."""
    for folder in ("srv/alice/upload", "srv/alice/inbox", "srv/shared/inbox"):
        (tmp_path / folder).mkdir(parents=True)
    return tmp_path


def write(path, data):
    path.write_text(json.dumps(data))
    return str(path)


def accounts(base, **alice):
    hashed = ftp_server.crypt("secret", "$6$saltsalt$")
    return {"home_base": str(base / "srv"), "users": [dict({"name": "alice", "password_hash": hashed}, **alice)]}


def config(base, **changes):
    path = write(base / "accounts.json", accounts(base))
    return write(base / "config.json", dict(CONFIG, accounts=path, **changes))


def test_a_good_config_loads(base):
    cfg = ftp_server.load(config(base))
    assert cfg["users"][0]["upload"] == str(base / "srv" / "alice" / "upload")
    assert cfg["ipv6_prefix"] == 64


@pytest.mark.parametrize("changes,message", [
    ({"passive_min_port": 20, "passive_max_port": 20}, "passive range 20-20 must be ascending, above 1024"),
    ({"passive_min_port": 50010, "passive_max_port": 50000}, "passive range 50010-50000"),
    ({"listen_port": 50010}, "the passive range covers listen_port"),
    ({"listen_port": 0}, "listen_port must be 1-65535"),
    ({"max_clients": "50"}, "max_clients must be a whole number"),
    ({"ipv6_prefix": 129}, "ipv6_prefix must be 1-128"),
    ({"passive_address": "ftp.example.org"}, "a name needs passive_address_resolve"),
    ({"active_enabled": "yes"}, "active_enabled must be true or false"),
    ({"anonymous": True}, "anonymous logins are not offered"),
    ({"banner": "Hello\n230 fake"}, "banner must be one line of printable ASCII"),
    ({"tls": "on"}, "tls must be off, optional or required"),
    ({"tls_session_reuse": "yes"}, "tls_session_reuse must be true or false"),
])
def test_a_bad_config_is_refused_by_name(base, changes, message):
    with pytest.raises(ftp_server.ConfigError, match=message):
        ftp_server.load(config(base, **changes))


@pytest.mark.parametrize("alice,message", [
    ({"password_hash": "secret"}, "password_hash is not a crypt hash"),
    ({"password_hash": "$0$unknown"}, "password_hash is not a crypt hash this system knows"),
    ({"access": "all"}, "access 'all' is not one of read_write, read_only, upload_only"),
    ({"max_rate": True}, "max_rate must be a whole number"),
    ({"upload_dir": "../bob"}, "upload_dir must be one directory inside the home"),
    ({"name": "../alice"}, "is not a plain name"),
    ({"shared": "shared/inbox", "shared_access": "admin"}, "shared_access 'admin' is not one of"),
])
def test_a_bad_account_is_refused_by_name(base, alice, message):
    path = write(base / "accounts.json", accounts(base, **alice))
    with pytest.raises(ftp_server.ConfigError, match=message):
        ftp_server.load_accounts(path, probe=True)


def test_a_name_twice_is_refused(base):
    data = accounts(base)
    data["users"] *= 2
    with pytest.raises(ftp_server.ConfigError, match="users lists a name twice"):
        ftp_server.load_accounts(write(base / "accounts.json", data))


def test_a_check_may_come_before_the_accounts_file(base):
    """The role writes the config and the accounts in one call: --check of the config alone passes."""
    cfg = ftp_server.load(write(base / "config.json", dict(CONFIG, accounts=str(base / "none.json"))), probe=True)
    assert cfg["users"] == []
    with pytest.raises(ftp_server.ConfigError, match="cannot read the accounts"):
        ftp_server.load(str(base / "config.json"))


@pytest.mark.parametrize("address,resolve,expected", [
    ("", False, ""), ("192.0.2.7", False, "192.0.2.7"), ("localhost", True, "127.0.0.1"),
])
def test_the_announced_address(address, resolve, expected):
    assert ftp_server.announced(address, resolve) == expected


def test_a_name_that_does_not_resolve_is_refused():
    with pytest.raises(ftp_server.ConfigError, match="does not resolve"):
        ftp_server.announced("nowhere.invalid", True)


def test_a_hash_verifies_its_password_only():
    hashed = ftp_server.crypt("secret", "$6$saltsalt$")
    assert ftp_server.verify("secret", hashed)
    assert not ftp_server.verify("Secret", hashed)
    assert not ftp_server.verify("secret", "$0$unknown")


# What each access mode may do: in the home, in the upload directory, in the shared one (shared_access).
@pytest.mark.parametrize("access,home,upload", [
    ("read_write", "elr", "elradfmwT"), ("read_only", "elr", "elr"), ("upload_only", "e", "ew"),
])
def test_each_access_mode_has_its_permissions(base, access, home, upload):
    users = ftp_server.load_accounts(write(base / "accounts.json", accounts(base, access=access)))["users"]
    authorizer = ftp_server.Authorizer(users)
    home_dir, upload_dir = users[0]["home"], users[0]["upload"]
    assert {p for p in "elradfmwTM" if authorizer.has_perm("alice", p, home_dir + "/file")} == set(home)
    assert {p for p in "elradfmwTM" if authorizer.has_perm("alice", p, upload_dir + "/file")} == set(upload)


def test_a_shared_directory_has_the_shared_access(base):
    users = ftp_server.load_accounts(write(base / "accounts.json", accounts(
        base, shared="shared/inbox", shared_access="read_only")))["users"]
    authorizer = ftp_server.Authorizer(users)
    share = users[0]["share"]
    assert {p for p in "elradfmwT" if authorizer.has_perm("alice", p, share + "/file")} == set("elr")


def test_an_account_removed_by_a_reload_may_do_nothing(base):
    users = ftp_server.load_accounts(write(base / "accounts.json", accounts(base)))["users"]
    authorizer = ftp_server.Authorizer(users)
    authorizer.remove_user("alice")
    assert not authorizer.has_perm("alice", "r", users[0]["home"])


def test_an_upload_takes_its_name_only_when_kept(tmp_path):
    target = tmp_path / "report.pdf"
    target.write_bytes(b"old")
    target.chmod(0o640)
    upload = ftp_server.Upload(str(target), exclusive=False)
    upload.write(b"new and longer")
    assert target.read_bytes() == b"old"   # the target as it was while the upload runs
    assert upload.keep()
    assert target.read_bytes() == b"new and longer"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640   # an overwritten file keeps its mode
    assert os.listdir(tmp_path) == ["report.pdf"]


def test_a_cut_upload_leaves_the_target_and_nothing_else(tmp_path):
    target = tmp_path / "report.pdf"
    target.write_bytes(b"old")
    upload = ftp_server.Upload(str(target), exclusive=False)
    upload.write(b"partial")
    upload.close()
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["report.pdf"]


def test_a_drop_box_never_overwrites(tmp_path):
    target = tmp_path / "report.pdf"
    target.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        ftp_server.Upload(str(target), exclusive=True)
    late = ftp_server.Upload(str(tmp_path / "late.pdf"), exclusive=True)
    (tmp_path / "late.pdf").write_bytes(b"someone else's")   # appeared while the upload ran
    late.write(b"mine")
    assert not late.keep()
    assert (tmp_path / "late.pdf").read_bytes() == b"someone else's"
    assert sorted(os.listdir(tmp_path)) == ["late.pdf", "report.pdf"]

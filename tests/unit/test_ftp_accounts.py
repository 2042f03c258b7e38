"""The filter ftp_accounts (plugins/filter/ftp_accounts.py): what the ftp_server role makes of its
accounts."""

import pytest
from ftp_accounts import ftp_accounts, mount_unit

HASH = "$6$saltsalt$" + "x" * 86
BASE = "/srv/ftp"
USERS = [
    {"name": "alice", "password_hash": HASH},
    {"name": "bob", "password_hash": HASH, "state": "present", "access": "read_only", "shared": "shared/in"},
    {"name": "drop", "password_hash": HASH, "access": "upload_only", "upload_dir": "incoming",
     "shared": "/srv/ftp/shared/in", "shared_access": "upload_only"},
    {"name": "gone", "password_hash": HASH, "state": "absent", "remove_files": True},
    {"name": "kept", "password_hash": HASH, "state": "absent", "remove_files": "no"},
]


@pytest.fixture
def layout():
    return ftp_accounts(USERS, BASE, "ftp-server", ["srv-ftp-bob-in.mount", "srv-ftp-old-in.mount"])


def test_present_and_absent_entries(layout):
    assert [u["name"] for u in layout["present"]] == ["alice", "drop", "bob"]   # without a state first
    assert [u["name"] for u in layout["absent"]] == ["gone", "kept"]
    assert layout["removed_homes"] == ["gone"]   # "no" is false


def test_accounts_have_their_defaults_and_no_hash(layout):
    alice = layout["accounts"][0]
    assert alice == {"name": "alice", "access": "read_write", "upload_dir": "upload", "max_rate": 0, "shared": ""}
    assert all("password_hash" not in u for u in layout["accounts"])
    assert all("password_hash" in u for u in layout["present"])   # the templates of hashes need them


def test_shares_relative_or_absolute(layout):
    assert layout["shares"] == [
        {"name": "drop", "path": "/srv/ftp/shared/in", "mount": "/srv/ftp/drop/in", "read_only": False},
        {"name": "bob", "path": "/srv/ftp/shared/in", "mount": "/srv/ftp/bob/in", "read_only": True},
    ]


def test_upload_directories_of_every_account_and_of_writers(layout):
    assert layout["all_upload_paths"] == ["/srv/ftp/alice/upload", "/srv/ftp/drop/incoming", "/srv/ftp/bob/upload"]
    assert layout["upload_paths"] == ["/srv/ftp/alice/upload", "/srv/ftp/drop/incoming"]


def test_directories_homes_then_writable_then_mount_points(layout):
    assert layout["directories"] == [
        {"path": "/srv/ftp/alice", "owner": "root", "mode": "0755"},
        {"path": "/srv/ftp/drop", "owner": "root", "mode": "0755"},
        {"path": "/srv/ftp/bob", "owner": "root", "mode": "0755"},
        {"path": "/srv/ftp/alice/upload", "owner": "ftp-server", "mode": "0750"},
        {"path": "/srv/ftp/drop/incoming", "owner": "ftp-server", "mode": "0750"},
        {"path": "/srv/ftp/shared/in", "owner": "ftp-server", "mode": "0750"},   # once for two shares
        {"path": "/srv/ftp/drop/in", "mode": "0750"},
        {"path": "/srv/ftp/bob/in", "mode": "0750"},
    ]


def test_mount_units_and_those_left_over(layout):
    assert layout["mount_units"] == ["srv-ftp-drop-in.mount", "srv-ftp-bob-in.mount"]
    assert layout["stale_mounts"] == ["srv-ftp-old-in.mount"]


@pytest.mark.parametrize("where,unit", [
    ("/srv/ftp/bob/in", "srv-ftp-bob-in.mount"),
    ("/srv/ftp-data/bob-2/my.share", "srv-ftp\\x2ddata-bob\\x2d2-my.share.mount"),   # systemd-escape --path
])
def test_mount_unit_names_as_systemd_escapes_them(where, unit):
    assert mount_unit(where) == unit


def test_no_accounts():
    layout = ftp_accounts([], BASE, "ftp-server")
    assert layout["directories"] == [] and layout["mount_units"] == [] and layout["stale_mounts"] == []

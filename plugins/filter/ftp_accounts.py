# Copyright: (c) 2026, FTP lab developers
# MIT License (see LICENSE)
"""The filter ftp_accounts: what the ftp_server role makes of ftp_server_users, as data the tasks and
templates read (tests/unit/test_ftp_accounts.py)."""

import posixpath

DEFAULTS = {"access": "read_write", "upload_dir": "upload", "max_rate": 0, "shared": ""}
TRUE = ("yes", "on", "1", "true")   # ansible-core's bool filter: anything else is false


def truth(value):
    """A truth value as Ansible's bool filter reads it ("no" is false)."""
    return str(value).lower() in TRUE if isinstance(value, (str, int)) else False


def unique(items):
    return list(dict.fromkeys(items))


def mount_unit(where):
    """The systemd unit that mounts at where (systemd-escape --path): names and directories are
    validated to letters, digits, '_', '.' and '-', of which '-' is escaped."""
    return where.strip("/").replace("-", "\\x2d").replace("/", "-") + ".mount"


def ftp_accounts(users, home_base, files_user, mounts_found=()):
    """The accounts' layout under home_base:

    present, absent: the entries to create (without a state or marked present) and to remove;
    removed_homes: the names of absent entries whose remove_files is true;
    accounts: the present entries with their defaults and without their hashes (what loops may print);
    shares: each shared directory (name, path, mount inside the home, read_only);
    all_upload_paths, upload_paths: every present account's upload directory, and those to create
    (the accounts that may write);
    directories: what to create (each home root's and read-only, the writable directories for the
    files' account, the places shared directories are seen at);
    mount_units: the unit of each share, in the order of shares; stale_mounts: units found that no
    share wants now."""
    users = [u for u in users or [] if isinstance(u, dict)]   # the settings check names any other shape
    present = ([u for u in users if "state" not in u]
               + [u for u in users if "state" in u and u["state"] == "present"])
    absent = [u for u in users if "state" in u and u["state"] == "absent"]
    accounts = [dict(DEFAULTS, **{k: v for k, v in u.items() if k != "password_hash"}) for u in present]
    shares = [{"name": u["name"],
               "path": u["shared"] if u["shared"].startswith("/") else f"{home_base}/{u['shared']}",
               "mount": f"{home_base}/{u['name']}/{posixpath.basename(u['shared'])}",
               "read_only": u.get("shared_access", u["access"]) == "read_only"}
              for u in accounts if u["shared"]]
    writers = [u for u in accounts if u["access"] != "read_only"]
    upload_paths = [f"{home_base}/{u['name']}/{u['upload_dir']}" for u in writers]
    directories = ([{"path": f"{home_base}/{u['name']}", "owner": "root", "mode": "0755"} for u in accounts]
                   + [{"path": path, "owner": files_user, "mode": "0750"}
                      for path in unique(upload_paths + [s["path"] for s in shares])]
                   + [{"path": s["mount"], "mode": "0750"} for s in shares])
    units = [mount_unit(s["mount"]) for s in shares]
    return {
        "present": present, "absent": absent,
        "removed_homes": [u["name"] for u in absent if truth(u.get("remove_files", False))],
        "accounts": accounts, "shares": shares,
        "all_upload_paths": [f"{home_base}/{u['name']}/{u['upload_dir']}" for u in accounts],
        "upload_paths": upload_paths, "directories": directories,
        "mount_units": units, "stale_mounts": [unit for unit in mounts_found if unit not in units],
    }


class FilterModule:
    def filters(self):
        return {"ftp_accounts": ftp_accounts}

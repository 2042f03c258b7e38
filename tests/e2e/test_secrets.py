"""No secret the inventory holds (password hashes, a TLS key) reaches Ansible's output: not in a converge
at -vvv, not in the --check --diff preview of changed accounts, not in a failed validation."""

import json

import pytest
from conftest import ROOT, ansible_playbook, hostvars, recap

PLAYBOOK = ROOT / "playbooks" / "ftp_servers.yml"
# openssl passwd -6 -salt leaktestsalt0N never-printed-N: hashes that appear nowhere but in these runs.
NEW = ["$6$leaktestsalt01$vc2O1sxHCvE29mKmVB3qaHpXWUNIM1Dkpo4awjwFjGzaRB/UzcCgTtB.b7zOG0XFGP1QT7dm/k6C4tEbNsHYD1",
       "$6$leaktestsalt02$7fNCBLzVaL.agcQyFugCIWsoSLbzWjTKjfoqV6YwdWTZPpImuEDrBdKtPJfhNq0WdQPB4UivacU/McQ4keYOG/"]


def secrets(name):
    """Every secret of the host's inventory, and the part of each hash after its salt."""
    settings = hostvars(name)
    found = [u["password_hash"] for u in settings.get("ftp_server_users", [])]
    found += [settings[k] for k in ("ftp_server_tls_private_key",) if settings.get(k)]
    return found + [s.rsplit("$", 1)[-1] for s in found if s.startswith("$")]


def leaks(output, values):
    return [v[:20] + "..." for v in values if v and v in output]


# Once per run, on the first server (each converges it at -vvv): in default, and the preview also in
# pyftpdlib, whose configuration file holds the hashes.
@pytest.mark.scenario("default")
@pytest.mark.first_server
def test_converge_at_debug_verbosity_prints_no_secret(server):
    rc, output = ansible_playbook(PLAYBOOK, "-vvv", "--limit", server.name)
    assert rc == 0, output[-3000:]
    assert recap(output)[server.name]["ok"]
    assert not leaks(output, secrets(server.name))


@pytest.mark.scenario("default", "pyftpdlib")
@pytest.mark.first_server
def test_preview_of_changed_accounts_prints_no_secret(server):
    users = server.settings["ftp_server_users"]
    changed = [dict(users[0], password_hash=NEW[0]), *users[1:], {"name": "leaktest", "password_hash": NEW[1]}]
    rc, output = ansible_playbook(PLAYBOOK, "-vvv", "--check", "--diff", "--limit", server.name,
                                  "-e", json.dumps({"ftp_server_users": changed}))
    assert rc == 0, output[-3000:]
    assert recap(output)[server.name]["changed"] >= 1, output[-3000:]   # the change was previewed
    assert not leaks(output, secrets(server.name) + NEW + [h.rsplit("$", 1)[-1] for h in NEW])


@pytest.mark.scenario("default")
@pytest.mark.first_server
def test_failed_account_check_names_the_entry_not_its_hash(server):
    bad = [{"name": "Bad.Name", "password_hash": NEW[0]}, {"name": "upload", "password_hash": NEW[1],
                                                           "upload_dir": ".."}]
    rc, output = ansible_playbook(PLAYBOOK, "-vvv", "--limit", server.name, "-e", json.dumps({"ftp_server_users": bad}))
    assert rc == 2, output[-3000:]
    assert "ftp_server_users entries Bad.Name, upload:" in " ".join(output.split()), output[-3000:]
    assert not leaks(output, NEW + [h.rsplit("$", 1)[-1] for h in NEW])

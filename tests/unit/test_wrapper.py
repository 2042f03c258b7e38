"""The module wrapper's own paths (plugins/modules/nft_firewall.py): files, lock, ownership, lockout, with a
fake AnsibleModule; the apply path itself is proven end to end by the Molecule scenarios."""

import importlib.util
import json
import os
import stat
import subprocess
import sys

import nft_others
import nft_ruleset
import pytest
from nft_ruleset import build

sys.modules.setdefault("ansible.module_utils.nft_ruleset", nft_ruleset)
sys.modules.setdefault("ansible.module_utils.nft_others", nft_others)
spec = importlib.util.spec_from_file_location(
    "nft_firewall", os.path.join(os.path.dirname(__file__), "..", "..", "plugins", "modules", "nft_firewall.py"))
wrapper = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wrapper)


class Failed(Exception):
    pass


class FakeModule:
    def fail_json(self, msg, **kwargs):
        raise Failed(msg)

    def atomic_move(self, src, dest):
        os.rename(src, dest)


def test_write_is_atomic_private_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "etc" / "t.nft"
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "t.nft.tmp").symlink_to(tmp_path / "elsewhere")   # a planted link is not followed
    wrapper.write(FakeModule(), str(target), "table inet t {}\n")
    assert target.read_text() == "table inet t {}\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not (tmp_path / "elsewhere").exists()
    assert sorted(p.name for p in (tmp_path / "etc").iterdir()) == ["t.nft", "t.nft.tmp"]


@pytest.mark.parametrize("path, state_dir, message", [
    ("rel/t.nft", "/var/lib/x", "must be an absolute path"),
    ("/t.nft", "rel", "must be an absolute path"),
])
def test_relative_paths_are_refused(path, state_dir, message):
    with pytest.raises(Failed, match=message):
        wrapper.check_paths(FakeModule(), path, state_dir)


def test_folder_as_path_is_refused(tmp_path):
    with pytest.raises(Failed, match="is a folder"):
        wrapper.check_paths(FakeModule(), str(tmp_path), str(tmp_path / "state"))


def test_file_as_state_dir_is_refused(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(Failed, match="is not a folder"):
        wrapper.check_paths(FakeModule(), str(tmp_path / "t.nft"), str(tmp_path / "f"))


def test_second_run_waits_for_the_lock_then_fails(tmp_path):
    held = wrapper.lock(FakeModule(), str(tmp_path), "t", 1)
    with pytest.raises(Failed, match="another nft_firewall run holds table t"):
        wrapper.lock(FakeModule(), str(tmp_path), "t", 0.3)
    os.close(held)
    os.close(wrapper.lock(FakeModule(), str(tmp_path), "t", 0.3))   # free again


def test_foreign_table_is_left_alone_unless_adopted(tmp_path):
    stamp = str(tmp_path / "t.sha256")
    with pytest.raises(Failed, match="was not made by nft_firewall"):
        wrapper.owned(FakeModule(), "table inet t {}", "t", stamp, adopt=False)
    wrapper.owned(FakeModule(), "table inet t {}", "t", stamp, adopt=True)
    wrapper.owned(FakeModule(), None, "t", stamp, adopt=False)   # no table: nothing to protect
    (tmp_path / "t.sha256").write_text("abc")
    wrapper.owned(FakeModule(), "table inet t {}", "t", stamp, adopt=False)


@pytest.mark.parametrize("sources, connection, refused", [
    (["192.0.2.10"], "203.0.113.5 50000 10.0.0.1 22", True),
    (["192.0.2.10"], "192.0.2.10 50000 10.0.0.1 22", False),
    (["192.0.2.10"], "", False),                                 # not over SSH: nothing to check
    # A mixed list admits each family from its own entries.
    (["192.0.2.10", "2001:db8::/64"], "2001:db8::7 50000 2001:db8::1 22", False),
    (["192.0.2.10", "2001:db8::/64"], "2001:db8:1::7 50000 2001:db8::1 22", True),
    # A v6-only list shuts out a controller that comes over IPv4: refused.
    (["2001:db8::/64"], "192.0.2.10 50000 10.0.0.1 22", True),
])
def test_lockout_check(monkeypatch, sources, connection, refused):
    monkeypatch.setenv("SSH_CONNECTION", connection)
    policy = build({"management": {"sources": sources}})
    if refused:
        with pytest.raises(Failed, match=f"would drop a new connection from {connection.split()[0]} to port 22"):
            wrapper.check_lockout(FakeModule(), policy)
    else:
        wrapper.check_lockout(FakeModule(), policy)


class Exited(Exception):
    pass


class HostModule(FakeModule):
    """A fake module that records the commands it would run on the host."""

    def __init__(self):
        self.commands = []

    def get_bin_path(self, name, required=False):
        return f"/usr/bin/{name}"

    def run_command(self, args):
        self.commands.append(args)
        return 0, "", ""

    def exit_json(self, **result):
        raise Exited(result)


class FakeNft:
    bin = "/usr/sbin/nft"

    def __init__(self, live):
        self.live = live

    def listing(self, table):
        return self.live


def test_rollback_saves_the_previous_table_and_arms_a_precise_timer(tmp_path):
    module = HostModule()
    wrapper.Rollback(module, FakeNft(None), str(tmp_path), "t").arm("table inet t {\n}\n", 7)
    script = (tmp_path / "t.rollback.nft").read_text()
    assert script == "table inet t\ndelete table inet t\ntable inet t {\n}\n"
    run = next(c for c in module.commands if c[0].endswith("systemd-run"))
    assert "--on-active=7s" in run and "--timer-property=AccuracySec=100ms" in run
    assert run[-3:] == ["/usr/sbin/nft", str(tmp_path / "t.rollback.nft"), str(tmp_path / "t.pending")]


@pytest.mark.parametrize("nft,left", [("true", False), ("false", True)])
def test_rollback_leaves_nothing_behind(tmp_path, nft, left):
    """What the timer runs, run here with an nft that succeeds (or fails): the script and the pending
    mark go once the previous table is back (and stay, as evidence, when nft failed)."""
    module = HostModule()
    wrapper.Rollback(module, FakeNft(None), str(tmp_path), "t").arm(None, 7)
    (tmp_path / "t.pending").write_text("fingerprint")
    run = next(c for c in module.commands if c[0].endswith("systemd-run"))
    shell = run[run.index("-c") - 1:]
    shell[shell.index("/usr/sbin/nft")] = f"/bin/{nft}"
    subprocess.run(shell, check=False)
    assert (tmp_path / "t.rollback.nft").exists() is left and (tmp_path / "t.pending").exists() is left


def test_rollback_with_no_previous_table_removes_ours(tmp_path):
    wrapper.Rollback(HostModule(), FakeNft(None), str(tmp_path), "t").arm(None, 7)
    assert (tmp_path / "t.rollback.nft").read_text() == "table inet t\ndelete table inet t\n"


def test_confirm_saves_for_boot_what_is_pending(tmp_path):
    (tmp_path / "t.pending").write_text(wrapper.fingerprint("live"))
    module = HostModule()
    with pytest.raises(Exited):
        wrapper.confirm(module, FakeNft("live"), "t", str(tmp_path / "t.nft"), str(tmp_path / "t.sha256"),
                        "desired", str(tmp_path))
    assert (tmp_path / "t.nft").read_text() == "desired"
    assert (tmp_path / "t.sha256").read_text() == wrapper.fingerprint("live")
    assert not (tmp_path / "t.pending").exists()
    assert ["/usr/bin/systemctl", "stop", "nft-firewall-rollback-t.timer"] in module.commands


def test_confirm_of_what_is_saved_already_changes_nothing(tmp_path):
    (tmp_path / "t.nft").write_text("desired")
    (tmp_path / "t.sha256").write_text(wrapper.fingerprint("live"))
    with pytest.raises(Exited):
        wrapper.confirm(HostModule(), FakeNft("live"), "t", str(tmp_path / "t.nft"), str(tmp_path / "t.sha256"),
                        "desired", str(tmp_path))


def test_confirm_after_the_rollback_cleaned_up_fails(tmp_path):
    """The rollback removed the pending mark; what is saved (the previous ruleset) says it was undone."""
    (tmp_path / "t.nft").write_text("previous")
    (tmp_path / "t.sha256").write_text(wrapper.fingerprint("old"))
    with pytest.raises(Failed, match="too late"):
        wrapper.confirm(HostModule(), FakeNft("old"), "t", str(tmp_path / "t.nft"), str(tmp_path / "t.sha256"),
                        "desired", str(tmp_path))
    assert (tmp_path / "t.nft").read_text() == "previous"


def test_confirm_after_the_rollback_fired_fails_and_saves_nothing(tmp_path):
    (tmp_path / "t.pending").write_text(wrapper.fingerprint("new"))
    with pytest.raises(Failed, match="too late"):
        wrapper.confirm(HostModule(), FakeNft("old"), "t", str(tmp_path / "t.nft"), str(tmp_path / "t.sha256"),
                        "desired", str(tmp_path))
    assert not (tmp_path / "t.nft").exists()


def test_live_bans_are_read_back_as_nft_script_items():
    """What nft -j lists (an address, a banned prefix) back as elements an apply re-adds."""
    listing = {"nftables": [{"set": {"elem": [
        {"elem": {"val": "2001:db8::7", "timeout": 600, "expires": 550}},
        {"elem": {"val": {"prefix": {"addr": "2001:db8:1:2::", "len": 64}}, "timeout": 600, "expires": 590}},
        "192.0.2.9"]}}]}

    class Lister(HostModule):
        def run_command(self, args):
            return 0, json.dumps(listing), ""

    assert wrapper.Nft(Lister()).elements("t", "ban_v6") == [
        "2001:db8::7 timeout 600s expires 550s", "2001:db8:1:2::/64 timeout 600s expires 590s", "192.0.2.9"]

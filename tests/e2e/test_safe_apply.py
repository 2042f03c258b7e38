"""Safe apply over real SSH (the lockout scenario): a ruleset that would shut Ansible out is refused; one
applied anyway is undone by the host itself when Ansible cannot come back through it, or when Ansible
dies before confirming; a good one is confirmed and kept; one the kernel refuses leaves the old table."""

import json
import os
import signal
import subprocess
import time

import pytest
from conftest import ROOT, ansible_playbook, hostvars, inventory_path, nft_table, restart

PLAYBOOK = ROOT / "playbooks" / "ftp_servers.yml"
ROLLBACK = 4   # seconds: host_firewall_rollback_timeout for these checks

pytestmark = [pytest.mark.scenario("lockout"),
              pytest.mark.skipif(not os.environ.get("MOLECULE_INVENTORY_FILE"),
                                 reason="shown on the Molecule hosts, which these checks lock out for seconds")]


@pytest.fixture
def over_ssh(server):
    if not hostvars(server.name).get("ansible_connection", "ssh").endswith("ssh"):
        pytest.skip("Ansible reaches this host without SSH: there is no connection to lock out")


def controller(server):
    """The address the server sees Ansible's SSH connections come from."""
    return server.node.check_output("echo $SSH_CONNECTION").split()[0]


def converge(server, extra, background=False):
    args = ["ansible-playbook", "-i", inventory_path(), str(PLAYBOOK),
            "--limit", server.name, "-e", json.dumps(extra)]
    if background:
        return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    return ansible_playbook(PLAYBOOK, "--limit", server.name, "-e", json.dumps(extra))


def apply_directly(server, tmp_path, rollback, stall=False, fault="", output=subprocess.DEVNULL, sources=None,
                   pipelining=True, connection=()):
    """The module alone, as a play of its own: the live policy plus 8443, under rollback (started in the
    background); with stall, without its action plugin and then waiting instead of confirming, like a
    controller that hangs between apply and confirm; fault is what the module appends after nft -c
    passed (its NFT_FIREWALL_FAULT hook); sources replace the controller as the management sources;
    connection is extra arguments for ansible-playbook (another connection plugin)."""
    services = [{"name": "ftp", "ports": [21]}, {"name": "mssql", "ports": [1433]}, {"name": "web", "ports": [8443]},
                {"name": "ftp-passive", "ports": [f"{server.passive_range[0]}-{server.passive_range[-1]}"]}]
    play = [{"hosts": server.name, "gather_facts": False, "tasks": [
        {"nft_firewall": {"table": server.settings["host_firewall_table"], "services": services,
                          "management": {"sources": sources or [controller(server)]}, "rollback_timeout": rollback,
                          "lockout_check": not sources},
         "environment": {"NFT_FIREWALL_FAULT": fault}},
    ] + ([{"ansible.builtin.pause": {"seconds": 120}}] if stall else [])}]
    (tmp_path / "direct.yml").write_text(json.dumps(play))
    return subprocess.Popen(["ansible-playbook", "-i", inventory_path(), str(tmp_path / "direct.yml"), *connection],
                            cwd=ROOT,
                            env=dict(module_env(plugin=not stall), ANSIBLE_PIPELINING=str(pipelining)), stdout=output, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def module_env(plugin=True):
    """The module from the clone, for plays that call it directly (not through the role); without its
    action plugin, the module alone (no confirmation)."""
    return dict(os.environ, ANSIBLE_LIBRARY=str(ROOT / "library"),
                ANSIBLE_MODULE_UTILS=str(ROOT / "plugins" / "module_utils"),
                ANSIBLE_ACTION_PLUGINS=str(ROOT / "plugins" / "action") if plugin else "/nonexistent")


def saved(server):
    """The ruleset the role keeps for boot."""
    return server.node.check_output(f"cat /etc/nftables.d/{server.settings['host_firewall_table']}.nft")


def wait_for(server, predicate, seconds):
    """Poll the live table (over the SSH connection testinfra keeps); the moment predicate holds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate(nft_table(server)):
            return time.monotonic()
        time.sleep(0.2)
    raise AssertionError(f"the table did not change as expected within {seconds} s:\n{nft_table(server)}")


LOCKED_OUT = {"host_firewall_management_sources": ["192.0.2.1"], "host_firewall_rollback_timeout": ROLLBACK}
EXTRA_PORT = {"host_firewall_services": [{"name": "web", "proto": "tcp", "ports": ["8443"]}],
              "host_firewall_rollback_timeout": ROLLBACK}


def test_ruleset_that_shuts_out_the_controller_is_refused(server, over_ssh):
    before = nft_table(server)
    rc, output = converge(server, LOCKED_OUT)
    assert rc == 2, output[-3000:]
    assert f"would drop a new connection from {controller(server)} to port 22" in " ".join(output.split())
    assert nft_table(server) == before


def test_host_rolls_back_when_ansible_cannot_come_back(server, over_ssh):
    before = nft_table(server)
    run = converge(server, dict(LOCKED_OUT, host_firewall_lockout_check=False), background=True)
    try:
        applied = wait_for(server, lambda t: "192.0.2.1" in t, 60)
        restored = wait_for(server, lambda t: t == before, ROLLBACK + 10)
    finally:
        rc = run.wait(timeout=120)
    assert rc != 0
    assert restored - applied <= ROLLBACK + 2, restored - applied
    rc, output = converge(server, {})   # the next play gets in
    assert rc == 0, output[-3000:]
    assert nft_table(server) == before


def test_host_rolls_back_when_ansible_dies_before_confirming(server, over_ssh, tmp_path):
    before = nft_table(server)
    run = apply_directly(server, tmp_path, ROLLBACK, stall=True)
    try:
        applied = wait_for(server, lambda t: "dport 8443" in t, 60)
        os.killpg(run.pid, signal.SIGKILL)   # the controller is gone between apply and confirm
        restored = wait_for(server, lambda t: t == before, ROLLBACK + 10)
    finally:
        run.wait(timeout=30)
    assert restored - applied <= ROLLBACK + 2, restored - applied
    assert "8443" not in saved(server)
    # Nothing of the undone apply is left: the rollback script and the pending mark went with it.
    table = server.settings["host_firewall_table"]
    left = server.node.run(f"sleep 1; "
                           f"ls /var/lib/nft_firewall/{table}.rollback.nft /var/lib/nft_firewall/{table}.pending")
    assert left.rc != 0 and not left.stdout, left.stdout


def paramiko(server):
    """ansible-playbook's arguments for reaching the server with paramiko instead of OpenSSH: its own
    connection cache and its own reset, which the action plugin's return goes through."""
    key = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "id_ed25519")
    return ("-c", "paramiko", "-e", json.dumps({"ansible_host": server.address, "ansible_user": "root",
                                                 "ansible_ssh_private_key_file": key}))


CONNECTIONS = ["ssh", "paramiko"]


@pytest.mark.parametrize("connection", CONNECTIONS)
def test_module_alone_rolls_back_when_the_controller_cannot_return(server, over_ssh, tmp_path, connection):
    """One task of the module in a play of its own (its action plugin): the new table shuts the
    controller out, the task fails saying so, and the host restores the previous table by itself.
    Without pipelining (ansible-core's default), so that remote temporary files exist to be cleaned;
    over OpenSSH and over paramiko."""
    before = nft_table(server)
    run = apply_directly(server, tmp_path, ROLLBACK, output=subprocess.PIPE, sources=["192.0.2.1"], pipelining=False,
                         connection=paramiko(server) if connection == "paramiko" else ())
    try:
        applied = wait_for(server, lambda t: "192.0.2.1" in t, 60)
        restored = wait_for(server, lambda t: t == before, ROLLBACK + 10)
    finally:
        output = " ".join(run.communicate(timeout=120)[0].split())
    assert run.returncode == 2, output[-3000:]
    # Refused outright, or (a SYN retried after the rollback) let in to find the previous table back.
    assert ("Ansible could not come back through the new firewall" in output
            or "too late: the rollback timer has already restored" in output), output[-3000:]
    assert "unreachable=0" in output, output[-3000:]   # a failed task, not an unreachable host
    assert "rolled_back: true" in output or '"rolled_back": true' in output, output[-3000:]
    assert restored - applied <= ROLLBACK + 2, restored - applied
    assert "8443" not in saved(server)


def test_confirmed_change_is_kept_and_saved_for_boot(server, over_ssh):
    rc, output = converge(server, EXTRA_PORT)
    try:
        assert rc == 0, output[-3000:]
        time.sleep(ROLLBACK + 1)
        assert "tcp dport 8443 accept" in nft_table(server)
        assert "tcp dport 8443 accept" in saved(server)
        restart(server)   # and loaded at boot
        assert "tcp dport 8443 accept" in nft_table(server)
    finally:
        rc, output = converge(server, {})
        assert rc == 0, output[-3000:]


def test_module_alone_confirms_over_paramiko(server, over_ssh, tmp_path):
    """A good change through paramiko: the action plugin's new connection gets in and confirms, and the
    change outlives its rollback timer."""
    run = apply_directly(server, tmp_path, ROLLBACK, output=subprocess.PIPE, connection=paramiko(server))
    try:
        output = " ".join(run.communicate(timeout=120)[0].split())
        assert run.returncode == 0, output[-3000:]
        assert "changed=1" in output and "failed=0" in output, output[-3000:]   # applied, then confirmed
        time.sleep(ROLLBACK + 1)
        assert "tcp dport 8443 accept" in nft_table(server)
    finally:
        rc, output = converge(server, {})
        assert rc == 0, output[-3000:]


def test_transfer_in_flight_survives_a_ruleset_change(server, client, over_ssh, tmp_path):
    """A 200 MB passive download, slowed to last a while, with the ruleset replaced under it."""
    big = f"{server.settings['ftp_server_home_base']}/{client.user}/upload/e2e-big.bin"
    digest = server.node.check_output(f"head -c 200M /dev/urandom | tee {big} | sha256sum").split()[0]
    unit, copy = f"e2e-big-{server.name}", f"/tmp/e2e-big-{server.name}.bin"
    client.node.run(f"rm -f {copy}; systemd-run --unit={unit} curl -sS --limit-rate 8M "
                    f"--user {client.user}:{client.password} -o {copy} ftp://{server.address}/upload/e2e-big.bin")
    client.node.run(f"timeout 20 sh -c 'until [ -s {copy} ]; do sleep 0.1; done'")
    run = apply_directly(server, tmp_path, 0)
    try:
        wait_for(server, lambda t: "dport 8443" in t, 60)
        assert client.node.run(f"systemctl is-active {unit}").rc == 0, "not in flight"
        assert run.wait(timeout=120) == 0
        client.node.run(f"timeout 60 sh -c 'while systemctl is-active -q {unit}; do sleep 0.5; done'")
        assert client.node.check_output(f"sha256sum {copy}").split()[0] == digest
    finally:
        client.node.run(f"systemctl stop {unit}; systemctl reset-failed {unit}; rm -f {copy}")
        server.node.run(f"rm -f {big}")
        rc, output = converge(server, {})
        assert rc == 0, output[-3000:]


def module_play(server, tmp_path, name, args):
    """The module alone on a table of its own, as a play started in the background."""
    play = [{"hosts": server.name, "gather_facts": False, "tasks": [{"nft_firewall": args}]}]
    (tmp_path / f"{name}.yml").write_text(json.dumps(play))
    return subprocess.Popen(["ansible-playbook", "-i", inventory_path(), str(tmp_path / f"{name}.yml")], cwd=ROOT,
                            env=module_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_concurrent_applies_to_one_table_serialise(server, tmp_path, over_ssh):
    """Two runs on one table at once: the second waits for the first (a lock), both succeed, and the
    table and the saved ruleset are one whole rendering, never a mix."""
    base = {"table": "race", "management": {"sources": [controller(server)]}}
    try:
        runs = [module_play(server, tmp_path, f"run{port}", dict(base, services=[{"name": "web", "ports": [port]}]))
                for port in (2121, 2122)]
        outputs = [run.communicate(timeout=180)[0] for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
        live = server.node.check_output("nft list table inet race")
        kept = [port for port in ("2121", "2122") if f"dport {port} accept" in live]
        assert len(kept) == 1, live
        assert f"dport {kept[0]} accept" in server.node.check_output("cat /etc/nftables.d/race.nft")
    finally:
        cleanup = module_play(server, tmp_path, "absent", dict(base, state="absent"))
        assert cleanup.wait(timeout=120) == 0


def test_ruleset_the_kernel_refuses_leaves_the_previous_table(server, over_ssh, tmp_path):
    """nft -c passed, then the kernel refuses the transaction (a helper object of a type it has no helper
    for, appended through the module's test hook): the live table, its handles, the saved ruleset and the
    fingerprint stay as they were, the timer is disarmed, and the play shows nft's own message."""
    table = server.settings["host_firewall_table"]
    state = f"nft -a list table inet {table}; cat /etc/nftables.d/{table}.nft /var/lib/nft_firewall/{table}.sha256"
    before = server.node.check_output(state)
    fault = f'add ct helper inet {table} fault {{ type "nft-fault" protocol tcp; }}'
    run = apply_directly(server, tmp_path, ROLLBACK, fault=fault, output=subprocess.PIPE)
    output = " ".join(run.communicate(timeout=120)[0].split())
    assert run.returncode == 2, output[-3000:]
    assert "nft could not apply the ruleset; the previous one stays in force" in output, output[-3000:]
    assert "Could not process rule: No such file or directory" in output, output[-3000:]
    time.sleep(ROLLBACK + 1)   # a timer left armed would fire by now
    assert server.node.check_output(state) == before
    assert server.node.run(f"systemctl is-active nft-firewall-rollback-{table}.timer").rc != 0

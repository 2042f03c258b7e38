"""Another firewall manager on the server is refused before anything changes, naming it and the way
out: ufw as someone who read the article would set it (deny incoming, 21 and 22 allowed), whose chain
drops what this table opens (1433 here; the passive range where it is open), and iptables-legacy rules
that drop by default. Once turned off, the converge goes through."""

import json

import pytest
from conftest import ROOT, ansible_playbook, nft_table, recap

pytestmark = [pytest.mark.scenario("helper"), pytest.mark.first_server]

PLAYBOOK = ROOT / "playbooks" / "ftp_servers.yml"
APT = "flock /tmp/e2e-apt.lock apt-get install -y -q -o DPkg::Lock::Timeout=120 --no-install-recommends"


def refused(server, *args):
    """Converge (or check) the server; assert it failed before any change, and return what it said."""
    table = nft_table(server)
    config = server.node.file(server.settings["__ftp_server_config"]).content_string
    rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name, *args)
    assert rc == 2, output[-3000:]
    assert "TASK [host_firewall : Refuse another firewall manager on the host]" in output, output[-3000:]
    assert "TASK [host_firewall : Apply" not in output, output[-3000:]
    assert recap(output)[server.name]["changed"] == 0, output[-3000:]
    assert nft_table(server) == table
    assert server.node.file(server.settings["__ftp_server_config"]).content_string == config
    return " ".join(output.split())


def converged(server):
    rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name)
    assert rc == 0, output[-3000:]
    return recap(output)[server.name]


# And on Ubuntu 24.04 (egress), where ufw comes installed and off: it coexists (the converge passed beside
# it), and enabled it is refused the same way.
@pytest.mark.scenario("helper", "egress")
def test_enabled_ufw_is_refused_by_name_until_disabled(server, client):
    result = server.node.run(f"{APT} ufw > /dev/null && ufw default deny incoming && ufw allow 21/tcp && "
                             f"ufw allow 22/tcp && ufw --force enable")
    assert result.rc == 0, result.stderr
    try:
        # What it does: a port this table opens to everyone is dropped by ufw's chain.
        assert client.tool("probe", server.address, 1433)["1433"][0] == "filtered"
        for args in ((), ("--check",)):
            text = refused(server, *args)
            assert "another firewall manager would drop what this policy admits: ufw (table ip filter: its input chain " \
                   "INPUT drops what it does not accept)" in text, text[-3000:]
            assert "`ufw disable`" in text and "host_firewall_other_firewalls" in text, text[-3000:]
    finally:
        server.node.run("ufw --force disable")
    # Its chains stay behind, accepting: nothing to refuse, nothing to change.
    assert converged(server)["changed"] == 0
    assert client.tool("probe", server.address, 1433)["1433"][0] == "closed"   # let through; nothing listens
    # Enabled in its settings but not loaded: the next boot would load it.
    server.node.run_expect([0], "sed -i 's/^ENABLED=no/ENABLED=yes/' /etc/ufw/ufw.conf")
    try:
        assert "ufw (/etc/ufw/ufw.conf: ENABLED=yes, loaded at boot)" in refused(server)
    finally:
        server.node.run_expect([0], "sed -i 's/^ENABLED=yes/ENABLED=no/' /etc/ufw/ufw.conf")


def test_legacy_rules_that_drop_by_default_are_refused(server):
    server.node.run_expect([0], f"{APT} iptables > /dev/null")
    rules = ["-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT", "-A INPUT -p tcp --dport 22 -j ACCEPT"]
    for rule in rules:
        server.node.run_expect([0], f"iptables-legacy {rule}")
    server.node.run_expect([0], "iptables-legacy -P INPUT DROP")
    try:
        text = refused(server)
        assert "iptables-legacy rules (IPv4 iptables-legacy filter table: its INPUT chain drops what it does " \
               "not accept)" in text, text[-3000:]
    finally:
        server.node.run("iptables-legacy -P INPUT ACCEPT; iptables-legacy -F INPUT")
    assert converged(server)["changed"] == 0


def test_ignore_applies_beside_another_manager(server):
    """host_firewall_other_firewalls: ignore is the user's word that the other manager admits it all:
    here a chain that drops by policy but accepts everything first, which the check refuses (it reads
    policies and rules that drop, not what a rule before them accepts)."""
    server.node.run_expect([0], "iptables-legacy -A INPUT -j ACCEPT && iptables-legacy -P INPUT DROP")
    try:
        assert "iptables-legacy rules" in refused(server)
        rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name,
                                      "-e", json.dumps({"host_firewall_other_firewalls": "ignore"}))
        assert rc == 0, output[-3000:]
    finally:
        server.node.run("iptables-legacy -P INPUT ACCEPT; iptables-legacy -F INPUT")

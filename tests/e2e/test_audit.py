"""playbooks/audit.yml sees what the policy says, and says so loudly when the network shows more."""

import json

import pytest
from conftest import ROOT, ansible_playbook, nft_table

AUDIT = ROOT / "playbooks" / "audit.yml"
PLAYBOOK = ROOT / "playbooks" / "ftp_servers.yml"
# Not in the nat scenario (it runs only its own checks): behind port forwarding a server's public address
# exposes only what the router forwards.


def limit(server, client):
    return ["--limit", f"{server.name},{client.name}"]


def test_audit_passes_and_prints_the_table(server, client):
    rc, output = ansible_playbook(AUDIT, *limit(server, client))
    assert rc == 0, output[-3000:]
    for row in ("21  reachable  open      ok", "1433  reachable  closed    ok", "3306  filtered   filtered  ok",
                "passive transfer: ok"):
        assert row in output, output[-3000:]
    active = "active transfer: ok" if server.settings["ftp_server_active_enabled"] else "active transfer: off"
    assert active in output
    if server.address6 and client.address6:   # and over IPv6, the same policy
        assert f"{server.address6} seen from {client.address6}" in output, output[-3000:]
        assert output.count(active) == 2 and output.count("passive transfer: ok") == 2, output[-3000:]


@pytest.fixture
def rogue_rule(server):
    """A hole punched by hand into the live firewall: 3306 accepted before the policy drops it."""
    table = server.settings["host_firewall_table"]
    server.node.run_expect([0], f"nft insert rule inet {table} input tcp dport 3306 accept comment rogue")
    yield
    listing = server.node.check_output(f"nft -a list chain inet {table} input")
    handles = [line.rsplit(" ", 1)[1] for line in listing.splitlines() if 'comment "rogue"' in line]
    for handle in handles:
        server.node.run_expect([0], f"nft delete rule inet {table} input handle {handle}")


def test_audit_fails_on_a_port_the_policy_does_not_open(server, client, rogue_rule):
    rc, output = ansible_playbook(AUDIT, *limit(server, client))
    assert rc == 2, output[-3000:]
    assert "3306  filtered   closed    MISMATCH" in output, output[-3000:]
    assert "differs from the policy" in output


@pytest.mark.scenario("egress")   # once per run: two converges
@pytest.mark.first_server
def test_sql_server_sources_narrow_1433_and_the_audit_follows(server, client):
    """sql_server_sources closes 1433 to every other address; the audit then expects it filtered."""
    narrowed = ["-e", json.dumps({"sql_server_sources": ["192.0.2.0/24"]})]
    try:
        rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name, *narrowed)
        assert rc == 0, output[-3000:]
        assert 'ip saddr 192.0.2.0/24 tcp dport 1433 accept' in nft_table(server)
        rc, output = ansible_playbook(AUDIT, *limit(server, client), *narrowed)
        assert rc == 0, output[-3000:]
        assert "1433  filtered   filtered  ok" in output, output[-3000:]
    finally:
        rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name)
        assert rc == 0, output[-3000:]
    assert "tcp dport 1433 accept" in nft_table(server)

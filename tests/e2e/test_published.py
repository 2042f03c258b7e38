"""Ports a container engine publishes obey the policy. Debian's own podman runs inside the server (as
SQL Server on Debian runs, in a container) and publishes a stand-in listener on 1433 and an unrelated
one on 6379, IPv4 and IPv6, by DNAT to its network: such connections are forwarded, never input. On
Debian 12 netavark writes iptables-nft rules (as Docker does), on Debian 13 a table of its own. From the
client and from the controller, the outside sees the policy: 6379 filtered, 1433 as its sources say,
FTP unchanged; after a converge with the engine running, after the engine rebuilds its rules or
re-creates the container with a new address, and after a reboot."""

import json
import shlex
import socket
import subprocess

import pytest
from conftest import FAMILIES, ROOT, address_in, ansible_playbook, nft_table, recap, restart

# Debian 12's netavark on iptables-nft (helper), Debian 13's on a table of its own (pyftpdlib's second
# server, the one that announces an address): one server each, as every check here costs converges.
pytestmark = [pytest.mark.scenario("helper", "pyftpdlib"),
              pytest.mark.when(lambda s: s["ftp_server_backend"] == "vsftpd" or bool(s["ftp_server_pasv_address"]))]

PLAYBOOK = ROOT / "playbooks" / "ftp_servers.yml"
AUDIT = ROOT / "playbooks" / "audit.yml"

# Debian's podman with crun and no cgroups (cgroup v1 mounts are read-only in the test container) on
# vfs (overlay is refused over the container's own overlay root); a busybox image made here, no registry.
ENGINE = r"""
set -e
export DEBIAN_FRONTEND=noninteractive
flock /tmp/e2e-apt.lock apt-get install -y -q -o DPkg::Lock::Timeout=120 --no-install-recommends \
  podman crun netavark aardvark-dns iptables > /dev/null
printf '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n' \
  > /etc/containers/storage.conf
printf '[containers]\ncgroups = "disabled"\n[engine]\nruntime = "crun"\n' > /etc/containers/containers.conf
rm -rf /var/tmp/standin && mkdir -p /var/tmp/standin/rootfs/bin && cd /var/tmp/standin
apt-get download -q busybox-static > /dev/null 2>&1
dpkg -x busybox-static_*.deb pkg
cp pkg/bin/busybox rootfs/bin/ 2> /dev/null || cp pkg/usr/bin/busybox rootfs/bin/
for applet in sh nc echo; do ln -s busybox rootfs/bin/$applet; done
tar -C rootfs -c . | podman import -q --change 'CMD ["/bin/sh"]' - localhost/standin > /dev/null
podman network exists inner || podman network create --ipv6 --subnet $NET4.0/24 --subnet $NET6::/64 inner > /dev/null
systemctl enable -q podman-restart.service
"""

# A stand-in SQL Server on 1433 and something no service names on 6379, each saying who it is.
RUN = ("run -d --name standin --restart always --stop-signal KILL --network inner --ip {ip} --ip6 {ip6} "
       "-p 1433:1433 -p 6379:6379 localhost/standin "
       "sh -c 'nc -ll -p 1433 -e echo mssql & nc -ll -p 6379 -e echo redis & wait'")

ENV = "PODMAN_IGNORE_CGROUPSV1_WARNING=1"


def podman(server, command):
    return server.node.check_output(f"{ENV} podman {command}")


def started(server, host):
    """(Re)create the stand-in as host number `host` of the engine's network and wait until it answers;
    its IPv4 address."""
    net4, net6 = inner(server)
    server.node.run(f"{ENV} podman rm -f standin")
    podman(server, RUN.format(ip=f"{net4}.{host}", ip6=f"{net6}::{host}"))
    wait_running(server, f"{net4}.{host}")
    return f"{net4}.{host}"


def wait_running(server, ip):
    """Until the stand-in answers on its own address, from the server (no DNAT on that path)."""
    server.node.run_expect([0], f"timeout 60 sh -c 'until nc -w 1 {ip} 1433 < /dev/null | grep -q mssql; "
                                f"do sleep 0.5; done'")


def inner(server):
    """The engine's network on this server, its own per server (the controller routes to it below):
    10.<third>.<fourth>.0/24 and fd90:<third>:<fourth>::/64 of the server's address."""
    third, fourth = server.address.split(".")[2:]
    return f"10.{third}.{fourth}", f"fd90:{third}:{fourth}"


@pytest.fixture(scope="module")
def engine(server):
    net4, net6 = inner(server)
    result = server.node.run(f"NET4={net4} NET6={net6}\n{ENGINE}")
    assert result.rc == 0, result.stderr
    started(server, 5)
    yield
    server.node.run(f"{ENV} podman rm -f standin; systemctl disable -q podman-restart.service")


def answer(node, address, port):
    """What a TCP client on `node` gets from address:port: the first line the listener says, 'refused',
    or 'timeout' (filtered). A bare connect is not enough: podman also holds the published ports on the
    host, so a connect can complete with nothing behind it."""
    script = (f"import socket\ntry:\n s = socket.create_connection(({address!r}, {port}), 3)\n"
              f" s.settimeout(3)\n print(s.recv(64).decode().strip() or 'empty')\n"
              f"except ConnectionRefusedError:\n print('refused')\nexcept OSError:\n print('timeout')\n")
    return node.check_output(f"python3 -c {shlex.quote(script)}")


def answer_here(address, port):
    """The same, from the controller (a management source)."""
    try:
        with socket.create_connection((address, port), timeout=3) as s:
            s.settimeout(3)
            return s.recv(64).decode().strip() or "empty"
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return "timeout"


def seen(server, client, family):
    """Each port as the client and the controller see it, in one family."""
    host = address_in(server, client, family)
    return {"client": {port: answer(client.node, host, port) for port in (1433, 6379)},
            "controller": {port: answer_here(host, port) for port in (1433, 6379)}}


def families(server, client):
    return FAMILIES if server.address6 and client.address6 else ["ipv4"]


OPEN = {"client": {1433: "mssql", 6379: "timeout"}, "controller": {1433: "mssql", 6379: "timeout"}}
SOURCES_ONLY = {"client": {1433: "timeout", 6379: "timeout"}, "controller": {1433: "mssql", 6379: "timeout"}}


def converge(server, *args):
    """The firewall's part of the playbook (sql_server_sources and the table are all it changes here)."""
    rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name, "--tags", "host_firewall", *args)
    assert rc == 0, output[-3000:]
    return recap(output)[server.name]


def narrowed(server):
    """sql_server_sources naming the controller's addresses on the scenario network only."""
    return ["-e", json.dumps({"sql_server_sources": server.settings["host_firewall_management_sources"]})]


@pytest.mark.parametrize("family", FAMILIES)
def test_published_port_no_service_names_is_filtered(server, client, engine, family):
    assert seen(server, client, family) == OPEN


def test_engine_publishes_by_dnat_around_the_input_chain(server, engine):
    """The path the policy must cover: the engine's own DNAT, in either of its drivers' tables."""
    ruleset = server.node.check_output("nft list ruleset")
    first = f"{inner(server)[0]}.5:1433"
    assert f"dnat ip to {first}" in ruleset or f"dnat to {first}" in ruleset, ruleset[-3000:]
    assert "ct direction original ct status dnat jump published" in nft_table(server)


@pytest.fixture
def routed(server):
    """The controller routes the engine's network via the server, as a neighbour on its segment could:
    the container's own address, around its published ports. [(address, family)] of the stand-in."""
    net4, net6 = inner(server)
    routes = [(f"{net4}.0/24", server.address, f"{net4}.5")]
    if server.address6:
        routes.append((f"{net6}::/64", server.address6, f"{net6}::5"))
    for prefix, via, dummy in routes:
        subprocess.run(["ip", "route", "replace", prefix, "via", via], check=True)
    started(server, 5)
    yield [address for dummy, dummy, address in routes]
    for prefix, via, dummy in routes:
        subprocess.run(["ip", "route", "del", prefix, "via", via], check=False)


def test_a_hole_in_the_forward_path_is_caught_by_the_audit_and_closed_by_a_converge(server, client, engine, routed):
    """Without the forward chain (the module before this check existed, or a hand edit), 6379 answers
    everyone, and so does the container's own address to whoever routes to it: the audit names the
    published port, and the next converge puts the chain back. (The route here is the controller's.)"""
    table = server.settings["host_firewall_table"]
    assert {address: answer_here(address, 6379) for address in routed} == dict.fromkeys(routed, "timeout")
    server.node.run_expect([0], f"nft flush chain inet {table} forward")
    try:
        assert answer(client.node, server.address, 6379) == "redis"
        assert {address: answer_here(address, 6379) for address in routed} == dict.fromkeys(routed, "redis")
        rc, output = ansible_playbook(AUDIT, "--limit", f"{server.name},{client.name}")
        assert rc == 2, output[-3000:]
        assert "6379  filtered   open      MISMATCH" in output, output[-3000:]
    finally:
        counts = converge(server)
    assert counts["changed"] >= 1
    assert answer(client.node, server.address, 6379) == "timeout"
    assert {address: answer_here(address, 1433) for address in routed} == dict.fromkeys(routed, "timeout")
    rc, output = ansible_playbook(AUDIT, "--limit", f"{server.name},{client.name}")
    assert rc == 0, output[-3000:]


def test_sql_server_sources_hold_for_a_published_port(server, client, engine):
    """Converged with the engine running, and sql_server_sources naming the controller only: the
    client (not a source) is dropped on 1433 in both families, the controller gets SQL Server."""
    try:
        converge(server, *narrowed(server))
        for family in families(server, client):
            assert seen(server, client, family) == SOURCES_ONLY, family
        # Nothing left to change with the engine's rules beside ours.
        counts = converge(server, *narrowed(server))
        assert counts["changed"] == 0, counts
    finally:
        converge(server)
    assert seen(server, client, "ipv4") == OPEN


def test_policy_holds_when_the_engine_rebuilds_its_rules(server, client, engine):
    podman(server, "network reload --all")
    assert seen(server, client, "ipv4") == OPEN
    net4 = inner(server)[0]
    started(server, 9)   # re-created with new addresses
    ruleset = server.node.check_output("nft list ruleset")
    assert f"{net4}.9" in ruleset and f"{net4}.5" not in ruleset
    for family in families(server, client):
        assert seen(server, client, family) == OPEN, family


def test_ftp_moves_files_beside_the_engine(server, client, engine):
    """curl up and down in passive and in active mode, with the engine's rules in the same hooks."""
    host = server.address
    script = """
        set -e
        head -c 300000 /dev/urandom > /tmp/published.bin
        for mode in "" "--ftp-port -"; do
          curl -sS --fail --max-time 60 $mode --user "$U:$P" -T /tmp/published.bin "ftp://$H/upload/published.bin"
          curl -sS --fail --max-time 60 $mode --user "$U:$P" -o /tmp/published.back "ftp://$H/upload/published.bin"
          cmp /tmp/published.bin /tmp/published.back
        done
    """
    result = client.run(script, U=client.user, P=client.password, H=host)
    assert result.rc == 0, result.stderr


@pytest.mark.reboot
def test_policy_holds_after_a_reboot(server, client, engine):
    """nftables loads the table at boot before the network; podman-restart brings the stand-in back."""
    address = podman(server, "inspect standin --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}'")
    restart(server)
    wait_running(server, address)
    for family in families(server, client):
        assert seen(server, client, family) == OPEN, family

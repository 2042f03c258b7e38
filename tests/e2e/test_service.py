"""The daemon on the server: enabled, running, listening, configured by us."""

import json
import re
import shlex
import time

import pytest
from conftest import FAMILIES, ROOT, address_in, ansible_playbook


def test_service_enabled_and_running(server):
    service = server.node.service(server.settings["__ftp_server_service"])
    assert service.is_enabled
    assert service.is_running


def test_listens_on_control_port(server):
    port = server.settings["ftp_server_control_port"]
    assert server.node.socket(f"tcp://0.0.0.0:{port}").is_listening or server.node.socket(
        f"tcp://:::{port}"
    ).is_listening


def test_config_carries_managed_header(server):
    config = server.node.file(server.settings["__ftp_server_config"])
    assert config.exists
    assert "Ansible managed" in config.content_string


def test_listeners_per_family(server):
    """Both families reach the daemon. pyftpdlib: one dual-stack socket. vsftpd: systemd's socket, with
    IPv4 and IPv6 apart (on a dual-stack socket vsftpd would announce 0,0,0,0 for an address it is
    told to announce), whether an address is announced or not; no daemon of its own listens."""
    port = server.settings["ftp_server_control_port"]
    listening = server.node.check_output(f"ss -Hltnp 'sport = :{port}' | awk '{{print $4, $6}}'").splitlines()
    addresses = sorted(line.split()[0] for line in listening)
    if server.settings["ftp_server_backend"] == "vsftpd":
        # A host without IPv6 at all gets the IPv4 listener alone.
        has_ipv6 = server.node.run("ip -6 -o addr show | grep -qv ' lo '").rc == 0
        assert addresses == sorted([f"0.0.0.0:{port}"] + ([f"[::]:{port}"] if has_ipv6 else [])), listening
        assert all('"systemd"' in line for line in listening), listening
        for legacy in server.settings["__ftp_server_legacy_units"]:
            assert not server.node.service(legacy).is_running, legacy
    else:
        assert addresses in ([f"*:{port}"], [f"[::]:{port}"]), listening


def test_pasv_announces_the_configured_address(server, client):
    """Over IPv4 a PASV reply names ftp_server_pasv_address where one is set, else the address reached.
    (Here the announced address is the server's own; the nat scenario announces a router's.)"""
    seen = client.tool("pasv", server.address, "--user", client.user, "--password", client.password)
    announced = server.settings.get("ftp_server_pasv_address") or server.address
    assert seen["reply"].startswith("227") and f"({announced.replace('.', ',')}," in seen["reply"], seen


@pytest.mark.scenario("egress", "pyftpdlib")   # the Ubuntu servers of the general scenarios
@pytest.mark.when(lambda s: not s["ftp_server_pasv_address"], ansible_distribution="Ubuntu")
def test_pasv_address_given_as_a_name(server, client):
    """ftp_server_pasv_address as a host name (with ftp_server_pasv_address_resolve), resolved by the
    daemon through the host's resolver (on Ubuntu the name service of systemd-resolved's host, files
    first): a name the host knows for an address not its own, which PASV then announces."""
    public, name = "192.0.2.77", "ftp-public.example"
    server.node.check_output(f"echo '{public} {name}' >> /etc/hosts")
    playbook = ROOT / "playbooks" / "ftp_servers.yml"
    try:
        rc, output = ansible_playbook(playbook, "--limit", server.name, "--tags", "ftp_server", "-e", json.dumps(
            {"ftp_server_pasv_address": name, "ftp_server_pasv_address_resolve": True}))
        assert rc == 0, output[-3000:]
        seen = client.tool("pasv", server.address, "--user", client.user, "--password", client.password)
        assert seen["reply"].startswith("227") and f"({public.replace('.', ',')}," in seen["reply"], seen
    finally:
        server.node.run(f"sed -i '/ {name}$/d' /etc/hosts")
        rc, output = ansible_playbook(playbook, "--limit", server.name, "--tags", "ftp_server")
        assert rc == 0, output[-3000:]


# A control connection that logs in and then sits idle, as during a long transfer.
IDLE = """
import ftplib, sys, time
ftp = ftplib.FTP()
ftp.connect(sys.argv[1], int(sys.argv[2]), timeout=30)
ftp.login(sys.argv[3], sys.argv[4])
time.sleep(12)
ftp.quit()
"""


@pytest.mark.parametrize("family", FAMILIES)
def test_idle_control_connection_sends_keepalives(server, client, family):
    """The kernel keeps a keepalive timer on the session's control connection, due within
    ftp_server_keepalive seconds (vsftpd: its socket unit's KeepAlive*; pyftpdlib: its listener's)."""
    host = address_in(server, client, family)
    port = server.settings["ftp_server_control_port"]
    args = " ".join(shlex.quote(str(a)) for a in (host, port, client.user, client.password))
    client.node.run_expect([0], f"(python3 -c {shlex.quote(IDLE)} {args} > /dev/null 2>&1 &)")
    peer = client.address if family == "ipv4" else client.address6
    timers = []
    for _ in range(40):   # a reply not yet acknowledged shows the retransmission timer instead, briefly
        lines = server.node.check_output(f"ss -tnoH state established '( sport = :{port} )'").splitlines()
        timers = [line for line in lines if peer in line]
        if timers and all("timer:(keepalive," in line for line in timers):
            break
        time.sleep(0.25)
    seconds = server.settings["ftp_server_keepalive"]
    assert timers and all("timer:(keepalive," in line for line in timers), timers
    due = re.search(r"timer:\(keepalive,([^,]+),", timers[0]).group(1)   # 43sec, 1min2sec, 950ms
    left = sum(int(n) * {"min": 60, "sec": 1, "ms": 0.001}[unit] for n, unit in re.findall(r"(\d+)(min|sec|ms)", due))
    assert 0 < left <= seconds, (timers, seconds)


# A profile's first line in /etc/apparmor.d names what it confines: "profile NAME [/path] [flags] {" or
# "/path [flags] {" (a profile named without a path attaches to no program).
HEADER = r"^\s*(profile\s+\S+|/\S+).*\{\s*$"


@pytest.mark.when(ansible_distribution="Ubuntu")
def test_apparmor_confines_nothing_the_roles_run(server):
    """Ubuntu enforces AppArmor. No profile on the host (Ubuntu's own and those the roles' packages
    bring) attaches to a program the roles run: the daemon, the unit's Python, nft, fail2ban, certbot.
    So none needs a rule of its own; a profile added later would show here. (The containers here run on
    a kernel without AppArmor: what is proven is the profiles, not their enforcement.)"""
    programs = ["vsftpd", "python3", "/opt/ftp-server", "nft", "fail2ban", "certbot"]
    found = server.node.check_output(
        f"find /etc/apparmor.d -maxdepth 1 -type f -exec grep -hE {shlex.quote(HEADER)} {{}} + || true")
    attached = [line for line in found.splitlines() if any(p in line for p in programs)]
    assert found, "no profile found: the check would prove nothing"
    assert attached == [], attached


# Ubuntu 22.04 and Debian 13 (pyftpdlib), Ubuntu 22.04 and 24.04 (tls): hosts whose firewall lets apt
# out (egress's filter would stop the refresh itself).
@pytest.mark.scenario("pyftpdlib", "tls")
def test_empty_apt_cache_is_refreshed(server):
    """A host whose apt cache holds no package lists (an image built without them, or after the lists
    were removed): the converge refreshes it, whatever the directory's age, and installs what is
    missing, instead of "No package matching"."""
    # A package of the role's that no login needs (the later checks log in): the log's rotation, or
    # what Ansible's pip module needs.
    package = "logrotate" if server.settings["ftp_server_xferlog"] else "python3-packaging"
    server.node.check_output(f"dpkg -r {package} > /dev/null && rm -rf /var/lib/apt/lists/* "
                             "&& mkdir -p /var/lib/apt/lists/partial")
    try:
        rc, output = ansible_playbook(ROOT / "playbooks" / "ftp_servers.yml", "--limit", server.name,
                                      "--tags", "ftp_server_install")
        assert rc == 0, output[-3000:]
        assert server.node.package(package).is_installed
        assert server.node.run("ls /var/lib/apt/lists | grep -q _Packages").rc == 0
    finally:   # whatever failed above, the host as it was for the checks after this one
        server.node.run(f"dpkg -s {package} > /dev/null 2>&1 || "
                        f"{{ apt-get update -q > /dev/null; apt-get install -y -q {package} > /dev/null; }}")

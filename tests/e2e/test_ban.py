"""Guessing and flooding meet the firewall. After host_firewall_ban_max_retry failed logins fail2ban puts
the address into the table's ban set: every packet from it is dropped (filtered, not refused) while another
client still logs in and management SSH stays open; a converge that changes the ruleset keeps the ban; the
ban lifts after its time. A per-source rate on new control connections drops a flood at the firewall."""

import contextlib
import ftplib
import ipaddress
import json
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import ROOT, ansible_playbook, empty_sets, recap

PLAYBOOK = ROOT / "playbooks" / "ftp_servers.yml"

def state(address, port=21, source=None):
    """The control port as the controller (the guesser here) sees it, from source if given."""
    try:
        with socket.create_connection((address, port), timeout=1, source_address=(source, 0) if source else None):
            return "open"
    except (ConnectionRefusedError, ConnectionResetError):
        return "closed"
    except (TimeoutError, socket.timeout):
        return "filtered"


# A bot's names: one account with a wrong password, the rest no account at all. Each must count as a
# failure (vsftpd's user list once refused unknown names before PAM, which fail2ban reads, so such a bot
# was never banned), and USER must not tell them apart (331 for every name).
NAMES = ["tester", "admin", "root", "oracle", "test", "ftpuser", "backup", "www-data"]


def guess(address, name="tester", source=None):
    """One connection, one wrong password, hung up at once (before the ban drops the goodbye, which would
    leave the session to count against the per-address cap); the server's answer to USER, then to PASS.
    source: the address to connect from."""
    ftp = ftplib.FTP(timeout=20, source_address=(source, 0) if source else None)
    user = "---"   # no answer to USER yet
    try:
        ftp.connect(address)
        user = ftp.sendcmd(f"USER {name}")[:3]
        ftp.sendcmd("PASS wrong-guess")
        return user + " 230"
    except ftplib.Error as err:
        return user + " " + str(err)[:3]
        return "230"
    except ftplib.Error as err:
        return str(err)[:3]
    except OSError as err:
        return type(err).__name__
    finally:
        ftp.close()


def wait_for(condition, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def banned(server, address):
    table, name = server.settings["host_firewall_table"], server.settings["host_firewall_ban_set"]
    return address in server.node.check_output(f"nft list set inet {table} {name}_v4")


def ban_guesser(server, client):
    """Fail host_firewall_ban_max_retry logins from the controller, all but the first under names that are
    no account; it must end up dropped at the firewall, in the table's ban set, while the client logs in.
    The controller's address."""
    guesser = server.node.check_output("ip -4 route show default | awk '{print $3}'")   # the controller
    tries = server.settings["host_firewall_ban_max_retry"]
    assert tries <= len(NAMES)
    with ThreadPoolExecutor(tries) as pool:
        answers = list(pool.map(lambda name: guess(server.address, name), NAMES[:tries]))
    assert answers == ["331 530"] * tries, answers
    assert wait_for(lambda: state(server.address) == "filtered", 20), "not banned after the failures"
    assert banned(server, guesser)
    # Others are not affected, and neither is management SSH (these checks run over it).
    assert client.session(server.address)["login"].startswith("230")
    return guesser


@pytest.mark.scenario("pyftpdlib")
@pytest.mark.when(host_firewall_ban=True)
def test_guesser_is_banned_at_the_firewall(server, client):
    """Both backends' failures are recognised (the pattern each hands over): pyftpdlib's here, vsftpd's by
    the whole flow below (default); then the ban is lifted by hand. Not where the whole flow runs: the
    guesser's sessions outlive a ban (its goodbye is dropped with the rest), and vsftpd would count them
    against the next guesses' per-address cap."""
    guesser = ban_guesser(server, client)
    server.node.check_output(f"fail2ban-client unban {guesser}")
    assert wait_for(lambda: state(server.address) == "open", 10), "still dropped after the unban"


@contextlib.contextmanager
def own_addresses(server, count):
    """count new IPv6 addresses of the controller's, in the /64 it shares with the server (as a host that
    rotates addresses within its prefix has them); removed after."""
    route = subprocess.run(["ip", "-6", "route", "get", server.address6], capture_output=True, text=True,
                           check=True).stdout.split()
    device, mine = route[route.index("dev") + 1], ipaddress.ip_address(route[route.index("src") + 1])
    added = [str(mine + 0x10000 + i) for i in range(count)]
    for address in added:
        subprocess.run(["ip", "-6", "addr", "add", f"{address}/64", "dev", device, "nodad"], check=True)
    try:
        yield added
    finally:
        for address in added:
            subprocess.run(["ip", "-6", "addr", "del", f"{address}/64", "dev", device], check=False)


@pytest.mark.scenario("default", "pyftpdlib")
@pytest.mark.first_server
@pytest.mark.when(host_firewall_ban=True, ansible_default_ipv6=True)
def test_guesser_rotating_within_its_prefix_is_banned_as_one(server, client):
    """A guesser that tries each password from a new address of its /64 (fail2ban#3960): every failure
    counts against the prefix (ftp_server_ipv6_prefix), and the whole /64 is banned at the firewall;
    a further address of it is dropped. Then the ban is lifted by hand."""
    tries = server.settings["host_firewall_ban_max_retry"]
    prefix = ipaddress.ip_network(f"{server.address6}/{server.settings['ftp_server_ipv6_prefix']}", strict=False)
    table, name = server.settings["host_firewall_table"], server.settings["host_firewall_ban_set"]
    with own_addresses(server, tries + 1) as addresses:
        try:
            with ThreadPoolExecutor(tries) as pool:
                answers = list(pool.map(lambda i: guess(server.address6, NAMES[i], addresses[i]), range(tries)))
            assert answers == ["331 530"] * tries, answers
            fresh = addresses[-1]   # never used to guess
            assert wait_for(lambda: state(server.address6, source=fresh) == "filtered", 20), "the prefix is not banned"
            assert str(prefix) in server.node.check_output(f"nft list set inet {table} {name}_v6")
            assert state(server.address) == "open"   # IPv4 from the same host: another source
        finally:
            server.node.run("fail2ban-client unban --all")
            forget_prefixes(server)
        assert wait_for(lambda: state(server.address6, source=addresses[-1]) == "open", 10), "still dropped"


@pytest.mark.scenario("default")   # the firewall's rule, the same whatever the backend
@pytest.mark.first_server
@pytest.mark.when(ansible_default_ipv6=True)
def test_cap_holds_for_the_whole_prefix(server, client):
    """Connections at once from many addresses of one /64 meet one cap at the firewall, twice the
    daemon's per-address cap, whatever the addresses: one more is reset."""
    cap = server.settings["ftp_server_max_per_ip"] * 2
    forget_prefixes(server)   # connections of earlier checks that the kernel still tracks
    held, seen = [], []
    with own_addresses(server, cap + 1) as addresses:
        try:
            for source in addresses:
                sock = socket.socket(socket.AF_INET6)
                sock.settimeout(5)
                sock.bind((source, 0))
                held.append(sock)
                try:
                    sock.connect((server.address6, 21))
                    seen.append(sock.recv(100).decode()[:3])
                except OSError as err:
                    seen.append(type(err).__name__)
        finally:
            for sock in held:
                sock.close()
            forget_prefixes(server)
    assert seen == ["220"] * cap + ["ConnectionRefusedError"], seen   # a reset, not a silence to retry into


def forget_prefixes(server):
    """Empty the firewall's IPv6 meters and caps: the checks' addresses share a /64 with the client."""
    empty_sets(server, "limit_ftp_v6", "cap_ftp_v6")


@pytest.mark.scenario("default")   # once per run: two converges and the ban's time
@pytest.mark.when(host_firewall_ban=True)
def test_ban_survives_a_converge_and_lifts_on_time(server, client):
    """A converge of the firewall that changes its table keeps the bans (--tags host_firewall: the ban
    set is the firewall's, and the whole play takes longer than the scenario's 40 s ban)."""
    since = time.monotonic()
    guesser = ban_guesser(server, client)
    rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name, "--tags", "host_firewall",
                                  "-e", json.dumps({"host_firewall_log_drops": False}))
    try:
        assert rc == 0 and recap(output)[server.name]["changed"] >= 1, output[-3000:]
        assert banned(server, guesser) and state(server.address) == "filtered", "the converge lifted the ban"
        ban_time = server.settings["host_firewall_ban_time"]
        assert wait_for(lambda: state(server.address) == "open", ban_time + 15), "the ban never lifted"
        assert time.monotonic() - since > ban_time - 10
    finally:
        rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name, "--tags", "host_firewall")
        assert rc == 0, output[-3000:]


@pytest.mark.scenario("helper")   # once per run: two converges
@pytest.mark.first_server
def test_flood_of_new_control_connections_is_dropped(server, client):
    try:
        rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name,
                                      "-e", json.dumps({"ftp_server_connection_rate": "6/minute burst 3 packets"}))
        assert rc == 0, output[-3000:]
        seen = client.tool("probe", server.address, 21, "--repeat", 8)["21"]
        assert seen[:3] == ["open"] * 3 and "filtered" in seen[3:], seen
    finally:
        rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name)
        assert rc == 0, output[-3000:]
    assert client.tool("probe", server.address, 21, "--repeat", 8)["21"] == ["open"] * 8

"""The article's second mistake, a closed passive range, cannot happen here: the firewall opens the
range the FTP role uses, so moving the range in the inventory moves the opening with it in one run."""

import json
import re

import pytest
from conftest import ROOT, Server, ansible_playbook, group, nft_table, node, role_settings

PLAYBOOK = ROOT / "playbooks" / "ftp_servers.yml"
MOVED = {"ftp_server_pasv_min_port": 50400, "ftp_server_pasv_max_port": 50449}   # covers the cap, 50

# Passive upload and download in cleartext; prints the dialogue.
LFTP = """
    lftp -c "debug 5; set cmd:fail-exit yes; set xfer:clobber on; set net:max-retries 1; set net:timeout 10;
      set ftp:ssl-allow no; set ftp:passive-mode on;
      open -u $FTP_USER,$FTP_PASSWORD $HOST; cd upload; put /etc/services -o moved.txt; get moved.txt -o /tmp/moved.txt"
    cmp /etc/services /tmp/moved.txt
"""


def reach(client, address, port):
    """open (something answered), closed (refused) or filtered (no answer in 1 s), seen from the client."""
    result = client.run('timeout 1 bash -c "exec 3<>/dev/tcp/$A/$P"', A=address, P=port)
    if result.rc == 0:
        return "open"
    return "filtered" if result.rc == 124 else "closed"


def opened(server):
    """Whether the firewall opens the range as such (in helper mode data gets in as RELATED only)."""
    return not server.settings["host_firewall_helper_mode"]


# A server the client reaches directly (not behind port forwarding); its other checks wait meanwhile.
DIRECT = next((h for h in group("ftp_servers") if not role_settings(h)["ftp_server_pasv_address"]), None)
# Also in the nat scenario (on nat-public), which runs only the checks that name it.
pytestmark = [pytest.mark.scenario("nat", general=True), pytest.mark.xdist_group(DIRECT)]


@pytest.fixture(scope="module")
def server():
    return Server(DIRECT, node(DIRECT), role_settings(DIRECT))


# A download under way while the range moves (12 MB at 400 KB/s: longer than the converge), run as a
# unit of its own on the client; it writes curl's exit code when done.
LONG = """
    head -c 12M /dev/urandom > /tmp/e2e-long.bin
    curl -sS --fail --user "$FTP_USER:$FTP_PASSWORD" -T /tmp/e2e-long.bin "ftp://$HOST/upload/e2e-long.bin" || exit 1
    rm -f /tmp/e2e-long.rc /tmp/e2e-long.back
    systemd-run --unit=e2e-long-download sh -c 'curl -sS --fail --limit-rate 400k --user "$0" -o /tmp/e2e-long.back \
      "ftp://$1/upload/e2e-long.bin"; echo $? > /tmp/e2e-long.rc' "$FTP_USER:$FTP_PASSWORD" "$HOST"
"""


def main_pid(server):
    return server.node.check_output("systemctl show -p MainPID --value ftp-server")


@pytest.fixture
def moved(server, client):
    # pyftpdlib reloads changed settings (no restart): a download under way goes on and arrives whole.
    # (vsftpd reads them per session: nothing to prove there.)
    reloads = server.settings["ftp_server_backend"] == "pyftpdlib"
    if reloads:
        result = client.run(LONG, FTP_USER=client.user, FTP_PASSWORD=client.password, HOST=server.address)
        assert result.rc == 0, result.stderr
        before = main_pid(server)
    rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name, "-e", json.dumps(MOVED))
    assert rc == 0, output[-3000:]
    if reloads:
        assert main_pid(server) == before
        client.run("timeout 120 sh -c 'until [ -s /tmp/e2e-long.rc ]; do sleep 0.5; done'")
        assert client.node.check_output("cat /tmp/e2e-long.rc") == "0"
        assert client.run("cmp /tmp/e2e-long.bin /tmp/e2e-long.back").rc == 0
    yield
    rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name)
    assert rc == 0, output[-3000:]
    low, high = server.settings["ftp_server_pasv_min_port"], server.settings["ftp_server_pasv_max_port"]
    assert (f"tcp dport {low}-{high} accept" in nft_table(server)) == opened(server)


def test_moving_the_passive_range_moves_the_opening(server, client, moved):
    old = f"{server.settings['ftp_server_pasv_min_port']}-{server.settings['ftp_server_pasv_max_port']}"
    table = nft_table(server)
    assert ("tcp dport 50400-50449 accept" in table) == opened(server), table
    assert f"tcp dport {old} accept" not in table, table

    result = client.run(LFTP, FTP_USER=client.user, FTP_PASSWORD=client.password, HOST=server.address)
    assert result.rc == 0, result.stderr[-2000:]
    ports = [int(a) * 256 + int(b) for a, b in re.findall(r"227 Entering Passive Mode \(\d+,\d+,\d+,\d+,(\d+),(\d+)\)",
                                                           result.stderr, re.I)]
    assert ports and all(50400 <= p <= 50449 for p in ports), ports

    # Nothing listens on either range now: the new one answers (refused), the old one is dropped. In
    # helper mode both are dropped: only announced data connections get in.
    assert reach(client, server.address, 50405) == ("closed" if opened(server) else "filtered")
    assert reach(client, server.address, server.settings["ftp_server_pasv_min_port"]) == "filtered"

"""ftp_server_backend is one variable, and changing it on a converged host converges cleanly both ways:
the other daemon stops and stays off, the account and its uploads stay (owned as before: both write as
one account), the firewall follows, files move after each switch, and a second run changes nothing."""

import json

import pytest
from conftest import ROOT, ansible_playbook, recap

PLAYBOOK = ROOT / "playbooks" / "ftp_servers.yml"
OTHER = {"vsftpd": "pyftpdlib", "pyftpdlib": "vsftpd"}
SERVICE = {"vsftpd": "vsftpd.socket", "pyftpdlib": "ftp-server"}


def converge(server, backend):
    rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name, "-e", json.dumps({"ftp_server_backend": backend}))
    assert rc == 0, output[-3000:]
    return recap(output)[server.name]


# Once per run (four converges), on the default scenario's first server. Not under an egress filter: it
# keeps the package mirrors out of reach unless host_firewall_egress names them, so the other backend's
# packages could not be installed.
@pytest.mark.scenario("default")
@pytest.mark.first_server
@pytest.mark.when(host_firewall_egress_filter=False)
def test_switching_backends_and_back(server, client):
    first = server.settings["ftp_server_backend"]
    trail = [first, OTHER[first], first]
    previous = None
    back = False   # on the first backend again, converged twice: nothing left to restore
    try:
        for step, backend in enumerate(trail):
            if step:
                converge(server, backend)
                assert converge(server, backend)["changed"] == 0, f"second run on {backend} changed something"
            # Both daemons write as the files' account: a switch re-owns nothing.
            uploads = f"{server.settings['ftp_server_home_base']}/{client.user}/upload"
            strays = server.node.check_output(f"find {uploads} ! -user {server.settings['__ftp_server_files_user']}")
            assert strays == "", f"files not owned by the files' account after switching to {backend}: {strays}"
            running = {b: server.node.service(SERVICE[b]) for b in (backend, OTHER[backend])}
            assert running[backend].is_running and running[backend].is_enabled
            other = running[OTHER[backend]]
            assert not other.is_running and not other.is_enabled
            name = f"switch-{step}-{backend}.txt"
            # A new upload; the one from before the switch read, overwritten, appended to, renamed and
            # deleted by its owner, whichever backend wrote it.
            change = [f"RETR {previous}", f"STOR {previous}", f"APPE {previous}", f"RNFR {previous}",
                      f"RNTO {previous}.moved", f"DELE {previous}.moved"] if previous else []
            steps = client.session(server.address, "CWD upload", f"STOR {name}", *change)["steps"]
            assert [s["reply"][:1] for s in steps[:2]] == ["2", "2"], steps
            if previous:
                assert steps[2]["data"] == "e2e", steps   # what the STOR before the switch sent
                assert [s["reply"][:3] for s in steps[3:]] == ["226", "226", "350", "250", "250"], steps
            previous = name
            # The firewall still opens what the new backend exports (in helper mode: the range stays shut).
            table = server.node.check_output(f"nft list table inet {server.settings['host_firewall_table']}")
            opening = f"tcp dport {server.passive_range[0]}-{server.passive_range[-1]} accept"
            assert (opening in table) != server.settings["host_firewall_helper_mode"], table
        back = True
    finally:
        if not back:
            converge(server, first)


@pytest.mark.scenario("default")
@pytest.mark.first_server
@pytest.mark.when(ftp_server_backend="vsftpd", ftp_server_tls_implicit=False)
def test_implicit_ftps_on_and_off(server):
    """vsftpd's implicit FTPS socket comes with ftp_server_tls_implicit and goes with it (stopped and
    disabled); announcing an address changes no listener (both families, one socket unit)."""
    port = server.settings["ftp_server_control_port"]
    listeners = f"ss -Hltn 'sport = :{port}' | awk '{{print $4}}' | sort"
    before = server.node.check_output(listeners)
    on = {"ftp_server_pasv_address": server.address, "ftp_server_tls_implicit": True}
    try:
        # The FTP role alone (--tags ftp_server): what is shown is its sockets, not the firewall.
        rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name, "--tags", "ftp_server", "-e", json.dumps(on))
        assert rc == 0, output[-3000:]
        implicit = server.node.service("vsftpd-implicit.socket")
        assert implicit.is_running and implicit.is_enabled
        assert server.node.check_output(listeners) == before
    finally:
        rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name, "--tags", "ftp_server")
    assert rc == 0, output[-3000:]
    implicit = server.node.service("vsftpd-implicit.socket")
    assert not implicit.is_running and not implicit.is_enabled
    assert server.node.service("vsftpd.socket").is_running
    assert server.node.check_output(listeners) == before

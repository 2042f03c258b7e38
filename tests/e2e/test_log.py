"""Every upload and download lands in the transfer log, with user and size."""

import uuid

def transfer(server, client, name):
    """12345 bytes up, down and deleted again."""
    client.session(server.address, f"STOR upload/{name}", f"RETR upload/{name}", f"DELE upload/{name}", size=12345)


def test_transfers_are_logged_with_user_and_size(server, client):
    name = f"log-{uuid.uuid4().hex[:8]}.bin"
    transfer(server, client, name)
    log = server.node.file(server.settings["ftp_server_xferlog"]).content_string
    # xferlog: ... bytes path type action direction access user service auth auth-user completion
    entries = [line.split()[7:] for line in log.splitlines() if f"/upload/{name}" in line]
    directions = sorted(e[4] for e in entries)
    assert directions == ["i", "o"], log[-1000:]
    for entry in entries:
        assert entry[0] == "12345" and entry[6] == client.user and entry[-1] == "c", entry


def test_transfer_log_rotates_and_the_daemon_keeps_writing(server, client):
    """logrotate knows the transfer log (the role's rule), and after a forced rotation the next
    transfer's line lands in the new file."""
    path = server.settings["ftp_server_xferlog"]
    debug = server.node.run("logrotate --debug /etc/logrotate.conf")
    assert path in debug.stdout + debug.stderr, (debug.stdout + debug.stderr)[-2000:]
    transfer(server, client, f"log-{uuid.uuid4().hex[:8]}.bin")
    server.node.run_expect([0], f"logrotate -f /etc/logrotate.d/ftp-server && test -e {path}.1")
    name = f"log-{uuid.uuid4().hex[:8]}.bin"
    transfer(server, client, name)
    assert f"/upload/{name}" in server.node.file(path).content_string
    assert f"/upload/{name}" not in server.node.file(f"{path}.1").content_string


def restart_daemon(server):
    """pyftpdlib reads the zone at start: restart it, and return once it listens again."""
    port = server.settings["ftp_server_control_port"]
    server.node.run_expect([0], f"systemctl restart {server.settings['__ftp_server_service']} && "
                                f"timeout 30 sh -c 'until ss -Hltn \"sport = :{port}\" | grep -q .; do sleep 0.2; done'")


def test_times_are_utc_whatever_the_zone(server, client):
    """RFC 3659: MDTM (and MLSD's modify) in UTC. The host's zone set to Europe/Berlin for the check."""
    zone = server.node.run("readlink /etc/localtime").stdout.strip()
    server.node.run_expect([0], "ln -sf /usr/share/zoneinfo/Europe/Berlin /etc/localtime")
    try:
        if server.settings["ftp_server_backend"] == "pyftpdlib":
            restart_daemon(server)
        name = f"mdtm-{uuid.uuid4().hex[:8]}.txt"
        reply = client.session(server.address, f"STOR upload/{name}", f"MDTM upload/{name}", size=1)["steps"][1]["reply"]
        home = f"{server.settings['ftp_server_home_base']}/{client.user}/upload/{name}"
        utc = server.node.check_output(f"TZ=UTC date -r {home} +%Y%m%d%H%M%S")
        assert reply.startswith("213 ") and reply[4:18] == utc, (reply, utc)
        server.node.run(f"rm -f {home}")
    finally:
        server.node.run(f"ln -sf {zone or '/usr/share/zoneinfo/Etc/UTC'} /etc/localtime")
        if server.settings["ftp_server_backend"] == "pyftpdlib":
            restart_daemon(server)

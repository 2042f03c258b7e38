"""Attacks a careful FTP server refuses, tried from the client host."""

import time

import pytest
from conftest import FAMILIES, address_in, tool


def port_replies(client, host, target, port):
    """The replies to PORT and EPRT naming target:port (over IPv6 EPRT alone, RFC 2428)."""
    if ":" in target:
        commands = {"EPRT": f"EPRT |2|{target}|{port}|"}
    else:
        commands = {"PORT": f"PORT {target.replace('.', ',')},{port // 256},{port % 256}",
                    "EPRT": f"EPRT |1|{target}|{port}|"}
    steps = client.session(host, *commands.values())["steps"]
    return {name: step["reply"] for name, step in zip(commands, steps)}


def own(client, family):
    """The client's own address in the family, and a third host's: the network's gateway."""
    if family == "ipv4":
        return client.address, client.node.check_output("ip -4 route show default | awk '{print $3}'")
    return client.address6, client.node.check_output("ip -6 route show default | awk '{print $3}'")


@pytest.mark.parametrize("family", FAMILIES)
def test_bounce_to_a_third_host_is_refused(server, client, family):
    host = address_in(server, client, family)
    dummy, third = own(client, family)
    if not third:
        pytest.skip(f"the client has no {family} default route: no third host to name")
    replies = port_replies(client, host, third, 40000)
    assert all(r[0] == "5" for r in replies.values()), replies


@pytest.mark.parametrize("family", FAMILIES)
def test_port_to_a_privileged_port_is_refused(server, client, family):
    host = address_in(server, client, family)
    replies = port_replies(client, host, own(client, family)[0], 25)
    assert all(r[0] == "5" for r in replies.values()), replies


@pytest.mark.parametrize("family", FAMILIES)
def test_port_to_the_client_itself_is_not_refused(server, client, family):
    """The refusals above are about the target: the same commands naming the client itself pass the
    policy (200, or 425 from a server that connects at once and finds nothing listening)."""
    host = address_in(server, client, family)
    replies = port_replies(client, host, own(client, family)[0], 40000)
    assert all(r[:3] in ("200", "425") for r in replies.values()), replies


@pytest.mark.when(ftp_server_backend="pyftpdlib")
def test_used_up_passive_range_answers_425(server, client):
    """pyftpdlib alone would hand out a random port the firewall drops; ours says 425 instead."""
    size = len(server.passive_range)
    count = size + 2
    assert count <= server.settings["ftp_server_max_per_ip"], "the scenario's range must be small"
    replies = client.tool("hold", server.address, "--count", count, "--user", client.user, "--password",
                          client.password, "--pasv")["pasv"]
    passive = [r for r in replies if r.startswith("227")]
    refused = [r for r in replies if r.startswith("425")]
    assert len(passive) + len(refused) == count, replies
    assert len(refused) >= 2, replies
    for reply in passive:
        parts = reply.split("(")[1].split(")")[0].split(",")
        assert int(parts[4]) * 256 + int(parts[5]) in server.passive_range, reply


@pytest.mark.when(ftp_server_backend="pyftpdlib")
def test_killed_server_comes_back(server):
    unit = server.settings["__ftp_server_service"]
    before = server.node.check_output(f"systemctl show -p MainPID --value {unit}")
    server.node.run_expect([0], f"systemctl kill -s KILL {unit}")
    for _ in range(30):
        time.sleep(1)
        after = server.node.check_output(f"systemctl show -p MainPID --value {unit}")
        if after not in ("0", before) and server.node.service(unit).is_running:
            break
    assert after not in ("0", before)
    port = server.settings["ftp_server_control_port"]
    for _ in range(30):
        if server.node.socket(f"tcp://:::{port}").is_listening:
            break
        time.sleep(0.5)
    assert server.node.socket(f"tcp://:::{port}").is_listening


@pytest.mark.when(ftp_server_backend="pyftpdlib")
def test_config_check_refuses_a_broken_config_and_the_server_keeps_running(server):
    unit = server.settings["__ftp_server_service"]
    config = server.settings["__ftp_server_config"]
    python = "/opt/ftp-server/venv/bin/python /opt/ftp-server/server.py"
    before = server.node.check_output(f"systemctl show -p MainPID --value {unit}")
    server.node.run_expect([0], f"sed 's/\"passive_min_port\": [0-9]*/\"passive_min_port\": 20/' {config} > /tmp/bad.json")
    check = server.node.run(f"{python} --check --config /tmp/bad.json")
    assert check.rc == 1
    assert "must be ascending, above 1024" in check.stderr
    assert server.node.run(f"{python} --check --config {config}").rc == 0
    assert server.node.check_output(f"systemctl show -p MainPID --value {unit}") == before


def test_password_guessing_is_delayed_then_cut_off(server, client):
    attempts = server.settings["ftp_server_max_login_attempts"]
    delay = server.settings["ftp_server_login_failure_delay"]
    seen = client.tool("guess", server.address, "--user", client.user, "--attempts", attempts)
    assert all(d >= delay * 0.9 for d in seen["delays"]), seen
    assert seen["after"].startswith("closed"), seen


@pytest.mark.parametrize("family", FAMILIES)
def test_per_address_cap_refuses_one_more(server, client, family):
    host = address_in(server, client, family)
    limit = server.settings["ftp_server_max_per_ip"]
    seen = client.tool("hold", host, "--count", limit + 1)
    # pyftpdlib answers 421; vsftpd's socket (systemd's MaxConnectionsPerSource) closes the connection.
    refusal = "421" if server.settings["ftp_server_backend"] == "pyftpdlib" else "closed before the greeting"
    assert seen["welcomed"] == limit and (seen["refused"] or "").startswith(refusal), seen


# Garbage on the control connection: an over-long line and a flood of unknown commands before login,
# broken PORT/EPRT forms after it; then a fresh session must still be served.
BAD = ("EPRT |9|10.0.0.1|5000|", "EPRT |1|999.1.1.1|5000|", "EPRT |1|10.0.0.1|70000|", "EPRT garbage",
       "EPRT |2|::zz|5000|", "PORT 1,2,3", "PORT 300,1,1,1,1,1", "PORT a,b,c,d,e,f")


def test_malformed_commands_leave_the_server_serving(server, client):
    out = {"long": client.tool("raw", server.address, "USER " + "A" * 100000)["answer"],
           "flood": client.tool("raw", server.address, "XCMD{i} junk", "--repeat", 2000)["answer"],
           "bad": {step["command"]: step["reply"] for step in
                   client.session(server.address, *BAD, timeout=10)["steps"]}}
    fresh = client.session(server.address, "NLST")
    out.update(login=fresh["login"], listing=fresh["steps"][0]["data"])
    # Answered with errors (vsftpd 3.0.5 hangs up after ten: "500 Too many errors."), never served.
    flood = out["flood"].splitlines()
    assert flood and all(line[:1] == "5" for line in flood), out["flood"][:500]
    # The FTP conntrack helper (helper mode) drops a control packet carrying a PORT/EPRT it cannot
    # parse, so that session stalls; the server itself refuses each one.
    helper = server.settings["host_firewall_helper_mode"] or server.settings["host_firewall_conntrack_helpers"]
    allowed = ("4", "5", "c") if helper else ("4", "5")   # c: "closed: ..." (stuck, timed out)
    assert all(reply[:1] in allowed for reply in out["bad"].values()), out["bad"]
    assert out["login"].startswith("230") and "upload" in out["listing"], out


def test_a_burst_of_connections_leaves_the_port_open(server, client):
    """A burst the caps turn away must not take the service down: systemd's default trigger limit (200
    connections in 2 s) would put vsftpd's socket in a failed state and close the port to everyone."""
    port = server.settings["ftp_server_control_port"]
    # 300 connections opened as fast as the server itself can (loopback: past the firewall's per-address
    # rate), held, then dropped.
    burst = tool(server.node, "hold", "127.0.0.1", "--port", port, "--count", 300, "--bare")
    assert burst["connected"] >= 250, burst
    time.sleep(1)
    assert server.node.service(server.settings["__ftp_server_service"]).is_running
    assert client.session(server.address)["login"].startswith("230")

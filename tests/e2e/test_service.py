"""The daemon on the server: enabled, running, listening, configured by us."""


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

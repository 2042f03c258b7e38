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
    """Both families reach the daemon. One dual-stack socket, except vsftpd announcing an address:
    its main instance then listens on IPv4 alone (on a dual-stack socket it would announce 0,0,0,0) and
    a second instance, vsftpd-ipv6, on the host's IPv6 address."""
    port = server.settings["ftp_server_control_port"]
    listening = server.node.check_output(f"ss -Hltn 'sport = :{port}' | awk '{{print $4}}'").split()
    address6 = server.address6
    split = server.settings["ftp_server_backend"] == "vsftpd" and server.settings.get("ftp_server_pasv_address")
    if split and address6:
        assert sorted(listening) == sorted([f"0.0.0.0:{port}", f"[{address6}]:{port}"]), listening
        assert server.node.service("vsftpd-ipv6").is_running
    elif split:   # no IPv6 on this host: IPv4 alone
        assert listening == [f"0.0.0.0:{port}"], listening
    else:
        assert listening in ([f"*:{port}"], [f"[::]:{port}"]), listening
        assert not server.node.service("vsftpd-ipv6").is_running


def test_pasv_announces_the_configured_address(server, client):
    """Over IPv4 a PASV reply names ftp_server_pasv_address where one is set, else the address reached.
    (Here the announced address is the server's own; the nat scenario announces a router's.)"""
    reply = client.python(PASV, server.address, client.user, client.password)
    announced = server.settings.get("ftp_server_pasv_address") or server.address
    assert reply.startswith("227") and f"({announced.replace('.', ',')}," in reply, reply


PASV = """
import ftplib, json, sys
ftp = ftplib.FTP(sys.argv[1], timeout=20)
ftp.login(sys.argv[2], sys.argv[3])
print(json.dumps(ftp.sendcmd("PASV")))
ftp.quit()
"""

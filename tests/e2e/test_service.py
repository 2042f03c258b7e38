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

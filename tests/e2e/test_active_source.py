"""In active mode the server connects back to the client from the port the role exports."""

import pytest
from conftest import FAMILIES, address_in

@pytest.mark.parametrize("family", FAMILIES)
def test_data_comes_from_exported_port(server, client, family):
    """Over IPv6 ftplib sends EPRT, over IPv4 PORT; the server's source port is the same promise."""
    expected = server.settings["__ftp_server_active_source_port"]
    peers = client.session(address_in(server, client, family), "NLST", active=True)["peers"]
    if expected is None:
        # No fixed port exported (pyftpdlib): the data comes from an ephemeral, unprivileged port.
        assert len(peers) == 1 and peers[0] >= 1024
    else:
        assert peers == [expected]

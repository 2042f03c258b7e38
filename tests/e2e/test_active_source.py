"""In active mode the server connects back to the client from the port the role exports."""

import pytest
from conftest import FAMILIES, address_in

# ftplib in active mode, recording the address the server's data connection came from.
ACTIVE_LIST = """
import ftplib, json, sys
host, user, password = sys.argv[1:4]
peers = []
class Probe(ftplib.FTP):
    def ntransfercmd(self, cmd, rest=None):
        conn, size = super().ntransfercmd(cmd, rest)
        peers.append(conn.getpeername()[1])
        return conn, size
ftp = Probe(host, timeout=20)
ftp.login(user, password)
ftp.set_pasv(False)
ftp.nlst()
ftp.quit()
print(json.dumps(peers))
"""


@pytest.mark.parametrize("family", FAMILIES)
def test_data_comes_from_exported_port(server, client, family):
    """Over IPv6 ftplib sends EPRT, over IPv4 PORT; the server's source port is the same promise."""
    expected = server.settings["__ftp_server_active_source_port"]
    peers = client.python(ACTIVE_LIST, address_in(server, client, family), client.user, client.password)
    if expected is None:
        # No fixed port exported (pyftpdlib): the data comes from an ephemeral, unprivileged port.
        assert len(peers) == 1 and peers[0] >= 1024
    else:
        assert peers == [expected]

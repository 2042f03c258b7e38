"""Every upload and download lands in the transfer log, with user and size."""

import uuid

TRANSFER = """
import ftplib, io, sys
host, user, password, name = sys.argv[1:5]
ftp = ftplib.FTP(host, timeout=20)
ftp.login(user, password)
ftp.storbinary("STOR upload/" + name, io.BytesIO(b"x" * 12345))
ftp.retrbinary("RETR upload/" + name, lambda b: None)
ftp.delete("upload/" + name)
ftp.quit()
print("[]")
"""


def test_transfers_are_logged_with_user_and_size(server, client):
    name = f"log-{uuid.uuid4().hex[:8]}.bin"
    client.python(TRANSFER, server.address, client.user, client.password, name)
    log = server.node.file(server.settings["ftp_server_xferlog"]).content_string
    # xferlog: ... bytes path type action direction access user service auth auth-user completion
    entries = [line.split()[7:] for line in log.splitlines() if f"/upload/{name}" in line]
    directions = sorted(e[4] for e in entries)
    assert directions == ["i", "o"], log[-1000:]
    for entry in entries:
        assert entry[0] == "12345" and entry[6] == client.user and entry[-1] == "c", entry

"""Files as users have them: transfers resumed where they broke off, names in any script, and a disk
that fills up under an upload."""

import uuid

import pytest
from conftest import random_file

# A name with a space, one with an apostrophe, accents, CJK letters: byte for byte through each client.
NAMES = ["with space.txt", "it's here.txt", "café naïve.txt", "文件名 テスト.txt"]

# curl: half a file up, then `-C -` sends the rest (SIZE, then APPE); a first part down, then `-C -`
# fetches the rest (REST). lftp: the same with `put -c` and `get -c`.
RESUME = """
    set -e
    head -c 700000 $SAMPLE > $BACK.half
    url="ftp://$HOST/upload/$NAME"
    curl -sS --fail --user "$FTP_USER:$FTP_PASSWORD" -T $BACK.half "$url"
    curl -sS --fail --user "$FTP_USER:$FTP_PASSWORD" -C - -T $SAMPLE "$url"
    cp $BACK.half $BACK.curl
    curl -sS --fail --user "$FTP_USER:$FTP_PASSWORD" -C - -o $BACK.curl "$url"
    cp $BACK.half $BACK.lftp
    lftp -c "set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 20; set ftp:ssl-allow no;
      open -u $FTP_USER,$FTP_PASSWORD $HOST; cd upload; put $BACK.half -o l-$NAME; put -c $SAMPLE -o l-$NAME;
      get -c l-$NAME -o $BACK.lftp; rm $NAME l-$NAME"
    cmp $SAMPLE $BACK.curl && cmp $SAMPLE $BACK.lftp
"""


def upload_dir(server, client):
    return f"{server.settings['ftp_server_home_base']}/{client.user}/upload"


def test_transfers_resume_where_they_broke_off(server, client):
    sample = random_file(client, f"/tmp/e2e-resume-{server.name}.bin", "2M")
    result = client.run(RESUME, HOST=server.address, FTP_USER=client.user, FTP_PASSWORD=client.password,
                        SAMPLE=sample.path, NAME=f"resume-{uuid.uuid4().hex[:6]}.bin", BACK=f"/tmp/e2e-resume-{server.name}")
    assert result.rc == 0, (result.stdout + result.stderr)[-2000:]


@pytest.mark.parametrize("tool", ["lftp", "ftplib"])
def test_names_in_any_script_round_trip(server, client, tool):
    """Each name stored as its UTF-8 bytes on the server's disk, listed back as it was sent, its
    content intact."""
    prefix = f"{tool}-"
    if tool == "lftp":
        puts = "\n".join(f'put /etc/hostname -o "{prefix}{name}"' for name in NAMES)
        script = ("set cmd:fail-exit yes; set net:max-retries 1; set ftp:ssl-allow no; set file:charset utf-8; "
                  "set ftp:charset utf-8\nopen -u $FTP_USER,$FTP_PASSWORD $HOST\ncd upload\n" + puts + "\ncls -1\n")
        result = client.run("cat > /tmp/e2e-names.lftp <<EOF\n" + script + "EOF\nlftp -f /tmp/e2e-names.lftp",
                            HOST=server.address, FTP_USER=client.user, FTP_PASSWORD=client.password)
        assert result.rc == 0, result.stderr[-2000:]
        listed = result.stdout.splitlines()
    else:
        seen = client.session(server.address, "CWD upload", *(f"STOR {prefix}{name}" for name in NAMES), "NLST")
        assert all(step["reply"][:1] == "2" for step in seen["steps"]), seen
        listed = seen["steps"][-1]["data"].splitlines()
    try:
        assert set(prefix + name for name in NAMES) <= set(listed), listed
        on_disk = server.node.check_output(f"ls -1 {upload_dir(server, client)}").splitlines()
        assert set(prefix + name for name in NAMES) <= set(on_disk), on_disk
        back = client.session(server.address, "CWD upload", *(f"RETR {prefix}{name}" for name in NAMES))
        assert all(step["reply"].startswith("226") and step["data"] for step in back["steps"][1:]), back
    finally:
        client.session(server.address, "CWD upload", *(f"DELE {prefix}{name}" for name in NAMES))


@pytest.fixture
def small_disk(server, client):
    """A 1 MB file system mounted in the upload directory, writable as the upload directory is."""
    path = f"{upload_dir(server, client)}/e2e-full"
    server.node.run_expect([0], f"mkdir -p {path} && mount -t tmpfs -o size=1m tmpfs {path} && "
                                f"chown --reference={upload_dir(server, client)} {path} && "
                                f"chmod --reference={upload_dir(server, client)} {path}")
    yield "upload/e2e-full"
    server.node.run(f"umount {path}; rmdir {path}")


def test_a_full_disk_fails_the_upload_and_the_server_serves_on(server, client, small_disk):
    seen = client.session(server.address, f"STOR {small_disk}/big.bin", size=3_000_000, timeout=30)
    assert seen["steps"][0]["reply"][:1] in "45", seen   # an error, not a success with a short file
    again = client.session(server.address, f"DELE {small_disk}/big.bin", "NLST upload")
    assert again["login"].startswith("230") and again["steps"][1]["reply"].startswith("226"), again

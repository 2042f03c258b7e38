"""The client matrix: every command-line FTP client Debian packages moves a random file up and down, in
passive and in active mode where the client can, over IPv4 and (where client and server have it) IPv6,
in cleartext (lftp would otherwise try AUTH TLS where the server offers it; test_tls.py covers FTPS).
Over IPv6 the clients must speak EPSV and EPRT (RFC 2428). lftp, curl and ftplib move 20 MB, the others
2 MB; every copy is compared by checksum."""

import re
import time
import uuid

import pytest
from conftest import FAMILIES, address_in, random_file, uploads_of

# Each tool uploads $SAMPLE as $NAME into upload/ of $HOST ($SERVER: as a URL names it, IPv6 in
# brackets), downloads it back to $BACK, and shows the protocol dialogue on stderr. $ACTIVE is "on" for
# active mode.
SCRIPTS = {
    "lftp": """
        if [ "$ACTIVE" = on ]; then passive=off; else passive=on; fi
        lftp -c "debug 5; set cmd:fail-exit yes; set xfer:clobber on; set net:max-retries 1;
          set net:timeout 20; set ftp:passive-mode $passive; set ftp:ssl-allow no;
          open -u $FTP_USER,$FTP_PASSWORD ftp://$SERVER; cd upload;
          put $SAMPLE -o $NAME; get $NAME -o $BACK"
    """,
    "curl": """
        if [ "$ACTIVE" = on ]; then mode="--ftp-port -"; else mode=""; fi
        curl -sS -v --fail --max-time 60 $mode --user "$FTP_USER:$FTP_PASSWORD" \\
          -T $SAMPLE "ftp://$SERVER/upload/$NAME"
        curl -sS -v --fail --max-time 60 $mode --user "$FTP_USER:$FTP_PASSWORD" \\
          -o $BACK "ftp://$SERVER/upload/$NAME"
    """,
    # Python's ftplib, through the project's client (ftp_client.py run), which the test puts there
    # first; ftplib picks EPSV/EPRT by itself on an IPv6 connection, PASV/PORT on IPv4.
    "ftplib": """
        if [ "$ACTIVE" = on ]; then mode=--active; else mode=""; fi
        $TOOL run "$HOST" --user "$FTP_USER" --password "$FTP_PASSWORD" $mode --debug --upload $SAMPLE \\
          --download $BACK -c "CWD upload" -c "STOR $NAME" -c "RETR $NAME" > /dev/null
    """,
    # wget cannot upload: curl puts the file there.
    "wget": """
        curl -sS --fail --max-time 60 --user "$FTP_USER:$FTP_PASSWORD" -T $SAMPLE "ftp://$SERVER/upload/$NAME" || exit 1
        if [ "$ACTIVE" = on ]; then mode=--no-passive-ftp; else mode=""; fi
        wget -d --tries=1 --timeout=30 $mode --user="$FTP_USER" --password="$FTP_PASSWORD" -O $BACK \
          "ftp://$SERVER/upload/$NAME" -o $BACK.log
        rc=$?; cat $BACK.log >&2; exit $rc
    """,
    "ncftp": """
        if [ "$ACTIVE" = on ]; then mode=-E; else mode=-F; fi
        ncftpput -d $BACK.log -t 30 $mode -u "$FTP_USER" -p "$FTP_PASSWORD" -c $HOST upload/$NAME < $SAMPLE &&
          ncftpget -d $BACK.log -t 30 $mode -u "$FTP_USER" -p "$FTP_PASSWORD" -c $HOST upload/$NAME > $BACK
        rc=$?; cat $BACK.log >&2; exit $rc
    """,
    "tnftp": """
        if [ "$ACTIVE" = on ]; then mode=-A; else mode=-p; fi
        url="ftp://$FTP_USER:$FTP_PASSWORD@$SERVER/upload/$NAME"
        tnftp -d -q 30 $mode -u "$url" $SAMPLE >&2 && tnftp -d -q 30 $mode -o $BACK "$url" >&2
    """,
    "busybox": """
        busybox ftpput -v -u "$FTP_USER" -p "$FTP_PASSWORD" $HOST upload/$NAME $SAMPLE &&
          busybox ftpget -v -u "$FTP_USER" -p "$FTP_PASSWORD" $HOST $BACK upload/$NAME
    """,
    "rclone": """
        # rclone 1.60 (Debian 12 and 13) joins host and port with a colon: an IPv6 address in brackets.
        opts="--ftp-host $SERVER --ftp-user $FTP_USER --ftp-pass $(rclone obscure "$FTP_PASSWORD") --retries 1
          --low-level-retries 1 --contimeout 20s --timeout 30s"
        rclone copyto $opts $SAMPLE ":ftp:upload/$NAME" && rclone copyto $opts ":ftp:upload/$NAME" $BACK
    """,
}
LARGE = {"lftp", "curl", "ftplib"}       # 20 MB; the others 2 MB
REPLIES = {"lftp", "curl", "ftplib", "ncftp"}   # print the server's PASV/EPSV replies
# What a client cannot do at all: not a check to run (the matrix below leaves these out).
CANNOT = {
    ("busybox", "active"): "busybox ftpget/ftpput speak passive mode only",
    ("rclone", "active"): "rclone speaks passive mode only",
    ("ncftp", "ipv6"): "ncftp 3.2 resolves no IPv6 address (Debian 12 and 13)",
}

PASSIVE_REPLY = re.compile(r"\b227:? Entering Passive Mode \((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)", re.I)
EPSV_REPLY = re.compile(r"\b229:? Entering Extended Passive Mode \(\|\|\|(\d+)\|\)", re.I)
ACTIVE_COMMAND = re.compile(r"\b(PORT \d+,\d+,\d+,\d+,\d+,\d+|EPRT \|\d\|[^|]+\|\d+\|)")


def passive_ports(dialogue):
    ports = [int(m[4]) * 256 + int(m[5]) for m in PASSIVE_REPLY.findall(dialogue)]
    return ports + [int(p) for p in EPSV_REPLY.findall(dialogue)]


@pytest.fixture(scope="session")
def sample(server, client):
    """The scenario's one large transfer: 20 MB, a file of the server's own on the client."""
    return random_file(client, f"/tmp/e2e-sample-{server.name}.bin", "20M")


@pytest.fixture(scope="session")
def small(server, client):
    return random_file(client, f"/tmp/e2e-small-{server.name}.bin", "2M")


MATRIX = [pytest.param(tool, mode, family, id=f"{tool}-{mode}-{family}")
          for family in FAMILIES for mode in ("passive", "active") for tool in sorted(SCRIPTS)
          if (tool, mode) not in CANNOT and (tool, family) not in CANNOT]


@pytest.mark.parametrize("tool,mode,family", MATRIX)
def test_round_trip(server, client, sample, small, tool, mode, family):
    if mode == "active" and not server.settings["ftp_server_active_enabled"]:
        pytest.fail("active mode is off in this inventory; the transfer matrix needs it on")
    host = address_in(server, client, family)
    sample = sample if tool in LARGE else small
    name = f"{tool}-{mode}-{family}.bin"
    back = f"/tmp/e2e-{server.name}-{name}"
    result = client.run(
        SCRIPTS[tool], HOST=host, SERVER=f"[{host}]" if family == "ipv6" else host,
        FTP_USER=client.user, FTP_PASSWORD=client.password,
        SAMPLE=sample.path, NAME=name, BACK=back, ACTIVE="on" if mode == "active" else "off",
        TOOL=client.tool_command(),
    )
    assert result.rc == 0, result.stderr[-2000:]
    assert client.node.check_output(f"sha256sum {back}").split()[0] == sample.digest

    dialogue = result.stderr
    ports = passive_ports(dialogue)
    if mode == "passive":
        assert ports or tool not in REPLIES, "no PASV/EPSV reply seen"
        assert all(p in server.passive_range for p in ports), ports
        assert not ACTIVE_COMMAND.search(dialogue), dialogue[-2000:]
        assert re.search(r"\b(PASV|EPSV)\b", dialogue) or tool == "rclone", dialogue[-2000:]
    else:
        assert not ports, f"active transfer used passive mode: {ports}"
        assert ACTIVE_COMMAND.search(dialogue), "no PORT/EPRT command seen"
    if family == "ipv6" and tool != "rclone":   # rclone prints no dialogue
        assert re.search(r"\bEPSV\b" if mode == "passive" else r"\bEPRT \|2\|", dialogue), dialogue[-2000:]


@pytest.mark.when(ftp_server_backend="pyftpdlib")   # MLSD is pyftpdlib's: vsftpd does not offer it
def test_rclone_copies_into_a_new_directory(server, client):
    """rclone lists a target directory before it makes it, with MLSD where offered: a missing directory
    must be 550, which it takes for "not there yet"; pyftpdlib's 501 made it give up on every try.
    (vsftpd offers no MLSD: rclone lists with LIST there, and copies with FTPS in test_tls.py.)"""
    result = client.run(
        """rm -rf /tmp/e2e-rc-src; mkdir -p /tmp/e2e-rc-src; echo one > /tmp/e2e-rc-src/a.txt; echo two > /tmp/e2e-rc-src/b.txt
        opts="--ftp-host $HOST --ftp-user $FTP_USER --ftp-pass $(rclone obscure "$FTP_PASSWORD") --retries 3
          --low-level-retries 3 --contimeout 20s --timeout 30s"
        rclone copy $opts /tmp/e2e-rc-src ":ftp:upload/$DIR" && rclone lsf $opts ":ftp:upload/$DIR" """,
        HOST=server.address, FTP_USER=client.user, FTP_PASSWORD=client.password,
        DIR=f"rclone-new-{uuid.uuid4().hex[:8]}",
    )
    assert result.rc == 0, (result.stdout + result.stderr)[-2000:]
    assert result.stdout.split() == ["a.txt", "b.txt"], result.stdout


# Clients that open many connections at once, against the server's cap per address (ftp_server_max_per_ip,
# 5 by default): 200 small files up and back, compared after. Nothing tuned on the client but timeouts.
MANY = {
    "lftp mirror --parallel=10": """
        lftp -c "set cmd:fail-exit yes; set net:timeout 20; set ftp:ssl-allow no;
          open -u $FTP_USER,$FTP_PASSWORD $HOST; mkdir -p upload/$DIR;
          mirror -R --parallel=10 $SRC upload/$DIR; mirror --parallel=10 upload/$DIR $DST"
    """,
    # rclone opens a connection per transfer and per checker, and over the cap retries until it gives up
    # (--transfers 10 against vsftpd's 5: not done in 300 s). Its own limit must be one more than the
    # larger of --transfers and --checkers with --check-first (rclone help backend ftp), within the cap.
    "rclone copy --check-first at the cap": """
        n=$((CAP - 1 < 10 ? CAP - 1 : 10))
        opts="--ftp-host $HOST --ftp-user $FTP_USER --ftp-pass $(rclone obscure "$FTP_PASSWORD")
          --transfers $n --checkers $n --check-first --ftp-concurrency $((n + 1)) --contimeout 20s --timeout 30s"
        rclone copy $opts $SRC ":ftp:upload/$DIR" && rclone copy $opts ":ftp:upload/$DIR" $DST
    """,
}


# Once per backend and run (a minute or two each), on the first server: default (vsftpd), pyftpdlib.
@pytest.mark.scenario("default", "pyftpdlib")
@pytest.mark.first_server
@pytest.mark.parametrize("how", sorted(MANY))
def test_parallel_clients_against_the_cap(server, client, how):
    slug = re.sub(r"\W+", "-", how).strip("-")
    src, dst = f"/tmp/e2e-many-src-{server.name}", f"/tmp/e2e-many-{slug}-{server.name}"
    start = time.monotonic()
    result = client.run(
        'rm -rf "$DST"; mkdir -p "$SRC" "$DST"; for i in $(seq 1 200); do [ -e "$SRC/f$i.bin" ] ||'
        ' head -c $((500 + i * 13)) /dev/urandom > "$SRC/f$i.bin"; done\n'
        'timeout 120 sh -c \'' + MANY[how].replace("'", "'\\''") + '\'; rc=$?; diff -r "$SRC" "$DST" && exit $rc',
        SRC=src, DST=dst, DIR=f"{slug}-{uuid.uuid4().hex[:6]}", HOST=server.address,
        FTP_USER=client.user, FTP_PASSWORD=client.password, CAP=server.settings["ftp_server_max_per_ip"],
    )
    took = time.monotonic() - start
    print(f"{how} against a cap of {server.settings['ftp_server_max_per_ip']}: rc {result.rc} in {took:.0f} s")
    assert result.rc == 0, (result.stdout + result.stderr)[-3000:]


# A cleartext upload ends when its data connection does: a FIN there is the end of the file. A reset is
# not, nor a clean end short of the size the client announced with ALLO (which pyftpdlib holds it to, and
# vsftpd ignores: docs/ftp_server.md).
@pytest.mark.scenario("default", "pyftpdlib")
@pytest.mark.first_server
@pytest.mark.parametrize("how,family", [
    ("reset", "ipv4"), ("reset", "ipv6"), pytest.param("short", "ipv4", marks=pytest.mark.when(ftp_server_backend="pyftpdlib")),
])
def test_cut_cleartext_upload_is_refused_and_logged_incomplete(server, client, how, family):
    """STOR onto a file already there, cut: a 426, never 226, the log says incomplete; on pyftpdlib the
    file keeps its bytes (written under a hidden name, renamed only when complete)."""
    host = address_in(server, client, family)
    name = f"e2e-cut-{how}-{family}.bin"
    seen = client.tool("cut", host, name, how, "--user", client.user, "--password", client.password)
    assert seen["reply"][:1] == "4", seen
    assert uploads_of(server, name)[-1][1] == "i", uploads_of(server, name)
    if server.settings["ftp_server_backend"] == "pyftpdlib":
        assert seen["intact"] and seen["size"] == 300000, seen


@pytest.mark.scenario("pyftpdlib")
@pytest.mark.first_server
def test_killed_lftp_upload_leaves_the_file_as_it_was(server, client, small):
    """lftp announcing its uploads' size (ftp:use-allo), killed halfway through one over an existing
    file: the kernel ends its data connection with a FIN, which alone looks like the end of the file.
    The announced size tells the cut: 426 and incomplete in the log, and the file is still the one
    stored before."""
    name = "e2e-killed-lftp.bin"
    result = client.run(
        """head -c 20M /dev/zero > /tmp/e2e-killed-lftp-big
           curl -sS --fail --user "$FTP_USER:$FTP_PASSWORD" -T "$SAMPLE" "ftp://$HOST/upload/$NAME" || exit 1
           lftp -c "set ftp:use-allo yes; set ftp:ssl-allow no; set net:limit-rate 500000;
             open -u $FTP_USER,$FTP_PASSWORD ftp://$HOST; put /tmp/e2e-killed-lftp-big -o upload/$NAME" &
           sleep 2; kill -9 $!; sleep 1
           curl -sS --fail --user "$FTP_USER:$FTP_PASSWORD" -o /tmp/e2e-killed-lftp-back "ftp://$HOST/upload/$NAME" """,
        HOST=server.address, FTP_USER=client.user, FTP_PASSWORD=client.password, SAMPLE=small.path, NAME=name,
    )
    assert result.rc == 0, result.stderr
    uploads = uploads_of(server, name)
    assert uploads[-1][1] == "i" and 0 < uploads[-1][0] < 20 << 20, uploads
    assert client.node.check_output("sha256sum /tmp/e2e-killed-lftp-back").split()[0] == small.digest

"""FTPS: clients no one here wrote check the server's certificate against the CA the role made and
move data over TLS through the firewall; cleartext and old TLS are refused where the settings say so."""

import json
import re
import subprocess
from dataclasses import dataclass

import pytest
from conftest import ROOT, ansible_playbook, focus, nft_table, random_file

# Each tool logs in over TLS to $NAME (checked against $CA), uploads $SAMPLE as $FILE into upload/ and
# downloads it to $BACK, data protected too; the dialogue goes to stderr. $ACTIVE is "on" for active mode.
SCRIPTS = {
    "lftp": """
        if [ "$ACTIVE" = on ]; then passive=off; else passive=on; fi
        lftp -c "debug 5; set cmd:fail-exit yes; set xfer:clobber on; set net:max-retries 1; set net:timeout 20;
          set ssl:ca-file $CA; set ssl:verify-certificate yes; set ftp:ssl-force yes; set ftp:ssl-protect-data yes;
          set ftp:passive-mode $passive;
          open -u $FTP_USER,$FTP_PASSWORD $NAME; cd upload; put $SAMPLE -o $FILE; get $FILE -o $BACK"
    """,
    "curl": """
        if [ "$ACTIVE" = on ]; then mode="--ftp-port -"; else mode=""; fi
        for args in "-T $SAMPLE" "-o $BACK"; do
          curl -sS -v --fail --max-time 60 --ssl-reqd --cacert "$CA" $mode --user "$FTP_USER:$FTP_PASSWORD" \\
            $args "ftp://$NAME/upload/$FILE" || exit 1
        done
    """,
    "ftplib": """
        python3 - <<'EOF'
import ftplib, os, ssl
class Resuming(ftplib.FTP_TLS):
    # Data connections resume the control connection's TLS session (plain ftplib starts new ones).
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size
env = os.environ
ftp = Resuming(context=ssl.create_default_context(cafile=env["CA"]), timeout=30)
ftp.set_debuglevel(1)
ftp.connect(env["NAME"], 21)
ftp.login(env["FTP_USER"], env["FTP_PASSWORD"])
ftp.prot_p()
ftp.set_pasv(env["ACTIVE"] != "on")
ftp.cwd("upload")
with open(env["SAMPLE"], "rb") as f:
    ftp.storbinary("STOR " + env["FILE"], f)
with open(env["BACK"], "wb") as f:
    ftp.retrbinary("RETR " + env["FILE"], f.write)
ftp.quit()
EOF
    """,
}

# A cleartext session: USER/PASS without AUTH TLS; prints the reply to the login.
CLEARTEXT_LOGIN = """
import ftplib, json, sys
ftp = ftplib.FTP(timeout=30)
ftp.connect(sys.argv[1], 21)
try:
    print(json.dumps(ftp.login(sys.argv[2], sys.argv[3])))
except ftplib.error_perm as err:
    print(json.dumps(str(err)))
"""

# Logged in over TLS, but asks for a listing over a cleartext data connection (no PROT P).
CLEARTEXT_DATA = """
import ftplib, json, ssl, sys
ftp = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=sys.argv[4]), timeout=30)
ftp.connect(sys.argv[1], 21)
ftp.login(sys.argv[2], sys.argv[3])
try:
    print(json.dumps(ftp.nlst()))
except ftplib.error_perm as err:
    print(json.dumps(str(err)))
"""

# Data protected, but each data connection starts a new TLS session (plain ftplib's way).
NEW_SESSION = """
import ftplib, json, ssl, sys
ftp = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=sys.argv[4]), timeout=30)
ftp.connect(sys.argv[1], 21)
ftp.login(sys.argv[2], sys.argv[3])
ftp.prot_p()
try:
    print(json.dumps(ftp.nlst()))
except ftplib.error_perm as err:
    print(json.dumps(str(err)))
"""


@dataclass
class Endpoint:
    mode: str   # optional or required
    name: str   # the server's inventory name, which its certificate carries
    ca: str     # path of the exported CA certificate on the client


@pytest.fixture(scope="module")
def tls(server, client):
    """The server as a TLS client sees it: its name pinned to its current address, its CA in a file."""
    mode = server.settings["ftp_server_tls"]
    if mode == "off":
        pytest.skip(f"ftp_server_tls is off on {server.name}")
    ca = server.node.file(server.settings["__ftp_server_tls_dir"] + "/ca.crt").content_string
    path = f"/tmp/e2e-ca-{server.name}.crt"
    result = client.run(
        """printf '%s\\n' "$PEM" > "$CA"
           flock /etc/hosts sh -c 'grep -v " $NAME\\$" /etc/hosts > /tmp/e2e-hosts-$NAME
             echo "$IP $NAME" >> /tmp/e2e-hosts-$NAME; cat /tmp/e2e-hosts-$NAME > /etc/hosts'""",
        PEM=ca.strip(), CA=path, NAME=server.name, IP=server.address,
    )
    assert result.rc == 0, result.stderr
    return Endpoint(mode, server.name, path)


@pytest.fixture(scope="module")
def sample(server, client):
    return random_file(client, f"/tmp/e2e-tls-sample-{server.name}.bin", "5M")


@pytest.mark.parametrize("mode", ["passive", "active"])
@pytest.mark.parametrize("tool", sorted(SCRIPTS))
def test_round_trip_over_tls(server, client, tls, sample, tool, mode):
    if mode == "active" and not server.settings["ftp_server_active_enabled"]:
        pytest.fail("active mode is off in this inventory; the TLS matrix needs it on")
    name = f"tls-{tool}-{mode}.bin"
    back = f"/tmp/e2e-{server.name}-{name}"
    result = client.run(
        SCRIPTS[tool], NAME=tls.name, CA=tls.ca, FTP_USER=client.user, FTP_PASSWORD=client.password,
        SAMPLE=sample.path, FILE=name, BACK=back, ACTIVE="on" if mode == "active" else "off",
    )
    dialogue = result.stdout + result.stderr
    assert result.rc == 0, dialogue[-2000:]
    assert client.node.check_output(f"sha256sum {back}").split()[0] == sample.digest
    assert re.search(r"AUTH (TLS|SSL)", dialogue) and "PROT P" in dialogue, dialogue[-2000:]


def test_implicit_ftps_with_curl(server, client, tls, sample):
    """Implicit FTPS (TLS from the first byte, its own port) where offered: curl's ftps:// both ways."""
    if not server.settings["ftp_server_tls_implicit"]:
        pytest.skip(f"ftp_server_tls_implicit is off on {server.name} (its port is filtered: test_firewall.py)")
    back = f"/tmp/e2e-{server.name}-implicit.bin"
    result = client.run(
        """for args in "-T $SAMPLE" "-o $BACK"; do
             curl -sS -v --fail --max-time 60 --cacert "$CA" --user "$FTP_USER:$FTP_PASSWORD" \\
               $args "ftps://$NAME:$PORT/upload/implicit.bin" || exit 1
           done""",
        NAME=tls.name, CA=tls.ca, PORT=server.settings["ftp_server_tls_implicit_port"], FTP_USER=client.user,
        FTP_PASSWORD=client.password, SAMPLE=sample.path, BACK=back,
    )
    assert result.rc == 0, (result.stdout + result.stderr)[-2000:]
    assert client.node.check_output(f"sha256sum {back}").split()[0] == sample.digest
    assert "AUTH TLS" not in result.stderr   # TLS from the first byte, not negotiated


def test_certificate_is_checked(client, tls):
    """Without the exported CA the certificate is refused: the checks above really verify it."""
    result = client.run('curl -sS --ssl-reqd --max-time 20 --user x:y "ftp://$NAME/"', NAME=tls.name)
    assert result.rc == 60, result.stderr   # curl: peer certificate cannot be authenticated


def test_cleartext_login(server, client, tls):
    reply = client.python(CLEARTEXT_LOGIN, tls.name, client.user, client.password)
    if tls.mode == "required":
        assert reply.startswith("530"), reply
    else:
        assert reply.startswith("230"), reply


def test_data_connection_must_resume_the_tls_session(server, client, tls):
    """With session reuse required (the default), a protected data connection with a new TLS session is
    refused; the transfers above (lftp, curl, a resuming ftplib) show that resuming ones pass."""
    reply = client.python(NEW_SESSION, tls.name, client.user, client.password, tls.ca)
    if server.settings["ftp_server_tls_session_reuse"]:
        assert isinstance(reply, str) and reply.startswith("522"), reply
    else:
        assert "upload" in reply, reply


def test_cleartext_data(server, client, tls):
    reply = client.python(CLEARTEXT_DATA, tls.name, client.user, client.password, tls.ca)
    if tls.mode == "required":
        assert isinstance(reply, str) and reply[:1] == "5", reply
    else:
        assert "upload" in reply, reply


def handshake(client, tls, *options):
    """openssl s_client's STARTTLS handshake with the given options: (succeeded, output)."""
    result = client.run(
        'echo QUIT | timeout 20 openssl s_client -starttls ftp -connect "$NAME:21" -CAfile "$CA" '
        '-verify_return_error ' + " ".join(options) + " 2>&1",
        NAME=tls.name, CA=tls.ca,
    )
    return result.rc == 0 and "Verify return code: 0 (ok)" in result.stdout, result.stdout


# The client's own floor is lowered (SECLEVEL=0), so that a refusal is the server's.
@pytest.mark.parametrize("options", [
    "-tls1 -cipher DEFAULT:@SECLEVEL=0",
    "-tls1_1 -cipher DEFAULT:@SECLEVEL=0",
    "-tls1_2 -cipher AES128-SHA:@SECLEVEL=0",         # no forward secrecy, CBC
    "-tls1_2 -cipher ECDHE-RSA-AES128-SHA:@SECLEVEL=0",  # CBC with SHA-1
], ids=["tls1.0", "tls1.1", "rsa-kx", "cbc"])
def test_weak_tls_refused(client, tls, options):
    ok, output = handshake(client, tls, options)
    assert not ok, output[-1500:]


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_modern_tls_accepted(client, tls, version):
    ok, output = handshake(client, tls, version)
    assert ok, output[-1500:]
    cipher = output.split("Cipher is ", 1)[1].split()[0]
    assert "GCM" in cipher or "CHACHA20" in cipher, cipher


HELPER_PLAY = """
- name: FTP server and firewall in helper mode
  hosts: ftp_servers
  roles:
    - role: ftp_server
    - role: host_firewall
      vars:
        host_firewall_contributions: ["{{ ftp_server_firewall }}"]
        host_firewall_helper_mode: true
"""


def test_helper_mode_refused_under_tls(server, outside, tls):
    """The conntrack helper cannot read PASV inside TLS: the firewall role says so instead of dropping data."""
    focus(server, "helper_tls")
    before = nft_table(server)
    rc, output = outside(HELPER_PLAY, "--limit", server.name)
    assert rc == 2, output[-3000:]
    text = " ".join(output.split())
    assert "encrypts its control connection (services: ftp, ftp-passive" in text, output[-3000:]
    assert "helper cannot read the data ports announced inside it" in text, output[-3000:]
    assert "TASK [host_firewall : Apply" not in output, output[-3000:]
    assert nft_table(server) == before


OWN_CA = """
set -e
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Inventory test CA" -keyout ca.key -out ca.crt \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$NAME" -keyout server.key -out server.csr 2>/dev/null
printf '%s\n' "subjectAltName=DNS:$NAME" "basicConstraints=critical,CA:FALSE" \
  "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" \
  "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" > ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial 0x$(openssl rand -hex 16) -days 2 \
  -sha256 -extfile ext -out server.crt 2>/dev/null
"""

LIST = 'curl -sS --ssl-reqd --max-time 20 --cacert "$CA" --user "$U:$P" "ftp://$NAME/"'


@pytest.fixture
def own_certificate(server, client, tls, tmp_path):
    """The server converged with a certificate the inventory supplies, then converged back; yields the
    path of the supplying CA on the client."""
    if tls.mode != "required":
        pytest.skip("shown where TLS is required (the tls scenario): it converges the server twice")
    subprocess.run(["bash", "-c", OWN_CA], cwd=tmp_path, env={"NAME": server.name, "PATH": "/usr/bin:/bin"},
                   check=True)
    chain = (tmp_path / "server.crt").read_text() + (tmp_path / "ca.crt").read_text()
    (tmp_path / "vars.json").write_text(json.dumps(
        {"ftp_server_tls_certificate": chain, "ftp_server_tls_private_key": (tmp_path / "server.key").read_text()}))
    rc, output = ansible_playbook(ROOT / "playbooks" / "ftp_servers.yml", "--limit", server.name,
                                  "-e", f"@{tmp_path / 'vars.json'}", "--diff")
    assert rc == 0, output[-3000:]
    assert "PRIVATE KEY" not in output, "the key given by the inventory was printed"
    path = f"/tmp/e2e-own-ca-{server.name}.crt"
    client.run('printf "%s\\n" "$PEM" > "$CA"', PEM=(tmp_path / "ca.crt").read_text().strip(), CA=path)
    yield path
    rc, output = ansible_playbook(ROOT / "playbooks" / "ftp_servers.yml", "--limit", server.name)
    assert rc == 0, output[-3000:]
    # Back on the role's own certificate, issued again from its CA.
    result = client.run(LIST, CA=tls.ca, U=client.user, P=client.password, NAME=tls.name)
    assert result.rc == 0, result.stderr


def test_certificate_from_the_inventory(client, tls, own_certificate):
    result = client.run(LIST, CA=own_certificate, U=client.user, P=client.password, NAME=tls.name)
    assert result.rc == 0, result.stderr
    result = client.run(LIST, CA=tls.ca, U=client.user, P=client.password, NAME=tls.name)
    assert result.rc == 60, result.stderr   # the role's CA did not sign what is served now

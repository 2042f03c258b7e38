"""Certificates from an ACME CA (the acme scenario: pebble on the client), and certificates another tool
keeps on the host: clients verify them with their system's trust store and nothing else, the running
daemon serves a renewal without a converge, and the challenge port is closed outside certbot's runs."""

import json
import re
import time

import pytest
from conftest import ROOT, ansible_playbook, nft_table, random_file, recap

pytestmark = pytest.mark.scenario("acme")

PLAYBOOK = ROOT / "playbooks" / "ftp_servers.yml"

# Each tool logs in over TLS to $NAME, checked against the system's trust store only (no CA option),
# uploads $SAMPLE as $FILE into upload/ and downloads it to $BACK, data protected too.
SCRIPTS = {
    "lftp": """
        lftp -c "debug 5; set cmd:fail-exit yes; set xfer:clobber on; set net:max-retries 1; set net:timeout 20;
          set ssl:verify-certificate yes; set ftp:ssl-force yes; set ftp:ssl-protect-data yes;
          open -u $FTP_USER,$FTP_PASSWORD $NAME; cd upload; put $SAMPLE -o $FILE; get $FILE -o $BACK"
    """,
    "curl": """
        for args in "-T $SAMPLE" "-o $BACK"; do
          curl -sS -v --fail --max-time 60 --ssl-reqd --user "$FTP_USER:$FTP_PASSWORD" \\
            $args "ftp://$NAME/upload/$FILE" || exit 1
        done
    """,
    "rclone": """
        opts="--ftp-host $NAME --ftp-user $FTP_USER --ftp-pass $(rclone obscure "$FTP_PASSWORD") --ftp-explicit-tls
          --retries 1 --low-level-retries 1 --contimeout 20s --timeout 60s --ignore-times -vv"
        rclone copyto $opts "$SAMPLE" ":ftp:upload/$FILE" && rclone copyto $opts ":ftp:upload/$FILE" "$BACK"
    """,
}

# What the server presents on a new connection: its serial and names.
SERVED = """openssl s_client -starttls ftp -connect "$NAME:21" -servername "$NAME" -verify_return_error </dev/null 2>/dev/null \
  | openssl x509 -noout -serial -ext subjectAltName"""


def name(server):
    return server.settings["ftp_server_tls_names"][0]


@pytest.fixture(scope="session")
def trusted(client):
    """pebble's root in the client's system trust store, as a public CA's root is in every system's."""
    # One worker per server: the store is updated under a lock, once.
    result = client.run("""flock /tmp/e2e-trust.lock sh -ec '
        curl -sSk --max-time 10 https://localhost:15000/roots/0 > /tmp/e2e-pebble-root.crt
        cmp -s /tmp/e2e-pebble-root.crt /usr/local/share/ca-certificates/pebble-root.crt && exit 0
        cp /tmp/e2e-pebble-root.crt /usr/local/share/ca-certificates/pebble-root.crt
        update-ca-certificates >/dev/null'""")
    assert result.rc == 0, result.stderr


def served(client, server):
    result = client.run(SERVED, NAME=name(server))
    assert result.rc == 0, f"no verified certificate from {name(server)}: {result.stderr}"
    return result.stdout


def issuer(server, path="/etc/letsencrypt/live/ftp-server/cert.pem"):
    return server.node.check_output(f"openssl x509 -in {path} -noout -issuer")


def test_certificate_comes_from_the_acme_ca(server, client, trusted):
    assert "Pebble Intermediate CA" in issuer(server)
    text = served(client, server)
    assert f"DNS:{name(server)}" in text
    serial = server.node.check_output("openssl x509 -in /etc/letsencrypt/live/ftp-server/cert.pem -noout -serial")
    assert serial in text   # the daemon serves certbot's certificate, not the stand-in
    # Renewal needs no Ansible: certbot's timer, and the installer's path unit and timer, run.
    for unit in ("certbot.timer", "ftp-server-certificate.path", "ftp-server-certificate.timer"):
        assert server.node.run(f"systemctl is-enabled {unit} && systemctl is-active {unit}").rc == 0, unit


@pytest.mark.parametrize("tool", [*SCRIPTS, "ftplib"])
def test_clients_verify_without_being_handed_a_ca(server, client, trusted, tool):
    sample = random_file(client, f"/tmp/e2e-acme-{server.name}.bin", "2M")
    file = f"acme-{tool}.bin"
    back = f"/tmp/e2e-acme-{server.name}-{tool}.bin"
    if tool == "ftplib":   # Python's ssl.create_default_context(): the system's store
        seen = client.tool("many", name(server), "--user", client.user, "--password", client.password,
                           "--ca", "", "--files", 2)
        assert seen.get("intact") == 2, seen
        return
    result = client.run(SCRIPTS[tool], NAME=name(server), FTP_USER=client.user, FTP_PASSWORD=client.password,
                        SAMPLE=sample.path, FILE=file, BACK=back)
    assert result.rc == 0, (result.stdout + result.stderr)[-2000:]
    assert client.node.check_output(f"sha256sum {back}").split()[0] == sample.digest


def test_an_untrusted_name_is_refused(server, client, trusted):
    """The clients above do verify: the server's address is not a name its certificate carries."""
    result = client.run('curl -sS --ssl-reqd --max-time 20 --user "$U:$P" "ftp://$ADDRESS/"',
                        U=client.user, P=client.password, ADDRESS=server.address)
    assert result.rc == 60, result.stderr


def test_challenge_port_is_closed_outside_issuance(server, client):
    table = nft_table(server)
    assert "set open_acme {" in table and "tcp dport 80 tcp dport @open_acme accept" in table
    assert server.node.check_output(
        f"nft list set inet {server.settings['host_firewall_table']} open_acme | grep -c elements || true") == "0"
    assert client.tool("probe", server.address, 80)["80"] == ["filtered"]


RENEW = """set -e
conf=/etc/letsencrypt/renewal/ftp-server.conf
sed -i '1i renew_before_expiry = 100000 days' $conf
trap "sed -i '/^renew_before_expiry = 100000 days$/d' $conf" EXIT
systemctl start certbot.service
"""


def test_renewal_is_served_without_a_converge(server, client, trusted):
    """certbot.service (what certbot.timer starts, no Ansible) renews through the firewall's on-demand
    port; the running daemon serves the new certificate to new connections while a download that began
    before goes on to its end; the challenge port is closed again and the audit sees the usual policy."""
    before = served(client, server)
    sample = random_file(client, f"/tmp/e2e-acme-slow-{server.name}.bin", "6M")
    upload = client.run('curl -sS --fail --ssl-reqd --user "$U:$P" -T "$SAMPLE" "ftp://$NAME/upload/slow.bin"',
                        U=client.user, P=client.password, NAME=name(server), SAMPLE=sample.path)
    assert upload.rc == 0, upload.stderr
    # A download at 512 KB/s (12 s): under way during the renewal.
    unit, back = f"e2e-acme-slow-{server.name}", f"/tmp/e2e-acme-slow-{server.name}.back"
    client.run(f'systemd-run --unit={unit} --collect curl -sS --fail --ssl-reqd --limit-rate 512K '
               f'--user {client.user}:{client.password} -o {back} "ftp://{name(server)}/upload/slow.bin"')
    time.sleep(1)
    renewed = server.node.run(RENEW)
    assert renewed.rc == 0, renewed.stdout + renewed.stderr
    log = server.node.check_output("cat /var/log/letsencrypt/letsencrypt.log")   # this run's
    assert "Certificate is due for renewal" in log, log[-2000:]
    for hook in ("pre-hook command: /usr/local/sbin/ftp-server-acme-port open",
                 "deploy-hook command: /usr/local/sbin/ftp-server-certificate",
                 "post-hook command: /usr/local/sbin/ftp-server-acme-port close"):
        assert f"Running {hook}" in log, log[-2000:]
    deadline = time.monotonic() + 15
    while served(client, server) == before and time.monotonic() < deadline:
        time.sleep(0.5)
    after = served(client, server)
    assert after != before, "the renewed certificate is not served"
    assert client.run(f"systemctl is-active -q {unit}").rc == 0, "the download ended before the renewal"
    client.run(f"while systemctl is-active -q {unit}; do sleep 0.5; done")
    assert client.node.check_output(f"sha256sum {back}").split()[0] == sample.digest, "the download was cut"
    test_challenge_port_is_closed_outside_issuance(server, client)
    rc, output = ansible_playbook(ROOT / "playbooks" / "audit.yml", "--limit", f"{server.name},{client.name}")
    assert rc == 0, output[-3000:]


@pytest.mark.first_server
@pytest.mark.parametrize("names, message", [
    (["10.89.96.10"], "no IP address"),
    ([], "needs ftp_server_tls_names"),
    (["*.ftp.test"], "no wildcard"),
    (["acme-vsftpd.ftp.test", "2001:db8::10"], "has 2001:db8::10"),
])
def test_bad_acme_names_are_refused_before_anything_changes(server, names, message):
    before = nft_table(server)
    rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name,
                                  "-e", json.dumps({"ftp_server_tls_names": names}))
    assert rc == 2, output[-3000:]
    assert message in " ".join(output.split()), output[-3000:]
    assert recap(output)[server.name]["changed"] == 0
    assert nft_table(server) == before


@pytest.mark.first_server
def test_challenge_port_taken_is_refused_before_anything_changes(server):
    """certbot's standalone server needs the port: a web server on it is named before anything changes."""
    server.node.run("systemd-run --unit=e2e-port-80 python3 -m http.server --bind :: 80")
    try:
        server.node.run("timeout 10 sh -c 'until ss -ltn | grep -q :80; do sleep 0.2; done'")
        before = nft_table(server)
        rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name)
        assert rc == 2, output[-3000:]
        assert "port 80 is taken on the host" in " ".join(output.split()), output[-3000:]
        assert recap(output)[server.name]["changed"] == 0
        assert nft_table(server) == before
    finally:
        server.node.run("systemctl stop e2e-port-80")


@pytest.mark.first_server
def test_leaving_acme_leaves_nothing_behind(server, client, trusted):
    """Back to the host's own CA: certbot's order deleted, the installer, its units and the challenge
    set gone; then ACME again, ordered afresh and served."""
    rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name, "-e", '{"ftp_server_tls_acme": false}')
    try:
        assert rc == 0, output[-3000:]
        left = server.node.run("ls /etc/letsencrypt/renewal/ftp-server.conf /usr/local/sbin/ftp-server-certificate "
                               "/usr/local/sbin/ftp-server-acme-port /etc/systemd/system/ftp-server-certificate.*")
        assert left.stdout.strip() == "", left.stdout
        assert server.node.run("systemctl is-active ftp-server-certificate.path").rc != 0
        assert "open_acme" not in nft_table(server)
        assert "Pebble" not in server.node.check_output(
            f"openssl x509 -in {server.settings['__ftp_server_tls_dir']}/server.crt -noout -issuer")
    finally:
        rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name)
    assert rc == 0, output[-3000:]
    assert "Issue the ACME certificate" in output
    assert certbot_serial(server) in served(client, server)


@pytest.mark.first_server
@pytest.mark.parametrize("cert, key, message", [
    ("etc/ftp.crt", "/etc/ftp.key", "must both be absolute paths"),
    ("/etc/my certs/ftp.crt", "/etc/ftp.key", "must both be absolute paths"),
    ("/etc/ftp.crt", "", "must both be absolute paths"),
])
def test_bad_certificate_paths_are_refused_before_anything_changes(server, cert, key, message):
    before = nft_table(server)
    rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name, "-e", json.dumps({
        "ftp_server_tls_acme": False, "ftp_server_tls_certificate_file": cert,
        "ftp_server_tls_private_key_file": key}))
    assert rc == 2, output[-3000:]
    assert message in " ".join(output.split()), output[-3000:]
    assert recap(output)[server.name]["changed"] == 0
    assert nft_table(server) == before


OWN_PKI = """set -e
umask 077; mkdir -p /etc/pki-test; cd /etc/pki-test
[ -f ca.crt ] || openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Internal test CA" \
  -addext keyUsage=critical,keyCertSign,cRLSign -keyout ca.key -out ca.crt 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$NAME" -CA ca.crt -CAkey ca.key \
  -addext "subjectAltName=DNS:$NAME" -keyout new.key -out new.crt 2>/dev/null
"""


def issue_files(server, key="/etc/pki-test/ftp.key", cert="/etc/pki-test/ftp.crt"):
    """An internal PKI's tool writes a fresh certificate and key where the inventory points."""
    result = server.node.run(f"NAME={name(server)} bash -c '{OWN_PKI}' && mv /etc/pki-test/new.crt {cert}"
                             f" && mv /etc/pki-test/new.key {key}")
    assert result.rc == 0, result.stderr
    return server.node.check_output(f"openssl x509 -in {cert} -noout -serial")


@pytest.fixture
def kept_files(server, client, trusted, tmp_path):
    """The server converged with certificate files another tool keeps; converged back to ACME after."""
    serial = issue_files(server)
    (tmp_path / "vars.json").write_text(json.dumps({
        "ftp_server_tls_acme": False, "ftp_server_tls_certificate_file": "/etc/pki-test/ftp.crt",
        "ftp_server_tls_private_key_file": "/etc/pki-test/ftp.key"}))
    ca = server.node.check_output("cat /etc/pki-test/ca.crt")
    client.run('printf "%s\\n" "$PEM" > "$CA"', PEM=ca, CA=f"/tmp/e2e-internal-ca-{server.name}.crt")
    rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name, "-e", f"@{tmp_path / 'vars.json'}")
    assert rc == 0, output[-3000:]
    yield serial, tmp_path / "vars.json"
    rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name)
    assert rc == 0, output[-3000:]
    assert certbot_serial(server) in served(client, server)   # back on the ACME CA's


def certbot_serial(server):
    return server.node.check_output("openssl x509 -in /etc/letsencrypt/live/ftp-server/cert.pem -noout -serial")


INTERNAL = """openssl s_client -starttls ftp -connect "$NAME:21" -servername "$NAME" -CAfile "/tmp/e2e-internal-ca-$HOST.crt" \
  -verify_return_error </dev/null 2>/dev/null | openssl x509 -noout -serial"""


def internal(client, server):
    """The serial the server presents, verified against the internal CA; '' when it does not verify."""
    return client.run(INTERNAL, NAME=name(server), HOST=server.name).stdout.strip()


def test_certificate_files_kept_by_another_tool(server, client, kept_files):
    """Served as the files say; a new pair written there is served without a converge; a pair that does
    not match, or an unreadable file, is refused by a converge before anything changes."""
    serial, extra = kept_files
    assert internal(client, server) == serial
    # ACME is off: certbot no longer renews the role's certificate.
    assert server.node.run("test -e /etc/letsencrypt/renewal/ftp-server.conf").rc == 1
    renewed = issue_files(server)
    deadline = time.monotonic() + 15
    while internal(client, server) != renewed and time.monotonic() < deadline:
        time.sleep(0.5)
    assert internal(client, server) == renewed, "the new files are not served"
    # A key of another certificate where the key should be: a converge refuses it, nothing changes.
    server.node.run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out /etc/pki-test/other.key")
    before = nft_table(server)
    for key, message in [("/etc/pki-test/other.key", "is not the key of the certificate"),
                         ("/etc/pki-test/missing.key", "missing or unreadable")]:
        rc, output = ansible_playbook(PLAYBOOK, "--limit", server.name, "-e", f"@{extra}",
                                      "-e", f"ftp_server_tls_private_key_file={key}")
        assert rc == 2, output[-3000:]
        assert message in output, output[-3000:]
        assert recap(output)[server.name]["changed"] == 0
    assert nft_table(server) == before
    assert internal(client, server) == renewed

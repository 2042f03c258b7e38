# MIT License (see LICENSE)
"""Audit one FTP server from where this runs: probe its TCP ports, log in, move a file in passive and
in active mode, and compare what was seen with the firewall policy.

    ftp_audit.py SPEC.json   prints a JSON report; SPEC (written by playbooks/audit.yml) holds
                             targets [{address, vantage}] (one per address family), rules [{ports,
                             sources}], probe, ftp {port, user, ...}
"""

import concurrent.futures
import errno
import ftplib
import hashlib
import io
import ipaddress
import json
import os
import socket
import ssl
import sys


def probe(address, port, timeout=2.0):
    """open (accepted), closed (refused: reachable, nothing listens) or filtered (no answer)."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return "open"
    except ConnectionRefusedError:
        return "closed"
    except OSError as err:
        return "closed" if err.errno == errno.ECONNREFUSED else "filtered"


def span(port):
    """21, "21" or "50000-50049" as (low, high)."""
    low, dummy, high = str(port).partition("-")
    return int(low), int(high or low)


def expected(port, rules, vantage):
    """reachable when a rule lets this port in from the vantage address, else filtered."""
    for rule in rules:
        sources = rule.get("sources") or []
        if any(low <= port <= high for low, high in map(span, rule["ports"])) and (
                not sources or any(ipaddress.ip_address(vantage) in ipaddress.ip_network(s, strict=False)
                                   for s in sources)):
            return "reachable"
    return "filtered"


def ports(spec):
    """Policy ports (each range at both ends and just outside), well-known ones, and the sample."""
    chosen = set(spec.get("probe", []))
    for rule in spec["rules"]:
        for low, high in map(span, rule["ports"]):
            chosen.update({low, high, (low + high) // 2, low - 1, high + 1})
    return sorted(p for p in chosen if 1 <= p <= 65535)


class Resuming(ftplib.FTP_TLS):
    """FTP_TLS whose data connections resume the control connection's TLS session, as servers that
    require session reuse (the role's default) insist; plain ftplib starts a new session each time."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size


def transfer(spec, address, passive):
    """Log in, upload and download 256 KiB (over IPv6 ftplib speaks EPSV/EPRT); 'ok' or what went wrong."""
    ftp_spec = spec["ftp"]
    if ftp_spec.get("tls"):
        context = ssl.create_default_context(cadata=ftp_spec.get("ca") or None)
        ftp = Resuming(context=context, timeout=20)
    else:
        ftp = ftplib.FTP(timeout=20)
    data = os.urandom(256 * 1024)
    name = f"audit-{'passive' if passive else 'active'}.bin"
    try:
        ftp.connect(address, ftp_spec["port"])
        ftp.host = ftp_spec.get("name") or address   # what TLS verifies: a name where the certificate has one
        ftp.login(ftp_spec["user"], ftp_spec["password"])
        if ftp_spec.get("tls"):
            ftp.prot_p()
        ftp.set_pasv(passive)
        ftp.cwd(ftp_spec.get("directory", "upload"))
        ftp.storbinary(f"STOR {name}", io.BytesIO(data))
        back = io.BytesIO()
        ftp.retrbinary(f"RETR {name}", back.write)
        ftp.delete(name)
        ftp.quit()
    except (OSError, ftplib.Error, EOFError) as err:
        return f"failed: {err}"
    same = hashlib.sha256(back.getvalue()).digest() == hashlib.sha256(data).digest()
    return "ok" if same else "failed: the copy differs"


def audit(spec, address, vantage):
    """The report for one address of the server, seen from the vantage host's address in that family."""
    todo = ports(spec)
    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        seen = dict(zip(todo, pool.map(lambda p: probe(address, p), todo)))
    rows = []
    for port in todo:
        want = expected(port, spec["rules"], vantage)
        got = seen[port]
        ok = (got == "filtered") == (want == "filtered")
        rows.append({"port": port, "expected": want, "observed": got, "verdict": "ok" if ok else "MISMATCH"})
    report = {"address": address, "vantage": vantage, "ports": rows}
    if spec.get("ftp"):
        report["passive"] = transfer(spec, address, passive=True)
        report["active"] = transfer(spec, address, passive=False) if spec["ftp"].get("active", True) else "off"
    report["failed"] = any(r["verdict"] != "ok" for r in rows) or any(
        report.get(mode, "ok").startswith("failed") for mode in ("passive", "active"))
    return report


def main(path):
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    reports = [audit(spec, t["address"], t["vantage"]) for t in spec["targets"]]
    print(json.dumps({"targets": reports, "failed": any(r["failed"] for r in reports),
                      "table": [line for r in reports for line in table(r)]}))


def table(report):
    lines = [f"{report['address']} seen from {report['vantage']}",
             f"{'port':>6}  {'expected':<10} {'observed':<9} verdict"]
    lines += [f"{r['port']:>6}  {r['expected']:<10} {r['observed']:<9} {r['verdict']}" for r in report["ports"]]
    for mode in ("passive", "active"):
        if mode in report:
            lines.append(f"{mode} transfer: {report[mode]}")
    return lines


if __name__ == "__main__":
    main(sys.argv[1])

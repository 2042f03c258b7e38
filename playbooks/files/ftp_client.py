# MIT License (see LICENSE)
"""An FTP client for checks that packaged clients cannot make: each subcommand prints one JSON object.

    ftp_client.py greeting HOST                  the greeting and the replies to FEAT, SYST, HELP, STAT
                                                 and SITE HELP before any login
    ftp_client.py steal HOST get|put --user U --password P --ca FILE [--tls 1.2|1.3]
                                                 a second control connection from this address takes
                                                 the TLS session it made itself to the victim's waiting
                                                 passive port; then the victim tries again
    ftp_client.py many HOST --user U --password P --ca FILE [--tls 1.2|1.3] [--files 50] [--active]
                                                 one login over TLS, that many uploads and downloads,
                                                 every data connection resuming the control session
    ftp_client.py pasv HOST --user U --password P [--extended]
                                                 one login in cleartext, the reply to PASV (or EPSV),
                                                 then a connection to the port it names, as a client
                                                 makes (an abandoned passive port keeps the kernel's
                                                 FTP helper expecting it, see docs/networking.md)

Common options: --port (21), --name (the name the certificate carries; default HOST), --timeout (20 s).
It needs ftp_audit.py beside it (the audit's client, whose session-resuming FTP_TLS it shares).
"""

import argparse
import ftplib
import hashlib
import io
import json
import os
import socket
import ssl
import sys

from ftp_audit import Resuming   # the audit's client, beside this file

VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def context(args):
    ctx = ssl.create_default_context(cafile=args.ca)
    if args.tls:
        ctx.minimum_version = ctx.maximum_version = VERSIONS[args.tls]
    return ctx


def connect(args, cls=Resuming):
    """A control connection to args.host; TLS checks the certificate for args.name (default: the host)."""
    ftp = cls(context=context(args), timeout=args.timeout) if cls is not ftplib.FTP else cls(timeout=args.timeout)
    ftp.connect(args.host, args.port)
    ftp.host = args.name or args.host   # what ftplib's TLS verifies; data connections go to the peer
    return ftp


def login(args):
    ftp = connect(args)
    ftp.login(args.user, args.password)
    ftp.prot_p()
    return ftp


def reply_of(call):
    try:
        return call()
    except ftplib.Error as err:
        return str(err)
    except (OSError, EOFError) as err:
        return f"closed: {err!r}"


def final_reply(ftp):
    """The reply that ends a command, past any preliminary (1xx) ones, or how the connection ended."""
    while True:
        reply = reply_of(ftp.getresp)
        if not reply[:1] == "1":
            return reply


def greeting(args):
    ftp = connect(args, ftplib.FTP)
    replies = {"greeting": ftp.getwelcome()}
    for cmd in ("FEAT", "SYST", "HELP", "STAT", "SITE HELP"):
        replies[cmd] = reply_of(lambda: ftp.sendcmd(cmd))
    reply_of(ftp.quit)
    return replies


def steal(args):
    """The attack of a host behind the victim's NAT: its own control connection does AUTH TLS and one
    command (FEAT), and keeps its TLS session; the victim logs in, asks for a passive port, sends RETR
    (get) or STOR (put) and waits; the attacker connects to that port first and offers its own session.
    Reports what the attacker got or got stored, the victim's reply, and whether the victim then moves
    its file with its own session."""
    secret = os.urandom(200_000)
    name = f"steal-{args.direction}-{args.tls or 'any'}.bin"
    victim = login(args)
    victim.cwd(args.directory)
    if args.direction == "get":
        victim.storbinary(f"STOR {name}", io.BytesIO(secret))
    else:
        reply_of(lambda: victim.delete(name))
    attacker = connect(args, ftplib.FTP_TLS)
    attacker.auth()
    attacker.sendcmd("FEAT")
    session = attacker.sock.session
    host, port = victim.makepasv()
    victim.sendcmd("TYPE I")
    victim.putcmd(f"{'RETR' if args.direction == 'get' else 'STOR'} {name}")
    seen = {"attacker_handshake": None, "attacker_resumed": False, "received": 0, "sent": 0}
    try:
        raw = socket.create_connection((host, port), timeout=args.timeout)
        data = attacker.context.wrap_socket(raw, server_hostname=args.name or args.host, session=session)
        seen["attacker_handshake"] = "ok"
        seen["attacker_resumed"] = data.session_reused
        if args.direction == "get":
            while chunk := data.recv(65536):
                seen["received"] += len(chunk)
        else:
            data.sendall(b"A" * 100_000)
            seen["sent"] = 100_000
        data.close()
    except (OSError, ssl.SSLError) as err:
        seen["attacker_handshake"] = seen["attacker_handshake"] or f"failed: {err!r}"
    seen["victim_reply"] = final_reply(victim)
    reply_of(attacker.quit)
    if args.direction == "get":
        del seen["sent"]
    else:
        del seen["received"]
    seen["stored_by_attacker"] = None
    # The victim tries again with its own session: on the same login if the server kept it (pyftpdlib),
    # else on a new one (vsftpd ends a session whose data connection failed its TLS check).
    for again in ("same login", "new login"):
        if again == "new login":
            reply_of(victim.close)
            victim = login(args)
            victim.cwd(args.directory)
        if args.direction == "put" and seen["stored_by_attacker"] is None:
            reply_of(lambda: victim.voidcmd("TYPE I"))   # SIZE is refused in ASCII mode
            size = reply_of(lambda: victim.size(name))
            if isinstance(size, int) or size.startswith("550"):   # its size, or no such file
                seen["stored_by_attacker"] = size if isinstance(size, int) else 0
            elif not size.startswith("closed"):
                seen["stored_by_attacker"] = size
        if args.direction == "put":
            reply_of(lambda: victim.storbinary(f"STOR {name}", io.BytesIO(secret)))
        back = io.BytesIO()
        reply_of(lambda: victim.retrbinary(f"RETR {name}", back.write))
        if back.getvalue() == secret:
            seen["victim_retry"] = f"ok ({again})"
            break
        seen["victim_retry"] = f"failed: {len(back.getvalue())} bytes back ({again})"
    reply_of(lambda: victim.delete(name))
    reply_of(victim.quit)
    return seen


def many(args):
    """One session, args.files uploads and downloads; the count of files that came back intact."""
    ftp = login(args)
    ftp.set_pasv(not args.active)
    ftp.cwd(args.directory)
    good = 0
    for i in range(args.files):
        blob = os.urandom(4096 + i)
        name = f"many-{i}.bin"
        ftp.storbinary(f"STOR {name}", io.BytesIO(blob))
        back = io.BytesIO()
        ftp.retrbinary(f"RETR {name}", back.write)
        good += hashlib.sha256(back.getvalue()).digest() == hashlib.sha256(blob).digest()
        ftp.delete(name)
    version = ftp.sock.version()
    ftp.quit()
    return {"files": args.files, "intact": good, "tls": version}


def pasv(args):
    ftp = connect(args, ftplib.FTP)
    ftp.login(args.user, args.password)
    reply = ftp.sendcmd("EPSV" if args.extended else "PASV")
    if args.extended:
        address, port = args.host, ftplib.parse229(reply, (args.host, 0))[1]
    else:
        address, port = ftplib.parse227(reply)
    try:
        socket.create_connection((address, port), timeout=min(args.timeout, 5)).close()
        data = "connected"
    except OSError as err:
        data = f"failed: {err!r}"
    reply_of(ftp.quit)
    return {"reply": reply, "data": data}


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("host")
    common.add_argument("--port", type=int, default=21)
    common.add_argument("--name", default="")
    common.add_argument("--timeout", type=float, default=20)
    account = argparse.ArgumentParser(add_help=False)
    account.add_argument("--user", required=True)
    account.add_argument("--password", required=True)
    account.add_argument("--directory", default="upload")
    tls = argparse.ArgumentParser(add_help=False)
    tls.add_argument("--ca", required=True)
    tls.add_argument("--tls", choices=sorted(VERSIONS), default="")
    sub.add_parser("greeting", parents=[common])
    theft = sub.add_parser("steal", parents=[common, account, tls])
    theft.add_argument("direction", choices=["get", "put"])
    passive = sub.add_parser("pasv", parents=[common, account])
    passive.add_argument("--extended", action="store_true", help="EPSV (RFC 2428) instead of PASV")
    bulk = sub.add_parser("many", parents=[common, account, tls])
    bulk.add_argument("--files", type=int, default=50)
    bulk.add_argument("--active", action="store_true", help="active mode (PORT/EPRT) instead of passive")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    try:
        result = {"greeting": greeting, "steal": steal, "many": many, "pasv": pasv}[args.command](args)
    except (OSError, EOFError, ftplib.Error, ssl.SSLError) as err:
        result = {"error": f"{type(err).__name__}: {err}"}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

# MIT License (see LICENSE)
"""An FTP client for checks that packaged clients cannot make: each subcommand prints one JSON object.

    ftp_client.py run HOST --user U --password P [--ca FILE [--prot C] [--new-sessions]] [--active]
                       [--size N | --upload FILE] [--download FILE] [--debug] [-c COMMAND ...]
                                                 one login (over TLS with --ca), then each command as
                                                 written; a listing, RETR, STOR or APPE gets its data
                                                 connection (STOR/APPE send N bytes, default 3, or
                                                 FILE; RETR writes to --download); prints the login
                                                 reply, each command's final reply and data, and the
                                                 ports data connections came from; --debug: the
                                                 dialogue on stderr
    ftp_client.py probe HOST PORT ... [--repeat N] [--wait 1]
                                                 each port (all at once, N times in a row each): open
                                                 (connected), closed (refused) or filtered (no answer in
                                                 --wait seconds; on a bridge an answer takes well under
                                                 a millisecond, so 1 s of silence is a drop)
    ftp_client.py hold HOST --count N [--bare | --user U --password P [--pasv [--extended]]]
                       [--signal FILE] [--linger S]
                                                 N control connections held at once (logged in with
                                                 --user, each with a PASV or EPSV outstanding with
                                                 --pasv); once all are held, FILE is made and they
                                                 stay S seconds; how many were welcomed, the refusal,
                                                 and the passive replies. --bare: TCP connections
                                                 only, as fast as they open, failures counted
    ftp_client.py parallel HOST --user U --password P --clients K [--retr NAME]
                                                 K clients log in at the same instant (and download
                                                 NAME into nothing): how many made it, what the
                                                 others got, the seconds and the MB/s
    ftp_client.py raw HOST LINE [--repeat N]
                                                 after the greeting, LINE N times ({i}: its number) in
                                                 one write; all the server answered until it went
                                                 quiet for 3 s or hung up
    ftp_client.py guess HOST --user U --attempts N
                                                 N wrong passwords on one connection: how long each
                                                 refusal took, and whether the connection stayed open
    ftp_client.py greeting HOST                  the greeting and the replies to FEAT, SYST, HELP, STAT
                                                 and SITE HELP before any login
    ftp_client.py steal HOST get|put --user U --password P --ca FILE [--tls 1.2|1.3]
                                                 a second control connection from this address takes
                                                 the TLS session it made itself to the victim's waiting
                                                 passive port (RETR or STOR of a file stored first);
                                                 whether that file was kept, then the victim tries again
    ftp_client.py many HOST --user U --password P --ca FILE [--tls 1.2|1.3] [--files 50] [--active]
                                                 one login over TLS, that many uploads and downloads,
                                                 every data connection resuming the control session
    ftp_client.py cut HOST FILE fin|bare|reset|short --user U --password P [--ca FILE [--tls 1.2|1.3]]
                       [--size N]
                                                 STOR onto FILE (first stored whole, N bytes) cut short:
                                                 fin, a TLS data connection ended by a TCP FIN without
                                                 close_notify (an injected FIN); bare, one ended before
                                                 its handshake; reset, a TCP reset halfway; short, ALLO
                                                 N then half of them and a clean end. The reply, and the
                                                 size and whether FILE still holds its first bytes
    ftp_client.py replies HOST --user U --password P
                                                 the reply to each command of REPLIES for a missing
                                                 path, one outside the home and one refused (the
                                                 server prepares e2e-locked and e2e-locked.txt in the
                                                 home, neither readable nor removable by the user)
    ftp_client.py pasv HOST --user U --password P [--extended] [--hold FILE]
                                                 one login in cleartext, the reply to PASV (or EPSV),
                                                 then a connection to the port it names, as a client
                                                 makes (an abandoned passive port keeps the kernel's
                                                 FTP helper expecting it, see docs/networking.md);
                                                 --hold: first write the port to FILE and wait for
                                                 FILE.go, then connect and send NLST: its replies, and
                                                 NOOP's after it

Common options: --port (21), --name (the name the certificate carries; default HOST), --timeout (20 s).
It needs ftp_audit.py beside it (the audit's client, whose session-resuming FTP_TLS it shares).
"""

import argparse
import contextlib
import ftplib
import hashlib
import io
import json
import os
import socket
import ssl
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ftp_audit import Resuming   # the audit's client, beside this file

VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def context(args):
    ctx = ssl.create_default_context(cafile=args.ca or None)   # --ca '': the system's trust store
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
    victim.storbinary(f"STOR {name}", io.BytesIO(secret))   # what RETR takes, or what STOR is aimed at
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
    else:   # the file the refused STOR was aimed at, as a login of its own finds it
        del seen["received"]
        checker = login(args)
        checker.cwd(args.directory)
        now = io.BytesIO()
        reply_of(lambda: checker.retrbinary(f"RETR {name}", now.write))
        reply_of(checker.quit)
        data = now.getvalue()
        seen["kept"] = data == secret
        seen["stored_by_attacker"] = len(data) if data and data == b"A" * len(data) else 0
    seen["victim_retry"] = "not tried"
    # The victim tries again with its own session: on the same login if the server kept it (pyftpdlib),
    # else on a new one (vsftpd ends a session whose data connection failed its TLS check).
    for again in ("same login", "new login"):
        if again == "new login":
            reply_of(victim.close)
            victim = login(args)
            victim.cwd(args.directory)
        if not str(reply_of(lambda: victim.voidcmd("TYPE I"))).startswith("200"):
            continue   # a late reply to the refused command came first, or the login is gone
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


def cut(args):
    """STOR onto a file stored whole first, cut as args.how says (see the module's doc): the reply that
    ends the STOR, then the size the server gives the file and whether it still holds its first bytes."""
    tls = bool(args.ca)
    ftp = login(args) if tls else connect(args, ftplib.FTP)
    if not tls:
        ftp.login(args.user, args.password)
    ftp.cwd(args.directory)
    ftp.voidcmd("TYPE I")
    first = os.urandom(args.size)
    ftp.storbinary(f"STOR {args.file}", io.BytesIO(first))
    if args.how == "short":
        ftp.sendcmd(f"ALLO {args.size}")
    if args.how == "bare":   # the data connection, but no TLS on it
        conn = ftplib.FTP.ntransfercmd(ftp, f"STOR {args.file}")[0]
        time.sleep(0.2)
    else:
        conn = ftp.transfercmd(f"STOR {args.file}")
        conn.sendall(os.urandom(args.size if args.how == "fin" else args.size // 2))
    if args.how == "fin":
        conn.shutdown(socket.SHUT_WR)   # an SSLSocket drops its TLS state here: no close_notify is sent
    elif args.how == "reset":
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    elif args.how == "short" and tls:
        conn = conn.unwrap()   # a clean TLS end: only the size tells the cut
    if args.how != "fin":
        conn.close()
    seen = {"reply": final_reply(ftp)}
    conn.close()
    seen["size"] = reply_of(lambda: ftp.size(args.file))
    back = io.BytesIO()
    reply_of(lambda: ftp.retrbinary(f"RETR {args.file}", back.write))
    seen["intact"] = back.getvalue() == first
    reply_of(lambda: ftp.delete(args.file))
    reply_of(ftp.quit)
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


# The path each command gets in each situation; a data command's data connection is made first.
REPLIES = {
    "LIST": ("upload/e2e-missing", "../../etc", "e2e-locked"),
    "NLST": ("upload/e2e-missing", "../../etc", "e2e-locked"),
    "MLSD": ("upload/e2e-missing", "../../etc", "e2e-locked"),
    "CWD": ("upload/e2e-missing", "../../etc", "e2e-locked"),
    "MLST": ("upload/e2e-missing.txt", "../../etc/passwd", "e2e-locked.txt"),
    "SIZE": ("upload/e2e-missing.txt", "../../etc/passwd", "e2e-locked.txt"),
    "MDTM": ("upload/e2e-missing.txt", "../../etc/passwd", "e2e-locked.txt"),
    "RETR": ("upload/e2e-missing.txt", "../../etc/passwd", "e2e-locked.txt"),
    "STOR": ("upload/e2e-missing/new.txt", "../../etc/e2e.txt", "e2e-new.txt"),
    "DELE": ("upload/e2e-missing.txt", "../../etc/passwd", "e2e-locked.txt"),
    "RMD": ("upload/e2e-missing", "../../etc", "e2e-locked"),
    "MKD": ("upload/e2e-missing/sub", "../../etc/e2e", "e2e-newdir"),
    "RNFR": ("upload/e2e-missing.txt", "../../etc/passwd", "e2e-locked.txt"),
}
SITUATIONS = ("missing", "outside", "denied")
UPLOADS = {"STOR", "APPE", "STOU"}
DATA = {"LIST", "NLST", "MLSD", "RETR"} | UPLOADS


def transfer(ftp, line, body=b"e2e", sink=None, peers=None):
    """One data command as written, its data connection first (in passive mode): `body` sent up, or
    what comes down written to `sink`; the reply that ends it. `peers` gets the data connection's port."""
    def go():
        ftp.voidcmd("TYPE I")
        with ftp.transfercmd(line) as conn:
            if peers is not None:
                peers.append(conn.getpeername()[1])
            try:
                if line.split()[0].upper() in UPLOADS:
                    conn.sendall(body)
                else:
                    while chunk := conn.recv(65536):
                        if sink is not None:
                            sink.write(chunk)
            except OSError:   # the server ended the data connection early (a full disk): its reply says why
                pass
        return final_reply(ftp)
    return reply_of(go)


def answer(ftp, command, path):
    """The reply that ends one command (RNFR: RNTO's when RNFR was accepted)."""
    if command in DATA:
        return transfer(ftp, f"{command} {path}")
    reply = reply_of(lambda: ftp.sendcmd(f"{command} {path}"))
    if command == "RNFR" and reply[:1] == "3":
        reply = reply_of(lambda: ftp.sendcmd("RNTO e2e-renamed.txt"))
    return reply


def run(args):
    if args.debug:
        with contextlib.redirect_stdout(sys.stderr):   # ftplib prints its dialogue
            return session(args)
    return session(args)


def session(args):
    if args.ca:
        ftp = connect(args, ftplib.FTP_TLS if args.new_sessions else Resuming)
        ftp.auth()
    else:
        ftp = connect(args, ftplib.FTP)
    ftp.set_debuglevel(1 if args.debug else 0)
    seen = {"login": reply_of(lambda: ftp.login(args.user, args.password)), "steps": [], "peers": []}
    if not seen["login"].startswith("230"):
        reply_of(ftp.close)
        return seen
    if args.ca and args.prot == "P":
        ftp.prot_p()
    ftp.set_pasv(not args.active)
    if args.upload:
        with open(args.upload, "rb") as f:
            body = f.read()
    else:
        body = b"e2e"[:args.size] if args.size <= 3 else os.urandom(args.size)
    for line in args.commands:
        verb = line.split()[0].upper()
        data = None
        if verb in DATA:
            received = io.BytesIO()
            reply = transfer(ftp, line, body, received, seen["peers"])
            if verb == "RETR" and args.download:
                with open(args.download, "wb") as f:
                    f.write(received.getvalue())
            elif verb not in UPLOADS:
                data = received.getvalue().decode(errors="replace")
        else:
            reply = reply_of(lambda: ftp.sendcmd(line))
        seen["steps"].append({"command": line, "reply": reply, "data": data})
        if reply.startswith("closed"):
            break   # the connection is gone or stuck: the commands after it would only wait
    reply_of(ftp.quit)
    return seen


def state(host, port, timeout):
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.settimeout(timeout)
    try:
        sock.connect((host, port))
        return "open"
    except ConnectionRefusedError:
        return "closed"
    except (TimeoutError, socket.timeout):
        return "filtered"
    finally:
        sock.close()


def probe(args):
    def row(port):
        return [state(args.host, port, args.wait) for attempt in range(args.repeat)]
    with ThreadPoolExecutor(len(args.ports)) as pool:
        return dict(zip(map(str, args.ports), pool.map(row, args.ports)))


def hold(args):
    if args.bare:
        held = []
        for attempt in range(args.count):
            try:
                held.append(socket.create_connection((args.host, args.port), timeout=5))
            except OSError:
                pass
        for sock in held:
            sock.close()
        return {"connected": len(held)}
    held, seen = [], {"welcomed": 0, "refused": None, "pasv": []}
    try:
        for attempt in range(args.count):
            try:
                ftp = connect(args, ftplib.FTP)
            except ftplib.Error as err:
                seen["refused"] = str(err)
                break
            except (EOFError, ConnectionResetError):
                seen["refused"] = "closed before the greeting"
                break
            held.append(ftp)
            seen["welcomed"] += 1
            if args.user:
                ftp.login(args.user, args.password)
            if args.pasv:
                seen["pasv"].append(reply_of(lambda: ftp.sendcmd("EPSV" if args.extended else "PASV")))
        if args.signal:
            open(args.signal, "w").close()
        time.sleep(args.linger)
    finally:
        for ftp in held:
            reply_of(ftp.close)
    return seen


def raw(args):
    with socket.create_connection((args.host, args.port), timeout=args.timeout) as sock:
        sock.recv(4096)
        payload = "".join(args.line.replace("{i}", str(i)) + "\r\n" for i in range(args.repeat))
        answer = b""
        try:
            sock.sendall(payload.encode())
            sock.settimeout(3)
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError:   # a server may hang up mid-way (vsftpd does on an over-long line)
            pass
    return {"answer": answer.decode(errors="replace")}


def guess(args):
    ftp = connect(args, ftplib.FTP)
    delays = []
    for i in range(args.attempts):
        start = time.monotonic()
        reply_of(lambda: ftp.login(args.user, f"wrong-{i}"))
        delays.append(time.monotonic() - start)
    after = reply_of(lambda: ftp.sendcmd(f"USER {args.user}"))
    return {"delays": delays, "after": after if after.startswith("closed") else "still open"}


def parallel(args):
    barrier, results = threading.Barrier(args.clients), []

    def one():
        try:
            ftp = ftplib.FTP(timeout=60)
            barrier.wait()
            ftp.connect(args.host, args.port)
            ftp.login(args.user, args.password)
            size = [0]
            if args.retr:
                ftp.retrbinary(f"RETR {args.retr}", lambda b: size.__setitem__(0, size[0] + len(b)), 1 << 16)
            results.append(("ok", size[0]))
            ftp.quit()
        except Exception as err:   # whatever a client meets is the figure
            results.append((f"{type(err).__name__}: {str(err)[:60]}", 0))
    threads = [threading.Thread(target=one) for client in range(args.clients)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.monotonic() - start
    failures = [outcome for outcome, size in results if outcome != "ok"]
    return {"k": args.clients, "seconds": took, "ok": args.clients - len(failures), "failures": sorted(set(failures)),
            "mb_per_s": sum(size for outcome, size in results) / took / 1e6}


def replies(args):
    """Each command of REPLIES in each situation: the three digits of the reply that ended it."""
    ftp = connect(args, ftplib.FTP)
    ftp.login(args.user, args.password)
    seen = {}
    for command, paths in REPLIES.items():
        for situation, path in zip(SITUATIONS, paths):
            seen.setdefault(command, {})[situation] = answer(ftp, command, path)[:3]
            reply_of(lambda: ftp.cwd("/"))
    reply_of(ftp.quit)
    return seen


def pasv(args):
    ftp = connect(args, ftplib.FTP)
    ftp.login(args.user, args.password)
    reply = ftp.sendcmd("EPSV" if args.extended else "PASV")
    if args.extended:
        address, port = args.host, ftplib.parse229(reply, (args.host, 0))[1]
    else:
        address, port = ftplib.parse227(reply)
    seen = {"reply": reply}
    if args.hold:   # another host tries the port meanwhile
        with open(args.hold + ".tmp", "w") as f:
            f.write(str(port))
        os.rename(args.hold + ".tmp", args.hold)
        deadline = time.monotonic() + args.timeout
        while not os.path.exists(args.hold + ".go") and time.monotonic() < deadline:
            time.sleep(0.1)
    try:
        with socket.create_connection((address, port), timeout=min(args.timeout, 5)) as data:
            seen["data"] = "connected"
            if args.hold:   # the listing, and whether the session's replies are still in step after it
                ftp.putcmd("NLST")
                seen["listing"] = reply_of(ftp.getline)
                if seen["listing"][:1] == "1":
                    with contextlib.suppress(OSError):
                        while data.recv(65536):
                            pass
                    seen["end"] = reply_of(ftp.getline)
                seen["noop"] = reply_of(lambda: ftp.sendcmd("NOOP"))
    except OSError as err:
        seen["data"] = f"failed: {err!r}"
    reply_of(ftp.close)
    return seen


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
    tls.add_argument("--ca", required=True, help="the CA to check the server with; '' for the system's store")
    tls.add_argument("--tls", choices=sorted(VERSIONS), default="")
    optional_tls = argparse.ArgumentParser(add_help=False)
    optional_tls.add_argument("--ca", default="", help="over TLS, checked with this CA")
    optional_tls.add_argument("--tls", choices=sorted(VERSIONS), default="")
    sub.add_parser("greeting", parents=[common])
    theft = sub.add_parser("steal", parents=[common, account, tls])
    theft.add_argument("direction", choices=["get", "put"])
    passive = sub.add_parser("pasv", parents=[common, account])
    passive.add_argument("--extended", action="store_true", help="EPSV (RFC 2428) instead of PASV")
    passive.add_argument("--hold", default="", metavar="FILE", help="write the port here, wait for FILE.go")
    sub.add_parser("replies", parents=[common, account])
    ports = sub.add_parser("probe", parents=[common])
    ports.add_argument("ports", type=int, nargs="+")
    ports.add_argument("--repeat", type=int, default=1)
    ports.add_argument("--wait", type=float, default=1, help="seconds of silence that make a port filtered")
    held = sub.add_parser("hold", parents=[common])
    held.add_argument("--count", type=int, required=True)
    held.add_argument("--user", default="")
    held.add_argument("--password", default="")
    held.add_argument("--pasv", action="store_true", help="leave a PASV outstanding on each (needs --user)")
    held.add_argument("--extended", action="store_true", help="EPSV instead of PASV")
    held.add_argument("--bare", action="store_true", help="TCP connections only, no greeting read")
    held.add_argument("--signal", default="", metavar="FILE", help="made once every connection is held")
    held.add_argument("--linger", type=float, default=0, help="seconds to hold them after that")
    crowd = sub.add_parser("parallel", parents=[common])
    crowd.add_argument("--user", required=True)
    crowd.add_argument("--password", required=True)
    crowd.add_argument("--clients", type=int, required=True)
    crowd.add_argument("--retr", default="", metavar="NAME", help="each client downloads this file")
    garbage = sub.add_parser("raw", parents=[common])
    garbage.add_argument("line")
    garbage.add_argument("--repeat", type=int, default=1)
    guesses = sub.add_parser("guess", parents=[common])
    guesses.add_argument("--user", required=True)
    guesses.add_argument("--attempts", type=int, required=True)
    one = sub.add_parser("run", parents=[common, account])
    one.add_argument("-c", dest="commands", action="append", default=[], metavar="COMMAND",
                     help="an FTP command, as sent (repeat for more)")
    one.add_argument("--ca", default="", help="log in over TLS, checking the certificate with this CA")
    one.add_argument("--prot", choices=["P", "C"], default="P", help="data connections over TLS: P, or C")
    one.add_argument("--new-sessions", action="store_true",
                     help="each data connection starts a TLS session of its own (plain ftplib)")
    one.add_argument("--active", action="store_true", help="active mode (PORT/EPRT)")
    one.add_argument("--size", type=int, default=3, help="bytes each STOR/APPE sends")
    one.add_argument("--upload", default="", metavar="FILE", help="what each STOR/APPE sends")
    one.add_argument("--download", default="", metavar="FILE", help="where RETR writes")
    one.add_argument("--debug", action="store_true", help="the dialogue on stderr")
    one.add_argument("--tls", choices=sorted(VERSIONS), default="")
    cutting = sub.add_parser("cut", parents=[common, account, optional_tls])
    cutting.add_argument("file")
    cutting.add_argument("how", choices=["fin", "bare", "reset", "short"])
    cutting.add_argument("--size", type=int, default=300000)
    bulk = sub.add_parser("many", parents=[common, account, tls])
    bulk.add_argument("--files", type=int, default=50)
    bulk.add_argument("--active", action="store_true", help="active mode (PORT/EPRT) instead of passive")
    return parser.parse_args(argv)


COMMANDS = {"run": run, "replies": replies, "pasv": pasv, "probe": probe, "hold": hold, "parallel": parallel,
            "raw": raw, "guess": guess, "greeting": greeting, "steal": steal, "many": many, "cut": cut}


def main(argv=None):
    args = parse(argv)
    try:
        result = COMMANDS[args.command](args)
    except (OSError, EOFError, ftplib.Error, ssl.SSLError) as err:
        result = {"error": f"{type(err).__name__}: {err}"}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

# MIT License (see LICENSE)
"""The FTP server of the ftp_server role's pyftpdlib backend, configured by the JSON file the role
renders. It behaves like the role's vsftpd from the outside: fixed passive range (and a 425 instead of
a random port when the range is used up), announced address, chroot, hashed passwords, caps, delays
after failed logins, no bounce or port stealing, an xferlog in vsftpd's format, FTPS (TLS 1.2+) whose
data connections must resume their own control connection's TLS session.

    server.py --config FILE               serve (SIGHUP: read the settings, accounts and certificate again)
    server.py --config FILE --check       validate FILE and its accounts, exit: 0 good, 1 bad
    server.py --accounts FILE --check     validate an accounts file alone

The settings and the accounts (a file of their own, config "accounts") are read again on SIGHUP: new
sessions get them, transfers under way go on, and the sessions of a removed account are ended. Only the
control port and the TLS mode take a restart (RESTART).
"""

import argparse
import ctypes
import ctypes.util
import hmac
import ipaddress
import json
import logging
import os
import signal
import socket
import sys
import tempfile
import time

from pyftpdlib.authorizers import AuthenticationFailed, DummyAuthorizer
from pyftpdlib.filesystems import AbstractedFS
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.handlers.ftp.data import DTPHandler
from pyftpdlib.handlers.ftp.dispatchers import PassiveDTP
from pyftpdlib.servers import FTPServer

# What each access mode may do (pyftpdlib's letters): in the home, in the upload directory, in a shared
# directory. e: CWD, l: LIST/NLST/MLSD/MLST/STAT/SIZE/MDTM, r: RETR, a: APPE, d: DELE/RMD, f: RNFR/RNTO,
# m: MKD, w: STOR/STOU, T: MFMT (no M: SITE CHMOD, which vsftpd's
# virtual accounts do not have). The home itself is read-only (as under vsftpd's chroot).
PERMS = {
    "read_write": {"home": "elr", "upload": "elradfmwT"},
    "read_only": {"home": "elr", "upload": "elr"},
    # A drop box: store new files (Hardening.ftp_STOR refuses to overwrite), nothing else.
    "upload_only": {"home": "e", "upload": "ew"},
}
ACCESS = tuple(PERMS)


class ConfigError(ValueError):
    pass


# The system's crypt(3) (libxcrypt): it knows every hash format the system does ($6$, $y$...),
# where Python's own crypt module is gone since 3.13.
_libcrypt = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
_libcrypt.crypt.restype = ctypes.c_char_p
_libcrypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]


def crypt(password, setting):
    out = _libcrypt.crypt(password.encode(), setting.encode())
    return out.decode() if out and not out.startswith(b"*") else None


def verify(password, hashed):
    out = crypt(password, hashed)
    return out is not None and hmac.compare_digest(out, hashed)


def require(condition, message):
    if not condition:
        raise ConfigError(message)


def load(path, probe=False):
    """Read and validate the config; ConfigError names what is wrong."""
    try:
        with open(path, encoding="utf-8") as f:
            cfg = json.load(f)
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot read {path}: {err}") from None
    require(isinstance(cfg, dict), "the config is not a JSON object")
    cfg.setdefault("ipv6_prefix", 64)
    for key in ("listen_port", "passive_min_port", "passive_max_port", "max_clients", "max_per_ip",
                "max_login_attempts", "login_failure_delay", "ipv6_prefix"):
        require(isinstance(cfg.get(key), int) and cfg[key] >= 0, f"{key} must be a whole number")
    require(1 <= cfg["listen_port"] <= 65535, "listen_port must be 1-65535")
    require(1 <= cfg["ipv6_prefix"] <= 128, "ipv6_prefix must be 1-128")
    low, high = cfg["passive_min_port"], cfg["passive_max_port"]
    require(1024 < low <= high <= 65535, f"passive range {low}-{high} must be ascending, above 1024, at most 65535")
    require(not low <= cfg["listen_port"] <= high, "the passive range covers listen_port")
    cfg["passive_address"] = announced(cfg.get("passive_address") or "", cfg.get("passive_address_resolve"))
    require(isinstance(cfg.get("active_enabled"), bool), "active_enabled must be true or false")
    require(cfg.get("anonymous") is False, "anonymous logins are not offered by this backend")
    cfg["accounts"] = str(cfg.get("accounts") or "")
    # A check (--check) may come before the accounts file and the log's directory exist: the role writes
    # them with the config in one call, the accounts checked on their own. The server itself refuses to
    # start without them.
    first = probe and not os.path.exists(cfg["accounts"])
    cfg["users"] = [] if first else load_accounts(cfg["accounts"], probe)["users"]
    xferlog = cfg.get("xferlog") or ""
    require(not xferlog or probe or os.path.isdir(os.path.dirname(xferlog)), f"xferlog {xferlog!r}: no such directory")
    banner = cfg.get("banner", "FTP server ready.")
    require(isinstance(banner, str) and 0 < len(banner) <= 200 and banner.isprintable() and banner.isascii(),
            "banner must be one line of printable ASCII, at most 200 characters")
    require(cfg.get("tls") in ("off", "optional", "required"), "tls must be off, optional or required")
    require(isinstance(cfg.get("tls_session_reuse", False), bool), "tls_session_reuse must be true or false")
    if cfg["tls"] != "off":
        cfg["tls_material"] = tls_material(cfg)
        cfg["sessions"] = Sessions()
    return cfg


def load_accounts(path, probe=False):
    """Read and validate the accounts file ({"home_base": ..., "users": [...]}). probe: try each hash
    with crypt(3) (--check does, before the role writes the file; a reload does not: yescrypt takes tens
    of milliseconds a hash, while every transfer waits)."""
    try:
        with open(path, encoding="utf-8") as f:
            accounts = json.load(f)
    except (OSError, ValueError) as err:
        raise ConfigError(f"cannot read the accounts {path!r}: {err}") from None
    require(isinstance(accounts, dict), f"{path}: not a JSON object")
    users = accounts.get("users")
    require(isinstance(users, list), "users must be a list")
    names = [u.get("name") for u in users]
    require(len(set(names)) == len(names), "users lists a name twice")
    base = str(accounts.get("home_base") or "")
    require(os.path.isabs(base), f"home_base {base!r} must be an absolute path")
    for user in users:
        name = user.get("name")
        require(isinstance(name, str) and name and "/" not in name and name not in (".", ".."),
                f"user name {name!r} is not a plain name")
        hashed = str(user.get("password_hash", ""))
        require(hashed.startswith("$") and (not probe or crypt("probe", hashed) is not None),
                f"user {name}: password_hash is not a crypt hash this system knows")
        access = user.setdefault("access", "read_write")
        require(access in ACCESS, f"user {name}: access {access!r} is not one of {', '.join(ACCESS)}")
        rate = user.setdefault("max_rate", 0)
        require(isinstance(rate, int) and not isinstance(rate, bool) and rate >= 0,
                f"user {name}: max_rate must be a whole number of bytes per second")
        # The home is the chroot; uploads go to one directory inside it; a shared directory is mounted
        # (bind, by the role) at another.
        user["home"] = os.path.join(base, name)
        user["upload"] = os.path.join(user["home"], str(user.get("upload_dir") or "upload"))
        require(os.path.isdir(user["home"]), f"user {name}: home {user['home']} is not a directory")
        require(os.path.dirname(os.path.realpath(user["upload"])) == os.path.realpath(user["home"]),
                f"user {name}: upload_dir must be one directory inside the home")
        if user.get("shared"):
            user["share"] = os.path.join(user["home"], os.path.basename(str(user["shared"]).rstrip("/")))
            require(os.path.dirname(os.path.realpath(user["share"])) == os.path.realpath(user["home"]),
                    f"user {name}: shared must be one directory name inside the home")
            shared = user.setdefault("shared_access", access)
            require(shared in ACCESS, f"user {name}: shared_access {shared!r} is not one of {', '.join(ACCESS)}")
    return {"home_base": base, "users": users}


def announced(address, resolve):
    """The IPv4 address for PASV replies: given as one, or a name resolved now (when allowed)."""
    if not address:
        return ""
    try:
        return str(ipaddress.IPv4Address(address))
    except ValueError:
        pass
    require(resolve, f"passive_address {address!r} is not an IPv4 address (a name needs passive_address_resolve)")
    try:
        return socket.gethostbyname(address)
    except OSError as err:
        raise ConfigError(f"passive_address {address!r} does not resolve: {err}") from None


def tls_material(cfg):
    """The certificate chain and key, read and checked at start and on SIGHUP: every new connection's
    context is made from them (a session under way keeps the context it started with)."""
    try:
        from OpenSSL import SSL, crypto
    except ImportError:
        raise ConfigError("tls needs pyOpenSSL (Debian: python3-openssl)") from None
    try:
        with open(str(cfg.get("tls_certificate")), "rb") as f:
            chain = [crypto.load_certificate(crypto.FILETYPE_PEM, b"-----BEGIN CERTIFICATE-----" + block)
                     for block in f.read().split(b"-----BEGIN CERTIFICATE-----")[1:]]
        with open(str(cfg.get("tls_private_key")), "rb") as f:
            key = crypto.load_privatekey(crypto.FILETYPE_PEM, f.read())
    except (OSError, crypto.Error) as err:
        raise ConfigError(f"tls: certificate or key unreadable: {err}") from None
    require(chain, f"tls: no certificate in {cfg.get('tls_certificate')}")
    material = {"chain": chain, "key": key, "ciphers": str(cfg.get("tls_ciphers") or "").encode()}
    try:
        tls_context(material)
    except SSL.Error as err:
        raise ConfigError(f"tls: certificate, key or ciphers unusable: {err}") from None
    return material


def tls_context(material):
    """A new TLS context: TLS 1.2 or newer, the configured ciphers, the certificate and its key.

    Each control connection gets one of its own (TLSHandler.get_ssl_context): its session cache and
    session-ticket keys then serve that connection's data connections and no other, so a TLS session
    taken from another control connection does not resume here."""
    from OpenSSL import SSL
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    ctx.set_session_id(b"ftp-server")
    # The keys live as long as the control connection; the lifetime a ticket announces, a day at most.
    ctx.set_timeout(TICKET_LIFETIME)
    ctx.set_options(SSL.OP_NO_COMPRESSION | SSL.OP_CIPHER_SERVER_PREFERENCE
                    | getattr(SSL, "OP_NO_RENEGOTIATION", 0))
    ctx.set_cipher_list(material["ciphers"])
    ctx.use_certificate(material["chain"][0])
    for extra in material["chain"][1:]:
        ctx.add_extra_chain_cert(extra)
    ctx.use_privatekey(material["key"])
    ctx.check_privatekey()
    return ctx


TICKET_LIFETIME = 86400


class Sessions:
    """TLS sessions, by libssl calls pyOpenSSL does not offer (on the libssl it runs on; the binding of
    Ubuntu 24.04's python3-cryptography 41 lacks even SSL_session_reused).

    Whether a data connection resumed a session: vsftpd's require_ssl_reuse (DataHandler).

    TLS 1.3 session tickets: data connections send none: an uploading client never reads them, and closing a socket with unread
    data makes the kernel reset the connection, which throws away the end of the upload still on its way
    (seen with rclone: 17 of 20 MB stored). The control connection sends a fresh one with each passive or
    active data connection it announces instead: clients use a TLS 1.3 ticket once (curl does), so two
    tickets from the handshake would last two transfers."""

    def __init__(self):
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "libssl.so" in line}
        require(len(paths) == 1, f"tls: pyOpenSSL must run on the system's libssl (found {sorted(paths) or 'none'})")
        try:
            libssl = ctypes.CDLL(paths.pop())
            self._count = libssl.SSL_set_num_tickets
            self._new = libssl.SSL_new_session_ticket
            self._reused = libssl.SSL_session_reused
        except (OSError, AttributeError) as err:
            raise ConfigError(f"tls: the system's libssl lacks what TLS sessions need (OpenSSL 3): {err}") from None
        self._count.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        self._new.argtypes = [ctypes.c_void_p]
        self._reused.argtypes = [ctypes.c_void_p]
        from OpenSSL._util import ffi
        self._pointer = lambda connection: int(ffi.cast("uintptr_t", connection._ssl))

    def reused(self, connection):
        return self._reused(self._pointer(connection)) == 1

    def none(self, connection):
        return self._count(self._pointer(connection), 0) == 1

    def one_more(self, connection):
        if connection.get_protocol_version_name() == "TLSv1.3":
            self._new(self._pointer(connection))


class Authorizer(DummyAuthorizer):
    """Accounts from the config: crypt hashes, a read-only home, an upload directory and a shared one,
    each with what the account's access mode allows there."""

    def __init__(self, users):
        super().__init__()
        self.hashes, self.rates, self.access = {}, {}, {}
        for user in users:
            name, perms = user["name"], PERMS[user["access"]]
            self.add_user(name, "", user["home"], perm=perms["home"])
            if os.path.isdir(user["upload"]) and user["access"] != "read_only":
                self.override_perm(name, user["upload"], perms["upload"], recursive=True)
            if user.get("share"):
                self.override_perm(name, user["share"], PERMS[user["shared_access"]]["upload"], recursive=True)
            self.hashes[name] = user["password_hash"]
            self.rates[name] = user["max_rate"]
            self.access[name] = user["access"]

    def has_perm(self, username, perm, path=None):
        # An account removed by a reload, in the moment before its session is ended: nothing.
        return username in self.user_table and super().has_perm(username, perm, path)

    def validate_authentication(self, username, password, handler):
        hashed = self.hashes.get(username)
        if hashed is None or not verify(password, hashed):
            raise AuthenticationFailed("Authentication failed.")


class RangeExhausted(Exception):
    pass


class BoundedPassiveDTP(PassiveDTP):
    """pyftpdlib falls back to a random kernel port when every port of the range is busy, which the
    firewall then drops and the client hangs on. Refuse instead."""

    tried_range = False

    def bind(self, addr):
        if addr[1] == 0 and self.tried_range:
            self.close()
            raise RangeExhausted
        if addr[1]:
            self.tried_range = True
        super().bind(addr)

    def handle_accepted(self, sock, addr):
        # Another address on the waiting port (no bounce, no theft): hung up on, and nothing said on the
        # control connection. pyftpdlib answers 425 there, unasked, which puts every later reply of the
        # rightful session one step behind; it still gets its own data connection here.
        if self.cmd_channel.remote_ip != addr[0] and not self.cmd_channel.permit_foreign_addresses:
            sock.close()
            self.cmd_channel.log(f"data connection from foreign address {addr[0]}:{addr[1]} refused",
                                 logfun=logging.getLogger("pyftpdlib").warning)
            return
        channel = self.cmd_channel
        super().handle_accepted(sock, addr)
        queued = channel.connected and channel.data_channel is None and (channel._in_dtp_queue or channel._out_dtp_queue)
        if queued:   # the connection was gone as it was accepted (a reset): the transfer waiting on it fails
            receive = queued is channel._in_dtp_queue
            file, cmd = (queued[0], queued[1]) if receive else (queued[2], queued[3])
            if file is not None:
                file.close()
                channel.log_transfer(cmd, file.name, receive, False, 0, 0)
            channel._in_dtp_queue = channel._out_dtp_queue = None
            channel.respond("425 Data connection closed as it opened.")


UMASK = os.umask(0o022)
os.umask(UMASK)


class Upload:
    """A STOR from the first byte, written under a hidden name beside its target (ProFTPD's HiddenStores)
    and given the target's name only when the transfer ends complete (keep()): a refused, cut or failed
    upload leaves the file it was aimed at as it was, and leaves nothing else (close())."""

    def __init__(self, path, exclusive):
        folder, base = os.path.split(path)
        if exclusive and os.path.lexists(path):
            raise FileExistsError(17, "File exists", path)
        fd, self.temp = tempfile.mkstemp(prefix=f".in.{base}.", dir=folder)
        try:   # an overwritten file keeps its mode, as one opened for writing would
            os.fchmod(fd, os.stat(path).st_mode & 0o7777 if os.path.exists(path) else 0o666 & ~UMASK)
        except OSError:
            os.close(fd)
            os.unlink(self.temp)
            raise
        self.file = os.fdopen(fd, "wb")
        self.name, self.exclusive, self.kept = path, exclusive, False

    @property
    def closed(self):
        return self.file.closed

    def write(self, data):
        return self.file.write(data)

    def keep(self):
        """Close and take the target's name; False if that failed (the file is then discarded)."""
        try:
            self.file.close()
            if self.exclusive:   # a drop box: a file that appeared meanwhile is not replaced
                os.link(self.temp, self.name)
                os.unlink(self.temp)
            else:
                os.replace(self.temp, self.name)
            self.kept = True
        except OSError as err:
            logging.error("upload %s not stored: %s", self.name, err)
            self.close()
        return self.kept

    def close(self):
        if not self.file.closed:
            try:
                self.file.close()
            except OSError:
                pass
        if not self.kept:
            try:
                os.unlink(self.temp)
            except FileNotFoundError:
                pass


class Files(AbstractedFS):
    """Listings name the owner "ftp" (vsftpd's hide_ids): every file belongs to one system account,
    whose name and numbers are nobody's business. An upload from the start is an Upload."""

    def open(self, filename, mode):
        if mode in ("wb", "xb"):
            return Upload(filename, mode == "xb")
        return super().open(filename, mode)

    def get_user_by_uid(self, uid):
        return "ftp"

    def get_group_by_gid(self, gid):
        return "ftp"


class Hardening:
    """What both handlers (cleartext and TLS) add to pyftpdlib's."""

    passive_dtp = BoundedPassiveDTP
    abstracted_fs = Files
    permit_foreign_addresses = False   # no bounce: PORT/EPRT only to the client itself
    permit_privileged_ports = False    # and never to its ports below 1024
    active_enabled = True
    xferlog = ""

    def _make_epasv(self, extmode=False):
        try:
            super()._make_epasv(extmode)
        except RangeExhausted:
            self._dtp_acceptor = None
            self.respond_w_warning("425 Every passive port is busy; try again later.")

    command = ""

    def pre_process_command(self, line, cmd, arg):
        self.command = cmd
        super().pre_process_command(line, cmd, arg)

    def respond(self, resp, *args, **kwargs):
        # RFC 959 gives STOR, STOU and APPE 553 (file name not allowed) for a file they may not create;
        # pyftpdlib says 550, which these commands do not have. vsftpd says 553 where the account may
        # store files, and 550 (a command refused) for a read-only account, and for APPE in a drop box.
        if self.command in ("STOR", "STOU", "APPE") and resp.startswith("550 ") and self.stores(self.command):
            resp = "553" + resp[3:]
        super().respond(resp, *args, **kwargs)

    def stores(self, command):
        access = self.authorizer.access.get(self.username)
        return access == "read_write" or (access == "upload_only" and command != "APPE")

    def drop_box(self):
        return self.authenticated and self.authorizer.access.get(self.username) == "upload_only"

    max_rate = 0   # the account's cap, bytes per second (0: none); see Limited

    def on_login(self, username):
        self.max_rate = self.authorizer.rates.get(username, 0)

    ipv6_prefix = 64

    def on_login_failed(self, username, password):
        # An IPv6 client also as its prefix, the one source fail2ban counts and bans (a host rotating
        # addresses within its /64 would otherwise never reach the limit); IPv4 by the line above.
        address = ipaddress.ip_address(self.remote_ip.split("%")[0])
        if address.version == 6 and not address.ipv4_mapped:
            prefix = ipaddress.ip_network(f"{address}/{self.ipv6_prefix}", strict=False)
            logging.getLogger("pyftpdlib").info("failed login from %s", prefix)

    allocated = expected = 0

    def ftp_ALLO(self, line):
        # The size an upload announces (lftp with ftp:use-allo, PHP's ftp_alloc): a binary STOR from the start
        # that ends short of it is a cut upload (426, logged incomplete), where a plain connection's end
        # cannot tell it.
        size = line.split()[0] if line.split() else ""
        self.allocated = int(size) if size.isdigit() else 0
        self.respond("202 No storage allocation necessary.")

    def ftp_STOR(self, file, mode="w"):
        self.expected = self.allocated if mode == "w" and not self._restart_position and self._current_type == "i" else 0
        self.allocated = 0
        # A drop box stores new files: no overwrite and no resume (REST) of what is there (vsftpd's
        # anonymous-style upload says the same: 553).
        if self.drop_box():
            if self.fs.lexists(file) or self._restart_position:
                self._restart_position = 0
                return self.respond("553 Could not create file.")
            mode = "x"   # created exclusively: of two uploads of one name at once, the second fails
        return super().ftp_STOR(file, mode)

    def ftp_REST(self, line):
        if self.drop_box():
            return self.respond("550 Permission denied.")
        return super().ftp_REST(line)

    def ftp_MLSD(self, path):
        # RFC 3659: a directory that is not there is 550, as for LIST; pyftpdlib says 501, which rclone
        # takes for a hard error (it lists a new target directory before creating it).
        if not self.fs.isdir(path):
            return self.respond("550 No such directory.")
        return super().ftp_MLSD(path)

    def ftp_PORT(self, line):
        if not self.active_enabled:
            return self.respond("502 Active mode is disabled on this server.")
        return super().ftp_PORT(line)

    def ftp_EPRT(self, line):
        if not self.active_enabled:
            return self.respond("502 Active mode is disabled on this server.")
        return super().ftp_EPRT(line)

    def log_transfer(self, cmd, filename, receive, completed, elapsed, bytes):
        super().log_transfer(cmd, filename, receive, completed, elapsed, bytes)
        if not self.xferlog:
            return
        # vsftpd's xferlog line: time, seconds, client, bytes, path, type, action, direction,
        # access (g: a virtual account, as vsftpd marks them), user, service, auth, auth user, completion.
        line = "%s %d %s %d %s b _ %s g %s ftp 0 * %s\n" % (
            time.strftime("%a %b %d %H:%M:%S %Y"), round(elapsed), self.remote_ip, bytes,
            self.fs.fs2ftp(filename), "i" if receive else "o", self.username, "c" if completed else "i",
        )
        with open(self.xferlog, "a", encoding="utf-8") as f:
            f.write(line)


class Limited(DTPHandler):
    """A data connection at the account's max_rate, both ways: the bytes moved never run ahead of the
    rate since the first one (pyftpdlib's ThrottledDTPHandler lets a third more through). At full
    speed, and with sendfile, for an account without a cap."""

    # Class defaults: pyftpdlib's __init__ closes a connection already reset by its peer before ours has
    # run, and close() and the event loop must find these (a missing one ended the whole server).
    rate, started, moved, pause = 0, None, 0, None

    def __init__(self, sock, cmd_channel):
        super().__init__(sock, cmd_channel)
        self.rate = cmd_channel.max_rate
        self.started = None
        self.moved = 0
        self.pause = None
        if self.rate:   # buffers of at most a tenth of a second: an even pace
            self.ac_in_buffer_size = max(4096, min(self.ac_in_buffer_size, self.rate // 10))
            self.ac_out_buffer_size = max(4096, min(self.ac_out_buffer_size, self.rate // 10))

    def use_sendfile(self):
        return not self.rate and super().use_sendfile()

    cut = False   # the upload's connection ended in a way that is not the end of a file

    def recv(self, buffer_size):
        # asyncore's recv, but a reset is told from an end: a cut, not the end of the file.
        try:
            chunk = self.socket.recv(buffer_size)
        except ConnectionError:
            self.cut = True
            chunk = b""
        if not chunk:
            self.handle_close()
            return b""
        self.count(len(chunk))
        return chunk

    def handle_close(self):
        if self._closed:
            return
        expected = self.cmd_channel.expected
        if self.receive and (self.cut or self.get_transmitted_bytes() < expected):
            self.transfer_finished = False
            self._resp = (f"426 Connection closed; transfer aborted after {self.get_transmitted_bytes()} bytes"
                          + (f" of {expected}." if expected else "."), logging.getLogger("pyftpdlib").debug)
            self.close()
            return
        super().handle_close()

    def send(self, data):
        sent = super().send(data)
        self.count(sent)
        return sent

    def count(self, size):
        if not self.rate or not size:
            return
        now = time.monotonic()
        if self.started is None:
            self.started = now
        self.moved += size
        ahead = self.started + self.moved / self.rate - now
        if ahead > 0.01 and self.pause is None:
            self.del_channel()
            self.pause = self.ioloop.call_later(ahead, self.resume, _errback=self.handle_error)

    def resume(self):
        self.pause = None
        self.add_channel(events=self.ioloop.READ if self.receive else self.ioloop.WRITE)

    def close(self):
        if self.pause is not None and not self.pause.cancelled:
            self.pause.cancel()
        if (not self._closed and self.receive and self.transfer_finished and isinstance(self.file_obj, Upload)
                and not self.file_obj.keep()):
            self.transfer_finished = False
            self._resp = ("451 Local error: the file was not stored.", logging.getLogger("pyftpdlib").warning)
        super().close()


def login_first(commands):
    """pyftpdlib's command table with SYST, HELP, STAT and SITE for logged-in users only, as vsftpd has
    it: before login STAT names the server's own address (a private one behind NAT) and SYST the system."""
    return {cmd: {**spec, "auth": True} if cmd in ("SYST", "HELP", "STAT", "SITE", "SITE HELP") else spec
            for cmd, spec in commands.items()}


class PlainHandler(Hardening, FTPHandler):
    proto_cmds = login_first(FTPHandler.proto_cmds)
    dtp_handler = Limited


def tls_handler(cfg):
    from OpenSSL import SSL
    from pyftpdlib.handlers import TLS_DTPHandler, TLS_FTPHandler

    sessions = cfg["sessions"]

    class Ending(Limited):
        """Where pyftpdlib's TLS layer passes the end of a data connection (after TLS_DTPHandler in the
        class order): an upload ends with the client's close_notify. An end without one (a FIN injected
        by an attacker, a NAT's reset) is a cut, answered 426 and logged incomplete, as vsftpd does."""

        _ssl_want_read = _ssl_want_write = _error = False   # as Limited's defaults, for the TLS layer

        def recv(self, buffer_size):
            try:
                return super().recv(buffer_size)
            except (SSL.WantReadError, SSL.WantWriteError, SSL.ZeroReturnError, SSL.SysCallError):
                raise   # pyftpdlib's TLS layer handles these
            except SSL.Error as err:   # OpenSSL 3's "unexpected eof while reading", a bad record
                logging.getLogger("pyftpdlib").info("data connection ended: %s", err)
                self.cut = True
                self.handle_close()
                return b""

        said = False   # the transfer's reply is already on its way (DataHandler)

        def handle_close(self):
            if self.said:   # refused and answered: the connection's end adds no reply
                self._error = True
                self.transfer_finished = False
                self.close()
                return
            if self.receive and self._ssl_established and not self.socket.get_shutdown() & SSL.RECEIVED_SHUTDOWN:
                self.cut = True
                # Closed without a TLS shutdown of ours: OpenSSL refuses one after such an end, and
                # pyftpdlib would retry it at every turn of its loop until the client left.
                self._error = True
            super().handle_close()

    class DataHandler(TLS_DTPHandler, Ending):
        checked = False   # the handshake is done and the session is the control connection's

        def send(self, data):
            # Nothing before the check: pyftpdlib pushes a download's first bytes as soon as the data
            # connection exists, and OpenSSL completes a handshake inside a write.
            if self._ssl_requested and not self.checked:
                return 0
            return super().send(data)

        def secure_connection(self, ssl_context):
            super().secure_connection(ssl_context)
            if self._ssl_accepting and not sessions.none(self.socket):
                self.close()

        def handle_ssl_established(self):
            # vsftpd's require_ssl_reuse: a protected data connection must resume the TLS session of
            # its own control connection. The context, and so the session cache and ticket keys, is that
            # control connection's alone: a session of another one (the same NAT) is not resumed here.
            if cfg.get("tls_session_reuse") and not sessions.reused(self.socket):
                self.said = True
                self.cmd_channel.respond("522 SSL connection failed: session reuse required")
                # Closed at once, no TLS shutdown: the session's next transfer must not find this one
                # still closing (as its data channel).
                self._error = True
                self.close()
                return
            self.checked = True
            super().handle_ssl_established()

        def handle_failed_ssl_handshake(self):
            self.said = True
            super().handle_failed_ssl_handshake()

        def close(self):
            # A data connection that ends during the handshake (a bare TCP FIN) gets no reply from
            # pyftpdlib: the transfer waiting on it would wait forever.
            if (not self._closed and not self._resp and not self.said and not self._ssl_established
                    and self.file_obj is not None and self.cmd_channel.connected):
                self.transfer_finished = False
                self._resp = ("425 Data connection closed during the TLS handshake.",
                              logging.getLogger("pyftpdlib").info)
            super().close()

    class TLSHandler(Hardening, TLS_FTPHandler):
        proto_cmds = login_first(TLS_FTPHandler.proto_cmds)
        dtp_handler = DataHandler
        tls_control_required = tls_data_required = cfg["tls"] == "required"

        @staticmethod
        def get_ssl_context():
            # A new one for each control connection, never shared: a context shared by two would let
            # each resume the other's sessions.
            return tls_context(cfg["tls_material"])

        def process_command(self, cmd, *args, **kwargs):
            if cmd in ("PASV", "EPSV", "PORT", "EPRT") and self._ssl_established and self._prot:
                sessions.one_more(self.socket)   # sent before the reply, for the data connection to come
            # vsftpd's answer, 530, where pyftpdlib says 550: a cleartext login is a failed login.
            if cmd in ("USER", "PASS") and self.tls_control_required and not self._ssl_established:
                self.respond("530 Log in over TLS (AUTH TLS) first.")
                return
            super().process_command(cmd, *args, **kwargs)

    return TLSHandler


def keepalive(listener, seconds):
    """Keepalive probes on control connections idle `seconds` (a long transfer), as vsftpd's socket unit
    sets them: NATs that forget idle flows keep the connection, and the final 226 arrives. Connections
    accepted on the listener inherit the options."""
    if seconds > 0:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, seconds)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, seconds)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 4)


# What the server takes only at start: the listener, and the handler class (TLS off, optional or
# required). A change of either restarts it (the role's unit names both); every other setting reloads.
RESTART = ("listen_port", "tls")


def configure(handler, server, cfg):
    """Apply the settings: for new sessions, and for the next command of those under way (a transfer
    under way keeps its data connection)."""
    handler.authorizer = Authorizer(cfg["users"])
    handler.passive_ports = range(cfg["passive_min_port"], cfg["passive_max_port"] + 1)
    handler.masquerade_address = cfg["passive_address"] or None
    handler.active_enabled = cfg["active_enabled"]
    handler.max_login_attempts = cfg["max_login_attempts"]
    handler.auth_failed_timeout = cfg["login_failure_delay"]
    handler.xferlog = cfg.get("xferlog") or ""
    handler.banner = cfg.get("banner", "FTP server ready.")
    handler.ipv6_prefix = cfg["ipv6_prefix"]
    keepalive(server.socket, cfg.get("keepalive", 0))
    server.max_cons = cfg["max_clients"]
    server.max_cons_per_ip = cfg["max_per_ip"]


def serve(cfg, path, early=()):
    handler = tls_handler(cfg) if cfg["tls"] != "off" else PlainHandler
    server = FTPServer(("::", cfg["listen_port"]), handler)
    configure(handler, server, cfg)
    # SIGHUP (systemctl reload): the new settings and accounts apply at once, before `systemctl reload`
    # returns to the role (a login right after a converge sees them); the sessions of removed accounts
    # are ended within half a second, by the event loop, never in the middle of one of its turns.
    gone = []
    signal.signal(signal.SIGHUP, lambda *_: gone.append(reload(handler, server, cfg, path)))
    if early:
        gone.append(reload(handler, server, cfg, path))
    server.ioloop.call_every(0.5, end_sessions, handler, server, gone)
    server.serve_forever()


def reload(handler, server, cfg, path):
    """Read the settings, the certificate and the accounts again and return the accounts' names. Bad
    settings, or a change only a restart applies, leave the settings as they were (the certificate and
    the accounts are still read); a bad accounts file changes nothing (None)."""
    try:
        new = load(path)
        changed = [key for key in RESTART if new[key] != cfg[key]]
        if changed:
            raise ConfigError(f"{', '.join(changed)} changed, which takes a restart")
    except ConfigError as err:
        logging.error("settings not reloaded: %s", err)
    else:
        new.pop("sessions", None)   # the TLS handler keeps the one it was made with
        cfg.update(new)
        configure(handler, server, cfg)
        logging.info("settings reloaded; accounts: %d", len(cfg["users"]))
        return {user["name"] for user in cfg["users"]}
    if cfg["tls"] != "off":
        try:
            cfg["tls_material"] = tls_material(cfg)
            logging.info("certificate reloaded")
        except ConfigError as err:
            logging.error("certificate not reloaded: %s", err)
    try:
        users = load_accounts(cfg["accounts"])["users"]
    except ConfigError as err:
        logging.error("accounts not reloaded: %s", err)
        return None
    handler.authorizer = Authorizer(users)
    logging.info("accounts reloaded: %d", len(users))
    return {user["name"] for user in users}


def end_sessions(handler, server, gone):
    """After a reload: end the sessions of accounts that are no longer there."""
    while gone:
        names = gone.pop(0)
        if names is None:
            continue
        for channel in list(server.ioloop.socket_map.values()):
            if isinstance(channel, handler) and channel.authenticated and channel.username not in names:
                logging.info("%s: account removed, session ended", channel.username)
                channel.respond("421 Account removed; closing control connection.")
                channel.close_when_done()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="the server's configuration")
    parser.add_argument("--accounts", help="with --check: an accounts file alone")
    parser.add_argument("--check", action="store_true", help="validate and exit")
    # A reload asked for while the server starts (SIGHUP's default would end it): done once it serves.
    early = []
    signal.signal(signal.SIGHUP, lambda *_: early.append(True))
    args = parser.parse_args(argv)
    path = args.config or args.accounts
    if not path or (args.accounts and not args.check) or (args.config and args.accounts):
        parser.error("give --config FILE, or --accounts FILE with --check")
    try:
        cfg = load(args.config, args.check) if args.config else load_accounts(args.accounts, True)
    except ConfigError as err:
        print(f"{path}: {err}", file=sys.stderr)
        return 1
    if args.check:
        print(f"{path}: OK")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    serve(cfg, args.config, early)
    return 0


if __name__ == "__main__":
    sys.exit(main())

# Copyright: (c) 2026, FTP lab developers
# MIT License (see LICENSE)
"""The ftp_server role's settings rules: plain Python, no Ansible imports, so that each rule has a unit
test with its message (tests/unit/test_settings.py).

Each rule takes the settings (the role's ftp_server_* variables, as a dict without the prefix) and
returns what is wrong, naming the variable and the reason, or None. first_problem() returns the first,
in the order of RULES: the order a user fixes them in (ports, addresses, accounts, FTPS)."""

from __future__ import annotations

import posixpath
import re

IPV4 = re.compile(r"\A((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\Z")
# A DNS host name: dot-separated labels of letters, digits and inner hyphens.
HOSTNAME = re.compile(r"\A(?=.{1,253}\Z)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z")
LOGIN = re.compile(r"\A[a-z_][a-z0-9_-]{0,31}\Z")
CRYPT = re.compile(r"\A[$][0-9a-z]+[$]")
PLAIN_NAME = re.compile(r"\A[A-Za-z0-9._-]+\Z")
HOME_BASE = re.compile(r"\A(/[A-Za-z0-9_][A-Za-z0-9._-]*)+\Z")
SYSTEM_DIRS = {"/", "/etc", "/usr", "/var", "/root", "/home", "/tmp", "/proc", "/sys", "/dev"}
UNIT_PATH = re.compile(r"\A/[A-Za-z0-9._/+@:=-]+\Z")
FQDN = re.compile(r"\A([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?[.])+[a-z]([a-z0-9-]{0,61}[a-z0-9])?\Z")
ACCESS = ("read_write", "read_only", "upload_only")
TRUE = ("yes", "on", "1", "true")   # ansible-core's bool filter: anything else is false


def number(value):
    """A whole number as Jinja's int filter reads it (0 where it cannot)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError, OverflowError):
            return 0


def truth(value):
    """A truth value as Ansible's bool filter reads it (the role's templates read it so)."""
    if isinstance(value, (str, int)):
        return str(value).lower() in TRUE
    return False


def names(entries):
    """The names of the entries, each once, in order."""
    return list(dict.fromkeys(str(entry.get("name") or "(an entry without a name)") for entry in entries))


def listed(value):
    """A list setting as the role reads it: none is empty."""
    return list(value) if isinstance(value, (list, tuple)) else []


def entries(s):
    """The accounts' entries (the rule accounts refuses anything but a list of mappings)."""
    return [u for u in listed(s["users"]) if isinstance(u, dict)]


def span(s):
    return f"{s['pasv_min_port']}-{s['pasv_max_port']}"


def in_range(s, port):
    return number(s["pasv_min_port"]) <= number(port) <= number(s["pasv_max_port"])


def pasv_above_1024(s):
    if number(s["pasv_min_port"]) <= 1024:
        return (f"ftp_server_pasv_min_port is {s['pasv_min_port']}: the passive range must lie above 1024. "
                "vsftpd silently ignores a range at or below 1024 and hands out random high ports, which the "
                'firewall then drops (the "20-20" trick does not work); and a one-port range would serialise '
                "every passive transfer anyway.")
    return None


def pasv_ascending(s):
    low, high = number(s["pasv_min_port"]), number(s["pasv_max_port"])
    if not (low <= high <= 65535):
        return (f"ftp_server_pasv_min_port/ftp_server_pasv_max_port is {span(s)}: the range must be ascending "
                "and end at 65535 or below.")
    return None


def pasv_covers_the_cap(s):
    size = number(s["pasv_max_port"]) - number(s["pasv_min_port"]) + 1
    if s["backend"] == "vsftpd" and size < number(s["max_clients"]):
        return (f"ftp_server_pasv_min_port/ftp_server_pasv_max_port {span(s)} has {size} ports, fewer than "
                f"ftp_server_max_clients ({s['max_clients']}): vsftpd picks passive ports at random and ends "
                "the session (500 OOPS: vsf_sysutil_bind) when it finds none free, where a 425 would keep it. "
                "Widen the range or lower the cap (twice the cap keeps even a full server's odds of a miss "
                "below 1 in 500).")
    return None


def keepalive(s):
    value = s["keepalive"]
    if not (re.fullmatch(r"[0-9]+", str(value)) and number(value) <= 32767) or isinstance(value, bool):
        return f"ftp_server_keepalive is {value}: seconds from 0 (the kernel's two hours) to 32767."
    return None


def control_port(s):
    if not 1 <= number(s["control_port"]) <= 65535:
        return f"ftp_server_control_port is {s['control_port']}: a port is 1 to 65535."
    return None


def pasv_leaves_ports_alone(s):
    overlap = [port for port in [number(s["control_port"])] + [number(p) for p in listed(s["reserved_ports"])]
               if in_range(s, port)]
    if overlap:
        return (f"ftp_server_pasv_min_port/ftp_server_pasv_max_port {span(s)} covers port(s) "
                f"{', '.join(map(str, overlap))}, which belong to the control connection (ftp_server_control_port) "
                "or another service (ftp_server_reserved_ports).")
    return None


def pasv_address(s):
    address = str(s["pasv_address"] or "")
    if not (address == "" or IPV4.match(address)
            or (truth(s["pasv_address_resolve"]) and HOSTNAME.match(address))):
        return (f'ftp_server_pasv_address is "{address}": it must be an IPv4 address (PASV replies carry IPv4 '
                "only), or empty to announce the address the client connected to. A host name is accepted only "
                "with ftp_server_pasv_address_resolve: true; the daemon then resolves it when it starts, so a "
                "DNS change needs a restart.")
    return None


def ipv6_address(s):
    address = str(s["ipv6_address"] or "")
    if not (address == "" or (re.fullmatch(r"[0-9A-Fa-f:.]+", address) and address.count(":") >= 2
                              and address not in ("::", "::1") and not re.match(r"(fe[89ab]|ff)", address.lower()))):
        return (f'ftp_server_ipv6_address is "{address}": it must be a unicast IPv6 address of this host, not '
                'link-local (a certificate names no zone), loopback, multicast or "::", or empty for the host\'s '
                "default IPv6 address.")
    return None


def banner(s):
    text = s["banner"]
    if not (isinstance(text, str) and re.fullmatch(r"[ -~]{1,200}", text)):
        return ("ftp_server_banner must be one line of printable ASCII, 1 to 200 characters: it is sent as the "
                "220 reply, where a line break would start a reply of its own.")
    return None


def accounts(s):
    if s["users"] is not None and (not isinstance(s["users"], (list, tuple))
                                   or not all(isinstance(u, dict) for u in s["users"])):
        return ("ftp_server_users must be a list of entries, each a mapping with at least name and "
                "password_hash.")
    users = entries(s)
    bad = [u for u in users if not LOGIN.match(str(u.get("name", "")))
           or not CRYPT.match(str(u.get("password_hash", "")))
           or ("upload_dir" in u and (not PLAIN_NAME.match(str(u["upload_dir"])) or u["upload_dir"] in (".", "..")))]
    if bad:
        return (f"ftp_server_users entries {', '.join(names(bad))}: the name must be a plain lower-case login, the "
                "password_hash a crypt hash (e.g. from `openssl passwd -6`), never the password itself, and "
                "upload_dir one directory name inside the home.")
    return None


def unique_names(s):
    given = [u.get("name") for u in entries(s)]
    if len(set(map(str, given))) != len(given):
        return f"ftp_server_users lists a name more than once: {given}"
    return None


def modes(s):
    bad = [u for u in entries(s) if ("access" in u and u["access"] not in ACCESS)
           or ("state" in u and u["state"] not in ("present", "absent"))
           or ("remove_files" in u and not isinstance(u["remove_files"], bool))]
    if bad:
        return (f"ftp_server_users entries {', '.join(names(bad))}: access must be read_write (the default), "
                "read_only (list and download) or upload_only (a drop box: store new files only), state present "
                "or absent, and remove_files true or false.")
    return None


def rates(s):
    bad = [u for u in entries(s) if "max_rate" in u
           and (isinstance(u["max_rate"], bool) or not isinstance(u["max_rate"], int) or u["max_rate"] <= 0)]
    if bad:
        return (f"ftp_server_users entries {', '.join(names(bad))}: max_rate is a positive whole number of bytes "
                "per second (e.g. 2000000), for downloads and uploads alike; leave it out for no cap.")
    return None


def home_base(s):
    base = s["home_base"]
    if not (HOME_BASE.match(str(base)) and base not in SYSTEM_DIRS):
        return (f'ftp_server_home_base is "{base}": it must be an absolute path of letters, digits, \'_\', \'.\' '
                "and '-', of a directory of its own (the homes and shared directories live in it).")
    return None


def shared_of(s):
    return [u for u in entries(s) if u.get("shared")]


def shared_inside_base(s):
    base, homes = s["home_base"], {str(u.get("name")) for u in entries(s)}
    bad = []
    for user in shared_of(s):
        path = str(user["shared"])
        path = path[len(base) + 1:] if path.startswith(base + "/") else path
        if (re.search(r"^/|(^|/)[.][.]?(/|$)|//|/$|[^A-Za-z0-9._/-]", path)
                or path.split("/")[0] in homes):
            bad.append(user)
    if bad:
        return (f"ftp_server_users entries {', '.join(names(bad))}: shared names a directory inside "
                f"ftp_server_home_base ({base}), relative to it or absolute, of plain names (letters, digits, '_', "
                "'.', '-'; no '..'), and apart from every account's home (its first part is not an account's "
                "name): a shared directory inside a home would open that home to others.")
    return None


def shared_beside_upload(s):
    bad = [u for u in shared_of(s)
           if posixpath.basename(str(u["shared"])) == u.get("upload_dir", "upload")]
    if bad:
        return (f"ftp_server_users entries {', '.join(names(bad))}: the shared directory is seen inside the home "
                "under its last name, which is that of the upload directory: rename one of them.")
    return None


def shared_access(s):
    narrowed = [u for u in shared_of(s) if "shared_access" in u]
    unknown = [u for u in narrowed if u["shared_access"] not in ACCESS]
    if unknown:
        return (f"ftp_server_users entries {', '.join(names(unknown))}: shared_access must be read_write, "
                "read_only or upload_only.")
    drop_box = [u for u in narrowed if u.get("access") == "upload_only" and u["shared_access"] != "upload_only"]
    if drop_box:
        seen = ", ".join(dict.fromkeys(u["shared_access"] for u in drop_box))
        return (f"ftp_server_users entries {', '.join(names(drop_box))}: a drop box (access upload_only) with a "
                f"shared directory it could read through (shared_access {seen}): it may only store new files "
                "there too (shared_access upload_only, or leave it out).")
    wider = [u for u in narrowed if u["shared_access"] != u.get("access", "read_write")
             and not (u.get("access", "read_write") == "read_write" and u["shared_access"] == "read_only")]
    if wider:
        return (f"ftp_server_users entries {', '.join(names(wider))}: shared_access may only narrow the account's "
                "access (read_write to read_only); it is the account's own when left out.")
    return None


def chroot(s):
    if not truth(s["chroot"]):
        return ("ftp_server_chroot is false: FTP accounts are virtual and all write as one system account, so only "
                "the chroot keeps one account out of another's files. Every account is locked into its home.")
    return None


def no_anonymous(s):
    if truth(s["anonymous"]) or {"ftp", "anonymous"} & {str(u.get("name")) for u in entries(s)}:
        return ("ftp_server_anonymous is true, or an account is named ftp or anonymous: neither backend offers "
                "anonymous logins (every account is a named one with a password; for files anyone may fetch, "
                "give them a read_only account).")
    return None


def implicit(s):
    port = number(s["tls_implicit_port"])
    if truth(s["tls_implicit"]) and not (s["tls"] != "off" and s["backend"] == "vsftpd"
                                         and port != number(s["control_port"]) and not in_range(s, port)
                                         and 1 <= port <= 65535):
        return (f"ftp_server_tls_implicit needs ftp_server_tls on (optional or required), the vsftpd backend "
                f"(pyftpdlib has no implicit mode), and ftp_server_tls_implicit_port ({s['tls_implicit_port']}) a "
                "port of its own: not the control port, not inside the passive range.")
    return None


def certificate_pair(s):
    cert, key = s["tls_certificate"] or "", s["tls_private_key"] or ""
    if not (bool(cert) == bool(key) and (not cert or "-----BEGIN CERTIFICATE-----" in cert)
            and (not key or re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", key))):
        return ("ftp_server_tls_certificate and ftp_server_tls_private_key must both be PEM text (a certificate "
                "chain and its private key), or both empty to let the role make a certificate.")
    return None


def one_source(s):
    sources = [bool(s["tls_certificate"]), bool(s["tls_certificate_file"] or s["tls_private_key_file"]),
               truth(s["tls_acme"])]
    if sum(sources) > 1:
        return ("The certificate comes from one place: ftp_server_tls_certificate (PEM text), or "
                "ftp_server_tls_certificate_file (files another tool keeps), or ftp_server_tls_acme; "
                f"{sum(sources)} are given.")
    return None


def certificate_files(s):
    cert, key = s["tls_certificate_file"], s["tls_private_key_file"]
    if (cert or key) and not all(UNIT_PATH.match(str(path)) for path in (cert, key)):
        return (f'ftp_server_tls_certificate_file and ftp_server_tls_private_key_file ("{cert}", "{key}") must both '
                "be absolute paths on the host, of letters, digits and . _ / + @ : = - (a systemd path unit watches "
                "them).")
    return None


def acme(s):
    if not truth(s["tls_acme"]):
        return None
    if s["tls"] == "off":
        return "ftp_server_tls_acme needs ftp_server_tls on (optional or required): the certificate is for FTPS."
    if not s["tls_names"]:
        return ("ftp_server_tls_acme needs ftp_server_tls_names: the public DNS names of this server, which the "
                "ACME CA reaches on port 80 to validate them.")
    bad = [str(name).lower() for name in s["tls_names"] if not FQDN.match(str(name).lower())]
    if bad:
        return (f"ftp_server_tls_names has {', '.join(bad)}: with ftp_server_tls_acme every name must be a fully "
                "qualified DNS name (no IP address: certbot and Let's Encrypt's http-01 issue for DNS names only; "
                "no wildcard: http-01 cannot prove one). The default holds the host's addresses: list the server's "
                "public DNS names.")
    if not re.match(r"https://[^/ ]+/", str(s["tls_acme_directory"])):
        return (f'ftp_server_tls_acme_directory is "{s["tls_acme_directory"]}": the ACME directory is an https:// '
                "URL (Let's Encrypt: https://acme-v02.api.letsencrypt.org/directory).")
    if s["tls_acme_email"] and not re.fullmatch(r"[^@ ]+@[^@ ]+", str(s["tls_acme_email"])):
        return f'ftp_server_tls_acme_email is "{s["tls_acme_email"]}": an e-mail address, or empty for none.'
    if s["tls_acme_ca_certificate"] and "-----BEGIN CERTIFICATE-----" not in s["tls_acme_ca_certificate"]:
        return ("ftp_server_tls_acme_ca_certificate must be PEM text (the CA of the ACME server's HTTPS), "
                "or empty.")
    port = number(s["tls_acme_http_port"])
    ftp_ports = [number(s["control_port"])] + ([number(s["tls_implicit_port"])] if truth(s["tls_implicit"]) else [])
    if not (1 <= port <= 65535 and port not in ftp_ports and not in_range(s, port)):
        return (f"ftp_server_tls_acme_http_port is {s['tls_acme_http_port']}: certbot answers the http-01 challenge "
                "there, so it must be a port (1-65535) the FTP server does not use (control, implicit FTPS, "
                "passive range).")
    return None


def files_need_tls(s):
    if s["tls_certificate_file"] and s["tls"] == "off":
        return ("ftp_server_tls_certificate_file is set but ftp_server_tls is off: the certificate would serve "
                "nothing; turn FTPS on (optional or required) or leave the file out.")
    return None


RULES = [pasv_above_1024, pasv_ascending, pasv_covers_the_cap, keepalive, control_port, pasv_leaves_ports_alone,
         pasv_address, ipv6_address, banner, accounts, unique_names, modes, rates, home_base, shared_inside_base,
         shared_beside_upload, shared_access, chroot, no_anonymous, implicit, certificate_pair, one_source,
         certificate_files, acme, files_need_tls]

# The settings the rules read (without the ftp_server_ prefix): what the role hands the check.
NAMES = ["backend", "pasv_min_port", "pasv_max_port", "max_clients", "keepalive", "control_port", "reserved_ports",
         "pasv_address", "pasv_address_resolve", "ipv6_address", "banner", "users", "home_base", "chroot",
         "anonymous", "tls", "tls_implicit", "tls_implicit_port", "tls_certificate", "tls_private_key",
         "tls_certificate_file", "tls_private_key_file", "tls_acme", "tls_names", "tls_acme_directory",
         "tls_acme_email", "tls_acme_ca_certificate", "tls_acme_http_port"]


def first_problem(settings):
    """The first rule's message that the settings break, or None."""
    missing = [name for name in NAMES if name not in settings]
    if missing:
        return f"the check was not handed ftp_server_{', ftp_server_'.join(missing)}"
    for rule in RULES:
        problem = rule(settings)
        if problem:
            return problem
    return None

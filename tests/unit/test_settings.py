"""The roles' settings rules (plugins/module_utils/ftp_settings.py, firewall_settings.py): each rule
refuses what it must, with the message the user reads, and lets the role's defaults through."""

import firewall_settings
import ftp_settings
import pytest

HASH = "$6$saltsalt$" + "x" * 86
CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"

# The role's defaults (roles/ftp_server/defaults/main.yml), with one account.
DEFAULTS = {
    "backend": "vsftpd", "pasv_min_port": 50000, "pasv_max_port": 50049, "max_clients": 50, "keepalive": 45,
    "control_port": 21, "reserved_ports": [1433], "pasv_address": "", "pasv_address_resolve": False,
    "ipv6_address": "", "banner": "FTP server ready.", "users": [{"name": "alice", "password_hash": HASH}],
    "home_base": "/srv/ftp", "chroot": True, "anonymous": False, "tls": "off", "tls_implicit": False,
    "tls_implicit_port": 990, "tls_certificate": "", "tls_private_key": "", "tls_certificate_file": "",
    "tls_private_key_file": "", "tls_acme": False, "tls_names": ["192.0.2.10"],
    "tls_acme_directory": "https://acme-v02.api.letsencrypt.org/directory", "tls_acme_email": "",
    "tls_acme_ca_certificate": "", "tls_acme_http_port": 80,
}
ACME = {"tls": "required", "tls_acme": True, "tls_names": ["ftp.example.org"]}


def user(**fields):
    return dict({"name": "eve", "password_hash": HASH}, **fields)


# rule: (settings over the defaults, what its message says)
BAD = {
    "the article's 20-20 range": ("pasv_above_1024", {"pasv_min_port": 20, "pasv_max_port": 20},
                                  "ftp_server_pasv_min_port is 20: the passive range must lie above 1024"),
    "a range at 1024": ("pasv_above_1024", {"pasv_min_port": 1024, "pasv_max_port": 1100},
                        "ftp_server_pasv_min_port is 1024"),
    "a reversed range": ("pasv_ascending", {"pasv_min_port": 50010, "pasv_max_port": 50000},
                         "50010-50000: the range must be ascending"),
    "beyond 65535": ("pasv_ascending", {"pasv_min_port": 65000, "pasv_max_port": 65536}, "end at 65535 or below"),
    "vsftpd's range under the cap": ("pasv_covers_the_cap", {"pasv_max_port": 50009, "max_clients": 11},
                                     "50000-50009 has 10 ports, fewer than ftp_server_max_clients (11)"),
    "keepalive beyond TCP's limit": ("keepalive", {"keepalive": 40000}, "ftp_server_keepalive is 40000: seconds from 0"),
    "keepalive negative": ("keepalive", {"keepalive": -1}, "ftp_server_keepalive is -1"),
    "control port 0": ("control_port", {"control_port": 0}, "ftp_server_control_port is 0: a port is 1 to 65535"),
    "a range over SQL Server": ("pasv_leaves_ports_alone", {"pasv_min_port": 1400, "pasv_max_port": 1500},
                                "1400-1500 covers port(s) 1433"),
    "a range over the control port": ("pasv_leaves_ports_alone",
                                      {"pasv_min_port": 2000, "pasv_max_port": 2100, "control_port": 2021},
                                      "covers port(s) 2021"),
    "a name as the address": ("pasv_address", {"pasv_address": "ftp.example.org"},
                              "A host name is accepted only with ftp_server_pasv_address_resolve: true"),
    "an address with a newline": ("pasv_address", {"pasv_address": "192.0.2.7\n"}, 'is "192.0.2.7\n"'),
    "a link-local listener": ("ipv6_address", {"ipv6_address": "fe80::1"}, "not link-local"),
    "a banner of two lines": ("banner", {"banner": "Hello\n230 fake"}, "ftp_server_banner must be one line"),
    "a plain password": ("accounts", {"users": [user(password_hash="secret")]},
                         "ftp_server_users entries eve: the name must be a plain lower-case login"),
    "an upload directory ..": ("accounts", {"users": [user(upload_dir="..")]}, "upload_dir one directory name"),
    "a name twice": ("unique_names", {"users": [user(), user()]},
                     "ftp_server_users lists a name more than once: ['eve', 'eve']"),
    "an unknown access mode": ("modes", {"users": [user(access="write_only")]}, "access must be read_write"),
    "remove_files as a string": ("modes", {"users": [user(state="absent", remove_files="no")]},
                                 "remove_files true or false"),
    "a rate of zero": ("rates", {"users": [user(max_rate=0)]}, "max_rate is a positive whole number"),
    "a rate as text": ("rates", {"users": [user(max_rate="2MB")]}, "entries eve: max_rate"),
    "homes in /etc": ("home_base", {"home_base": "/etc"}, 'ftp_server_home_base is "/etc"'),
    "a shared directory outside the base": ("shared_inside_base", {"users": [user(shared="/etc")]},
                                            "shared names a directory inside ftp_server_home_base (/srv/ftp)"),
    "a shared directory through ..": ("shared_inside_base", {"users": [user(shared="shared/../../etc")]},
                                      "no '..'"),
    "a shared directory inside a home": ("shared_inside_base",
                                         {"users": [user(), user(name="bob", shared="eve/upload")]},
                                         "entries bob: shared names a directory"),
    "a shared directory over the upload one": ("shared_beside_upload", {"users": [user(shared="shared/upload")]},
                                               "which is that of the upload directory"),
    "an unknown shared access": ("shared_access", {"users": [user(shared="shared/in", shared_access="all")]},
                                 "shared_access must be read_write, read_only or upload_only"),
    "a drop box reading a shared directory": (
        "shared_access", {"users": [user(access="upload_only", shared="shared/in", shared_access="read_only")]},
        "a drop box (access upload_only) with a shared directory it could read through (shared_access read_only)"),
    "shared access wider than the account's": (
        "shared_access", {"users": [user(access="read_only", shared="shared/in", shared_access="read_write")]},
        "shared_access may only narrow the account's access"),
    "accounts outside their homes": ("chroot", {"chroot": False}, "Every account is locked into its home"),
    "anonymous logins": ("no_anonymous", {"anonymous": True}, "neither backend offers anonymous logins"),
    "an account named anonymous": ("no_anonymous", {"users": [user(name="anonymous")]},
                                   "an account is named ftp or anonymous"),
    "implicit FTPS without TLS": ("implicit", {"tls_implicit": True}, "ftp_server_tls_implicit needs ftp_server_tls on"),
    "implicit FTPS on pyftpdlib": ("implicit", {"tls": "required", "tls_implicit": True, "backend": "pyftpdlib"},
                                   "the vsftpd backend (pyftpdlib has no implicit mode)"),
    "implicit FTPS inside the range": ("implicit", {"tls": "required", "tls_implicit": True,
                                                    "tls_implicit_port": 50010}, "ftp_server_tls_implicit_port (50010)"),
    "a certificate without its key": ("certificate_pair", {"tls": "required", "tls_certificate": CERT},
                                      "must both be PEM text"),
    "two certificate sources": ("one_source", {"tls": "required", "tls_certificate": CERT, "tls_private_key": KEY,
                                               "tls_certificate_file": "/etc/ssl/a.pem",
                                               "tls_private_key_file": "/etc/ssl/a.key"}, "2 are given"),
    "a certificate file with a space": ("certificate_files", {"tls": "required", "tls_certificate_file": "/a b.pem",
                                                              "tls_private_key_file": "/a.key"},
                                        '("/a b.pem", "/a.key") must both be absolute paths'),
    "ACME without TLS": ("acme", dict(ACME, tls="off"), "ftp_server_tls_acme needs ftp_server_tls on"),
    "ACME without names": ("acme", dict(ACME, tls_names=[]), "ftp_server_tls_acme needs ftp_server_tls_names"),
    "ACME for an address": ("acme", dict(ACME, tls_names=["ftp.example.org", "192.0.2.10"]),
                            "ftp_server_tls_names has 192.0.2.10"),
    "ACME for a wildcard": ("acme", dict(ACME, tls_names=["*.example.org"]), "ftp_server_tls_names has *.example.org"),
    "ACME over http": ("acme", dict(ACME, tls_acme_directory="http://ca.example.org/dir"),
                       "the ACME directory is an https:// URL"),
    "ACME with a bad e-mail": ("acme", dict(ACME, tls_acme_email="root"), 'ftp_server_tls_acme_email is "root"'),
    "ACME with a CA that is no PEM": ("acme", dict(ACME, tls_acme_ca_certificate="ca"),
                                      "ftp_server_tls_acme_ca_certificate must be PEM text"),
    "ACME answering on the control port": ("acme", dict(ACME, tls_acme_http_port=21),
                                           "ftp_server_tls_acme_http_port is 21"),
    "ACME answering in the range": ("acme", dict(ACME, tls_acme_http_port=50001),
                                    "ftp_server_tls_acme_http_port is 50001"),
    "certificate files with TLS off": ("files_need_tls", {"tls_certificate_file": "/etc/ssl/a.pem",
                                                          "tls_private_key_file": "/etc/ssl/a.key"},
                                       "ftp_server_tls_certificate_file is set but ftp_server_tls is off"),
}

GOOD = {
    "the role's defaults": {},
    "pyftpdlib's range under the cap": {"backend": "pyftpdlib", "pasv_max_port": 50009},
    "a name the daemon resolves": {"pasv_address": "ftp.example.org", "pasv_address_resolve": True},
    "a global IPv6 listener": {"ipv6_address": "2001:db8::10"},
    "keepalive off": {"keepalive": 0},
    "every kind of account": {"users": [user(), user(name="bob", access="read_only", shared="shared/in"),
                                        user(name="drop", access="upload_only", shared="/srv/ftp/shared/in",
                                             shared_access="upload_only", max_rate=2000000),
                                        user(name="gone", state="absent", remove_files=True)]},
    "a shared directory beside another upload name": {"users": [user(upload_dir="incoming", shared="shared/upload")]},
    "implicit FTPS": {"tls": "required", "tls_implicit": True},
    "certificate text": {"tls": "optional", "tls_certificate": CERT, "tls_private_key": KEY},
    "certificate files": {"tls": "optional", "tls_certificate_file": "/etc/ssl/a.pem",
                          "tls_private_key_file": "/etc/ssl/a.key"},
    "ACME": dict(ACME, tls_acme_email="hostmaster@example.org"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_rule_refuses(case):
    rule, changes, message = BAD[case]
    settings = dict(DEFAULTS, **changes)
    assert message in getattr(ftp_settings, rule)(settings)
    assert ftp_settings.first_problem(settings) == getattr(ftp_settings, rule)(settings)


@pytest.mark.parametrize("case", sorted(GOOD))
def test_settings_pass(case):
    assert ftp_settings.first_problem(dict(DEFAULTS, **GOOD[case])) is None


def test_every_rule_has_a_case():
    assert {rule.__name__ for rule in ftp_settings.RULES} == {rule for rule, _, _ in BAD.values()}


def test_first_broken_rule_is_the_message():
    """Two rules broken: the one earlier in RULES is what the user reads first."""
    problem = ftp_settings.first_problem(dict(DEFAULTS, pasv_min_port=20, chroot=False))
    assert problem.startswith("ftp_server_pasv_min_port is 20")


def test_a_setting_not_handed_over_is_named():
    settings = dict(DEFAULTS)
    del settings["banner"]
    assert ftp_settings.first_problem(settings) == "the check was not handed ftp_server_banner"


def test_the_message_never_holds_a_hash():
    problem = ftp_settings.first_problem(dict(DEFAULTS, users=[user(password_hash="secret-password")]))
    assert "secret-password" not in problem and "eve" in problem


FIREWALL = {"management_sources": ["192.0.2.1"], "management_required": True, "helper_mode": False,
            "contributions": [{"services": [{"name": "ftp"}, {"name": "ftp-passive"}], "encrypted": True,
                               "announced_address": "198.51.100.7"}]}
FIREWALL_BAD = {
    "management": ({"management_sources": []}, "host_firewall_management_sources is empty"),
    "helper_sees_the_data": ({"helper_mode": True},
                             "encrypts its control connection (services: ftp, ftp-passive)"),
    "helper_without_announced_address": (
        {"helper_mode": True, "contributions": [{"services": [{"name": "ftp"}], "announced_address": "198.51.100.7"}]},
        "announces another address for its data connections (198.51.100.7, services: ftp)"),
}


@pytest.mark.parametrize("rule", sorted(FIREWALL_BAD))
def test_firewall_rule_refuses(rule):
    changes, message = FIREWALL_BAD[rule]
    settings = dict(FIREWALL, **changes)
    assert message in getattr(firewall_settings, rule)(settings)
    assert firewall_settings.first_problem(settings) == getattr(firewall_settings, rule)(settings)


@pytest.mark.parametrize("changes", [{}, {"management_sources": [], "management_required": False},
                                     {"helper_mode": True, "contributions": [{"services": [{"name": "ftp"}]}]}])
def test_firewall_settings_pass(changes):
    assert firewall_settings.first_problem(dict(FIREWALL, **changes)) is None


def test_every_firewall_rule_has_a_case():
    assert {rule.__name__ for rule in firewall_settings.RULES} == set(FIREWALL_BAD)


@pytest.mark.parametrize("value,expected", [
    (True, True), ("yes", True), ("On", True), ("true", True), ("1", True), (1, True),
    (False, False), ("no", False), ("false", False), ("0", False), ("y", False), (2, False), (None, False),
])
def test_truth_is_ansibles_bool(value, expected):
    """The rules read a truth value as the role's templates do (| bool)."""
    assert ftp_settings.truth(value) is expected


def test_implicit_ftps_given_as_text():
    """"false" from an INI inventory is off for the role and for the rule alike."""
    assert ftp_settings.first_problem(dict(DEFAULTS, tls_implicit="false", tls_implicit_port=50010)) is None
    assert "ftp_server_tls_implicit needs" in ftp_settings.first_problem(dict(DEFAULTS, tls_implicit="yes"))


@pytest.mark.parametrize("changes", [{"users": None}, {"reserved_ports": None}, {"pasv_min_port": "inf"}])
def test_empty_or_odd_values_get_a_message_not_a_crash(changes):
    problem = ftp_settings.first_problem(dict(DEFAULTS, **changes))
    assert problem is None or problem.startswith("ftp_server_")


@pytest.mark.parametrize("users", [["alice"], "alice", [{"name": "alice", "password_hash": HASH}, 3]])
def test_accounts_that_are_no_list_of_entries(users):
    assert ftp_settings.first_problem(dict(DEFAULTS, users=users)) == (
        "ftp_server_users must be a list of entries, each a mapping with at least name and password_hash.")


def test_an_entry_without_a_name_is_said_so():
    problem = ftp_settings.first_problem(dict(DEFAULTS, users=[{"password_hash": HASH}]))
    assert problem.startswith("ftp_server_users entries (an entry without a name):")


@pytest.mark.parametrize("contributions", [None, [None], [{"services": None, "encrypted": True}]])
def test_firewall_contributions_of_odd_shape(contributions):
    settings = dict(FIREWALL, helper_mode=True, contributions=contributions)
    problem = firewall_settings.first_problem(settings)
    assert problem is None or problem.startswith("host_firewall_helper_mode is true")

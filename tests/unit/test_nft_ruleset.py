"""The pure core of nft_firewall: validation, merging, rendering."""

import ipaddress

import pytest
from nft_ruleset import PolicyError, admits, build, exposure, merge, parse_port, render, strip_elements, strip_meters

FTP = {"name": "ftp", "ports": [21], "helper": "ftp", "comment": "FTP control connection"}
PASSIVE = {"name": "ftp-passive", "ports": ["50000-50049"]}
MGMT = {"sources": ["192.0.2.10"]}


def rendered(**params):
    params.setdefault("management", MGMT)
    return render(build(params))


# Ports and ranges

@pytest.mark.parametrize("value, expected", [
    (21, (21, 21)), ("21", (21, 21)), ("50000-50049", (50000, 50049)), (" 1-65535 ", (1, 65535)),
])
def test_port_parses(value, expected):
    assert parse_port(value, "x") == expected


@pytest.mark.parametrize("value, message", [
    ("ftp", "is not a number"), ("1-2-3", "is not a number"), ("", "is not a number"), (-1, "is not a number"),
    (0, "out of range"), (65536, "out of range"), ("50010-50000", "is reversed"),
])
def test_bad_port_is_refused(value, message):
    with pytest.raises(PolicyError, match=message):
        parse_port(value, "services entry 'x'")


def test_merge_joins_overlapping_and_adjacent_ranges():
    assert merge([(30, 40), (21, 21), (22, 25), (35, 50), (60, 60)]) == ((21, 25), (30, 50), (60, 60))


def test_service_ports_render_as_one_merged_set():
    text = rendered(services=[{"name": "web", "ports": [443, "80", "8000-8010", "8005-8020"]}])
    assert 'tcp dport { 80, 443, 8000-8020 } accept comment "web"' in text


# Validation names the entry

@pytest.mark.parametrize("service, message", [
    ({"name": "web", "ports": ["http"]}, "services entry 'web': port 'http' is not a number"),
    ({"name": "web", "ports": [0]}, "services entry 'web': port 0 is out of range"),
    ({"name": "web", "ports": [65536]}, "port 65536 is out of range"),
    ({"name": "web", "ports": ["90-80"]}, "range 90-80 is reversed"),
    ({"name": "web", "ports": []}, "ports is empty"),
    ({"name": "web", "ports": [80], "sources": ["10.0.0.300/8"]}, "'10.0.0.300/8' is not an IPv4/IPv6"),
    ({"name": "web", "ports": [80], "sources": ["10.0.0.1/8"]}, "has host bits set"),
    ({"name": "web", "ports": [80], "proto": "icmp"}, "proto 'icmp' must be one of tcp, udp"),
    ({"name": "web", "ports": [80], "helper": "sip"}, "helper 'sip' is not one of ftp"),
    ({"name": "web", "ports": [80], "helper": "ftp", "proto": "udp"}, "ftp helper works on tcp only"),
    ({"name": "web", "ports": [80], "comment": 'say "hi"'}, "must not contain quotes"),
    ({"name": "bad name", "ports": [80]}, "name 'bad name' must be"),
    ({"ports": [80]}, "name '' must be"),
    ("web", "is not a mapping"),
])
def test_bad_service_is_refused(service, message):
    with pytest.raises(PolicyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build({"services": [service], "management": MGMT})


def test_duplicate_name_with_different_content_is_refused():
    with pytest.raises(PolicyError, match="name 'ftp' is used by two different entries"):
        build({"services": [FTP, {"name": "ftp", "ports": [2121]}], "management": MGMT})


def test_identical_contributions_collapse():
    policy = build({"services": [FTP, PASSIVE, dict(FTP)], "management": MGMT})
    assert [s.name for s in policy.services] == ["ftp", "ftp-passive", "management"]


def test_empty_management_sources_are_refused_when_required():
    with pytest.raises(PolicyError, match="Ansible locked out"):
        build({"services": [FTP], "management": {"sources": []}})


def test_management_may_be_left_closed_on_purpose():
    policy = build({"services": [FTP], "management": {"sources": [], "required": False}})
    assert "dport 22" not in render(policy)


def test_management_name_is_reserved():
    with pytest.raises(PolicyError, match="reserved"):
        build({"services": [{"name": "management", "ports": [22]}], "management": MGMT})


@pytest.mark.parametrize("table", ["1table", "my-table", "t" * 33])
def test_bad_table_name_is_refused(table):
    with pytest.raises(PolicyError, match="table"):
        build({"table": table, "management": MGMT})


def test_bad_log_rate_is_refused():
    with pytest.raises(PolicyError, match="log_rate"):
        build({"management": MGMT, "log_rate": "lots"})


def test_egress_entry_needs_a_match():
    with pytest.raises(PolicyError, match="egress entry 'all': give ports, sports or destinations"):
        build({"management": MGMT, "egress": [{"name": "all"}]})


# Rendering

def test_table_is_replaced_atomically_never_flushed():
    text = rendered(table="fw", services=[FTP])
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines[:3] == ["table inet fw", "delete table inet fw", "table inet fw {"]
    assert "flush" not in text


def test_input_policy_is_drop_with_the_basics():
    text = rendered(services=[FTP])
    for line in ("policy drop;", 'iif "lo" accept', "ct state established,related accept",
                 "ct state invalid drop", "nd-neighbor-solicit", "packet-too-big"):
        assert line in text


def test_helper_is_attached_to_its_ports_in_prerouting():
    text = rendered(services=[FTP, PASSIVE])
    assert 'ct helper ftp {\n\t\ttype "ftp" protocol tcp\n\t\tl3proto inet' in text
    assert "type filter hook prerouting priority filter; policy accept;\n\t\ttcp dport 21 ct helper set \"ftp\"" in text


def test_no_helper_no_prerouting_chain():
    text = rendered(services=[PASSIVE])
    assert "prerouting" not in text and "ct helper" not in text


def test_helper_follows_service_sources():
    text = rendered(services=[dict(FTP, sources=["198.51.100.0/24"])])
    assert 'ip saddr 198.51.100.0/24 tcp dport 21 ct helper set "ftp"' in text


def test_sources_split_by_family():
    text = rendered(services=[{"name": "mssql", "ports": [1433],
                               "sources": ["2001:db8::/32", "10.0.0.0/8", "192.0.2.1"]}])
    assert 'ip saddr { 10.0.0.0/8, 192.0.2.1/32 } tcp dport 1433 accept comment "mssql"' in text
    assert 'ip6 saddr 2001:db8::/32 tcp dport 1433 accept comment "mssql"' in text


def test_service_without_sources_is_open_to_all():
    text = rendered(services=[FTP])
    assert '\t\ttcp dport 21 accept comment "ftp: FTP control connection"' in text


def test_management_ssh_only_from_its_sources():
    text = rendered(services=[FTP], management={"sources": ["192.0.2.10", "2001:db8::10"], "port": 2222})
    assert 'ip saddr 192.0.2.10/32 tcp dport 2222 accept' in text
    assert 'ip6 saddr 2001:db8::10/128 tcp dport 2222 accept' in text
    assert "dport 22 " not in text


def test_udp_service():
    assert 'udp dport 53 accept comment "dns"' in rendered(services=[{"name": "dns", "proto": "udp", "ports": [53]}])


@pytest.mark.parametrize("echo, present", [(True, True), (False, False)])
def test_echo_is_optional(echo, present):
    assert ("echo-request" in rendered(icmp_echo=echo)) is present


@pytest.mark.parametrize("log, present", [(True, True), (False, False)])
def test_drop_logging_is_optional_and_rate_limited(log, present):
    text = rendered(log_drops=log, log_rate="3/second", egress_filter=True)
    assert ('limit rate 3/second log prefix "host_firewall drop in: "' in text) is present
    assert ('log prefix "host_firewall drop out: "' in text) is present


def test_no_output_chain_without_egress_filter():
    assert "hook output" not in rendered(egress=[{"name": "ftp-active-data", "sports": [20]}])


def test_egress_filter_renders_output_chain():
    text = rendered(egress_filter=True, egress=[
        {"name": "ftp-active-data", "sports": [20], "comment": "active FTP data"},
        {"name": "dns", "proto": "udp", "ports": [53], "destinations": ["192.0.2.53", "2001:db8::53"]},
        {"name": "mirror", "destinations": ["203.0.113.0/24"]},
    ])
    assert "type filter hook output priority filter; policy drop;" in text
    assert 'tcp sport 20 accept comment "ftp-active-data: active FTP data"' in text
    assert 'ip daddr 192.0.2.53/32 udp dport 53 accept comment "dns"' in text
    assert 'ip6 daddr 2001:db8::53/128 udp dport 53 accept comment "dns"' in text
    assert 'ip daddr 203.0.113.0/24 meta l4proto tcp accept comment "mirror"' in text


def test_egress_filter_lets_management_replies_out_whatever_their_state():
    """The SSH session that applies the table began before conntrack saw it: its replies must leave."""
    lines = rendered(egress_filter=True).splitlines()
    reply = 'ip daddr 192.0.2.10/32 tcp sport 22 accept comment "management: replies to the management sources"'
    assert lines.index("\t\t" + reply) < lines.index("\t\tct state invalid drop", lines.index("\tchain output {"))


def test_render_is_deterministic():
    params = {"services": [PASSIVE, FTP], "management": MGMT}
    assert render(build(params)) == render(build(dict(params)))


# What the module returns

def test_exposure_lists_what_is_open_to_whom():
    policy = build({"services": [FTP, PASSIVE], "management": MGMT})
    assert exposure(policy) == [
        {"name": "ftp", "proto": "tcp", "ports": ["21"], "sources": ["any"], "helper": "ftp",
         "on_demand": False},
        {"name": "ftp-passive", "proto": "tcp", "ports": ["50000-50049"], "sources": ["any"], "helper": None,
         "on_demand": False},
        {"name": "management", "proto": "tcp", "ports": ["22"], "sources": ["192.0.2.10/32"], "helper": None,
         "on_demand": False},
    ]


def test_peers_are_networks():
    policy = build({"services": [{"name": "x", "ports": [1], "sources": ["192.0.2.0/24"]}], "management": MGMT})
    assert policy.services[0].peers == (ipaddress.ip_network("192.0.2.0/24"),)


# Hostile input: each refused with the module's own message, before anything is rendered.

@pytest.mark.parametrize("value", ["²", "1" * 4301, "１２", "٢١", "0x15", "+21", True, 2.5, None])
def test_port_that_is_not_ascii_digits_is_refused(value):
    with pytest.raises(PolicyError, match="is not a number"):
        parse_port(value, "x")


@pytest.mark.parametrize("rate", ["10/minute\n", "10/minute ", "1" * 20 + "/second", "٣/second", "0/second", "00/minute"])
def test_log_rate_must_match_whole(rate):
    with pytest.raises(PolicyError, match="must look like 10/minute"):
        build({"management": MGMT, "log_rate": rate})


@pytest.mark.parametrize("name", ["ftp\n", "ftp\r", "ftp x", "-ftp", "a" * 64])
def test_service_name_must_match_whole(name):
    with pytest.raises(PolicyError, match="must be 1-63 letters"):
        build({"management": MGMT, "services": [{"name": name, "ports": [21]}]})


@pytest.mark.parametrize("table", ["ip", "set", "log", "chain", "table", "counter"])
def test_table_named_like_an_nft_keyword_is_refused(table):
    with pytest.raises(PolicyError, match="is a word nft reserves"):
        build({"table": table, "management": MGMT})


@pytest.mark.parametrize("source, message", [
    ("fe80::1%eth0", "carries a zone"),
    ("::ffff:10.0.0.1", "write 10.0.0.1 instead"),
])
def test_source_nft_cannot_match_is_refused(source, message):
    with pytest.raises(PolicyError, match=message):
        build({"management": MGMT, "services": [{"name": "web", "ports": [80], "sources": [source]}]})


@pytest.mark.parametrize("comment", ["x" * 200, "a\x00b", "a\rb", "a\u2028b", 'say "hi"', "a\tb"])
def test_comment_nft_would_refuse_is_refused(comment):
    with pytest.raises(PolicyError, match="comment"):
        build({"management": MGMT, "services": [{"name": "web", "ports": [80], "comment": comment}]})


def test_comment_at_nft_limit_renders():
    comment = "é" * 58   # 116 bytes; with "web: " 121
    assert f'comment "web: {comment}"' in rendered(services=[{"name": "web", "ports": [80], "comment": comment}])


def test_management_left_out_is_refused():
    with pytest.raises(PolicyError, match="management is missing"):
        build({"services": [FTP]})


@pytest.mark.parametrize("port", [0, 65536, "ssh"])
def test_management_port_out_of_range_is_refused(port):
    with pytest.raises(PolicyError, match="management"):
        build({"management": {"sources": ["192.0.2.10"], "port": port}})


def test_management_port_is_checked_with_ssh_closed_too():
    with pytest.raises(PolicyError, match="out of range"):
        build({"management": {"sources": [], "required": False, "port": 0}})


def test_service_opening_the_management_port_to_everyone_warns():
    policy = build({"management": MGMT, "services": [{"name": "wide", "ports": ["20-25"]}]})
    assert policy.warnings == ["services entry 'wide' opens the management port 22 to everyone: the "
                               "management sources no longer restrict SSH"]


@pytest.mark.parametrize("service", [
    {"name": "narrow", "ports": ["20-25"], "sources": ["192.0.2.0/24"]},
    {"name": "dns", "proto": "udp", "ports": [22]},
    {"name": "ftp", "ports": [21]},
])
def test_no_warning_when_the_management_port_stays_restricted(service):
    assert build({"management": MGMT, "services": [service]}).warnings == []


# The anti-lockout check: would a new connection from Ansible's address to its port get in?

@pytest.mark.parametrize("address, port, expected", [
    ("192.0.2.10", 22, True),             # a management source
    ("192.0.2.11", 22, False),            # anyone else
    ("::ffff:192.0.2.10", 22, True),      # the same source, as sshd may report it
    ("2001:db8::10", 22, False),
    ("192.0.2.11", 21, True),             # a port open to everyone
    ("127.0.0.1", 22, True),              # loopback always gets in
    ("192.0.2.10", 2222, False),          # SSH on another port than the rule's
])
def test_admits(address, port, expected):
    assert admits(build({"services": [FTP], "management": MGMT}), address, port) is expected


def test_admits_through_a_wide_service():
    policy = build({"services": [{"name": "wide", "ports": ["1-1024"], "sources": ["198.51.100.0/24"]}],
                    "management": {"sources": [], "required": False}})
    assert admits(policy, "198.51.100.7", 22) and not admits(policy, "192.0.2.10", 22)


# Bans and per-source limits

def test_ban_sets_are_defined_and_dropped_after_management():
    lines = rendered(ban_set="banned", services=[FTP]).splitlines()
    assert "\tset banned_v4 {" in lines and "\tset banned_v6 {" in lines
    rules = [line.strip() for line in lines]
    management = next(i for i, r in enumerate(rules) if r.startswith("ip saddr 192.0.2.10/32 tcp dport 22"))
    assert rules[management + 1:management + 3] == ["ip saddr @banned_v4 drop", "ip6 saddr @banned_v6 drop"]
    assert rules.index("ip saddr @banned_v4 drop") < rules.index("ct state established,related accept")
    assert sum(r.startswith("ip saddr 192.0.2.10/32 tcp dport 22") for r in rules) == 1


def test_no_ban_set_no_ban_rule():
    assert "@" not in rendered(services=[FTP])


@pytest.mark.parametrize("name", ["1banned", "ban-set", "set", "a" * 30, "b\n"])
def test_bad_ban_set_is_refused(name):
    with pytest.raises(PolicyError, match="ban_set"):
        build({"management": MGMT, "ban_set": name})


def test_limit_meters_new_connections_per_source_before_the_accept():
    rules = [line.strip() for line in rendered(services=[dict(FTP, limit="20/minute burst 5 packets")]).splitlines()]
    limited = "tcp dport 21 ct state new update @limit_ftp_v4 { ip saddr limit rate over 20/minute burst 5 packets } drop"
    assert limited in rules
    assert rules.index(limited) < rules.index('tcp dport 21 accept comment "ftp: FTP control connection"')
    assert "set limit_ftp_v6 {" in rules


@pytest.mark.parametrize("limit", ["0/minute", "20/minute burst 0 packets", "20/minute\n", "lots", "20/minute burst"])
def test_bad_limit_is_refused(limit):
    with pytest.raises(PolicyError, match="limit"):
        build({"management": MGMT, "services": [dict(FTP, limit=limit)]})


@pytest.mark.parametrize("prefix, key", [
    (64, "ip6 saddr & ffff:ffff:ffff:ffff::"), (48, "ip6 saddr & ffff:ffff:ffff::"), (128, "ip6 saddr")])
def test_an_ipv6_source_is_metered_by_its_prefix(prefix, key):
    """A host that rotates addresses within its /64 is one source to the meters and the caps."""
    text = rendered(services=[dict(FTP, limit="20/minute", cap=5)], ipv6_prefix=prefix)
    assert f"update @limit_ftp_v6 {{ {key} limit rate over 20/minute }} drop" in text
    assert f"add @cap_ftp_v6 {{ {key} ct count over 5 }} reject with tcp reset" in text
    assert "add @cap_ftp_v4 { ip saddr ct count over 5 } reject with tcp reset" in text


def test_cap_refuses_before_the_accept():
    rules = [line.strip() for line in rendered(services=[dict(FTP, cap=5)]).splitlines()]
    capped = "tcp dport 21 ct state new add @cap_ftp_v4 { ip saddr ct count over 5 } reject with tcp reset"
    assert rules.index(capped) < rules.index('tcp dport 21 accept comment "ftp: FTP control connection"')
    assert "set cap_ftp_v6 {" in rules


@pytest.mark.parametrize("cap, message", [(-1, "cap"), (True, "cap"), ("5", "cap"), (70000, "cap")])
def test_bad_cap_is_refused(cap, message):
    with pytest.raises(PolicyError, match=message):
        build({"management": MGMT, "services": [dict(FTP, cap=cap)]})


def test_cap_is_for_tcp():
    with pytest.raises(PolicyError, match="tcp"):
        build({"management": MGMT, "services": [{"name": "dns", "proto": "udp", "ports": [53], "cap": 5}]})


@pytest.mark.parametrize("prefix", [0, 129, True, "64"])
def test_bad_ipv6_prefix_is_refused(prefix):
    with pytest.raises(PolicyError, match="ipv6_prefix"):
        build({"management": MGMT, "services": [FTP], "ipv6_prefix": prefix})


def test_the_ipv6_ban_set_holds_prefixes():
    text = rendered(services=[FTP], ban_set="ban")
    v6 = text.split("set ban_v6 {")[1].split("}")[0]
    v4 = text.split("set ban_v4 {")[1].split("}")[0]
    assert "flags interval,timeout" in v6 and "flags timeout" in v4 and "interval" not in v4


def test_ban_set_may_not_take_a_limit_set_name():
    with pytest.raises(PolicyError, match="limit set"):
        build({"management": MGMT, "ban_set": "limit_ftp", "services": [dict(FTP, limit="5/second")]})


def test_strip_elements_leaves_what_the_module_owns():
    listing = ("table inet t {\n\tset banned_v4 {\n\t\ttype ipv4_addr\n\t\tflags timeout\n"
               "\t\telements = { 192.0.2.1 timeout 10m,\n\t\t\t     192.0.2.2 timeout 1h }\n\t}\n}\n")
    assert strip_elements(listing) == "table inet t {\n\tset banned_v4 {\n\t\ttype ipv4_addr\n\t\tflags timeout\n\t}\n}\n"


def test_limit_sets_of_two_services_may_not_collide():
    with pytest.raises(PolicyError, match="share a name"):
        build({"management": MGMT, "services": [{"name": "a.b", "ports": [1], "limit": "5/second"},
                                                 {"name": "a_b", "ports": [2], "limit": "5/second"}]})


def test_strip_meters_keeps_bans():
    listing = ("table inet t {\n\tset banned_v4 {\n\t\ttype ipv4_addr\n\t\tflags timeout\n"
               "\t\telements = { 192.0.2.1 timeout 10m }\n\t}\n\n\tset limit_ftp_v4 {\n\t\ttype ipv4_addr\n"
               "\t\tsize 65535\n\t\tflags dynamic,timeout\n\t\ttimeout 10m\n"
               "\t\telements = { 192.0.2.2 limit rate over 20/minute expires 9m }\n\t}\n}\n")
    stripped = strip_meters(listing)
    assert "192.0.2.1 timeout 10m" in stripped and "192.0.2.2" not in stripped
    assert "\tset limit_ftp_v4 {\n\t\ttype ipv4_addr\n\t\tsize 65535\n\t\tflags dynamic,timeout\n\t\ttimeout 10m\n\t}" in stripped


# Ports opened on demand (an ACME client's challenge port)

ACME = {"name": "acme", "ports": [80], "on_demand": True, "comment": "ACME http-01 challenge"}


def test_on_demand_port_is_accepted_only_while_in_its_set():
    rules = [line.strip() for line in rendered(services=[ACME]).splitlines()]
    assert 'tcp dport 80 tcp dport @open_acme accept comment "acme: ACME http-01 challenge"' in rules
    assert "set open_acme {" in rules and "type inet_service; flags timeout;" in rules
    assert not any(r.startswith("tcp dport 80 accept") for r in rules)


def test_on_demand_port_does_not_count_as_open():
    policy = build({"management": MGMT, "services": [ACME]})
    assert not admits(policy, "203.0.113.9", 80)
    assert exposure(policy)[0]["on_demand"] is True


@pytest.mark.parametrize("entry, message", [
    (dict(ACME, on_demand="yes"), "on_demand"),
    (dict(ACME, helper="ftp"), "no helper"),
])
def test_bad_on_demand_entry_is_refused(entry, message):
    with pytest.raises(PolicyError, match=message):
        build({"management": MGMT, "services": [entry]})


def test_on_demand_sets_may_not_collide():
    with pytest.raises(PolicyError, match="share a name"):
        build({"management": MGMT, "services": [dict(ACME, name="a.b"), dict(ACME, name="a_b", ports=[81])]})


# Connections the host forwards after DNAT (ports a container engine publishes)

def chain(script, name):
    lines = script.splitlines()
    start = lines.index(f"\tchain {name} {{")
    return [line.strip() for line in lines[start + 1:lines.index("\t}", start)]]


def test_forwarded_connections_after_dnat_go_through_the_policy():
    forward = chain(rendered(services=[FTP]), "forward")
    assert forward == ["type filter hook forward priority filter; policy accept;",
                       "ct direction original ct status dnat jump published",
                       'ct direction original ct state new ct status & dnat == 0 meta iifkind != "bridge" '
                       'meta oifkind "bridge" drop']


def test_published_ports_are_judged_by_the_port_asked_for_before_dnat():
    mssql = {"name": "mssql", "ports": [1433], "sources": ["192.0.2.0/24", "2001:db8::/32"]}
    published = chain(rendered(services=[PASSIVE, mssql]), "published")
    assert published[0] == "ct state established,related accept"
    assert ('ip saddr 192.0.2.10/32 meta l4proto tcp ct original proto-dst 22 accept comment '
            '"management: SSH from the management sources"') in published
    assert 'meta l4proto tcp ct original proto-dst 50000-50049 accept comment "ftp-passive"' in published
    assert 'ip saddr 192.0.2.0/24 meta l4proto tcp ct original proto-dst 1433 accept comment "mssql"' in published
    assert 'ip6 saddr 2001:db8::/32 meta l4proto tcp ct original proto-dst 1433 accept comment "mssql"' in published
    assert published[-1] == "drop"
    assert not any("dport" in rule for rule in published)


def test_published_ports_keep_bans_limits_and_on_demand_sets():
    script = rendered(ban_set="banned", log_drops=True,
                      services=[dict(FTP, limit="20/minute"), ACME, {"name": "udp", "proto": "udp", "ports": [53]}])
    published = chain(script, "published")
    assert published.index("ip saddr @banned_v4 drop") < published.index("ct state established,related accept")
    assert ("meta l4proto tcp ct original proto-dst 21 ct state new update @limit_ftp_v4 "
            "{ ip saddr limit rate over 20/minute } drop") in published
    assert ('meta l4proto tcp ct original proto-dst 80 ct original proto-dst @open_acme accept comment '
            '"acme: ACME http-01 challenge"') in published
    assert 'meta l4proto udp ct original proto-dst 53 accept comment "udp"' in published
    assert published[-2:] == ['limit rate 10/minute log prefix "host_firewall drop fwd: " level info', "drop"]
    assert chain(script, "forward")[-2:] == [
        'ct direction original ct state new ct status & dnat == 0 meta iifkind != "bridge" meta oifkind "bridge" '
        'limit rate 10/minute log prefix "host_firewall drop fwd: " level info',
        'ct direction original ct state new ct status & dnat == 0 meta iifkind != "bridge" meta oifkind "bridge" drop']
    assert not any(rule.startswith("icmp") for rule in published)

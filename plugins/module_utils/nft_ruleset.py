# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""The pure core of the nft_firewall module: validate a declarative inbound policy, render it as one
nftables table, and diff two renderings. No Ansible imports, so unit tests use it directly."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass, field, replace

# \A...\Z: "$" would let a trailing newline through, and a newline splits an nft rule in two.
NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
TABLE = re.compile(r"\A[A-Za-z][A-Za-z0-9_]{0,31}\Z")
LIMIT = re.compile(r"\A[1-9][0-9]{0,8}/(second|minute|hour|day)( burst [1-9][0-9]{0,8} packets)?\Z")
SET = re.compile(r"\A[A-Za-z][A-Za-z0-9_]{0,28}\Z")   # with _v4/_v6 added, within nft's limits
RATE = re.compile(r"\A[1-9][0-9]{0,8}/(second|minute|hour|day)\Z")  # the kernel refuses a rate of 0
PORT = re.compile(r"\A[0-9]{1,5}\Z")   # ASCII digits only: int() would also take "١٢" or "１２"
# Words nft 1.0 reads as keywords where a table name stands (each tried with nft -c): such a table
# gives nft's syntax error.
KEYWORDS = frozenset("""accept reject drop continue return jump goto queue counter ct meta tcp udp udplite
    sctp dccp icmp icmpv6 igmp ah esp comp ether vlan arp ip ip6 inet bridge netdev table chain rule ruleset
    set map element flowtable hook type policy priority device devices handle position index comment define
    include redefine undefine describe list flush add create insert replace delete get reset rename export
    import monitor limit log quota snat dnat masquerade redirect tproxy synproxy fib rt socket osf numgen
    jhash symhash mark secmark notrack dup fwd flags timeout size interval elements offload dynamic iif oif
    iifname oifname iiftype oiftype skuid skgid nftrace rtclassid ibrname obrname pkttype cpu iifgroup
    oifgroup cgroup random ipsec ecn frag""".split())
COMMENT_BYTES = 128   # nft's limit for a rule comment
HELPERS = {"ftp": "ftp"}
PROTOCOLS = ("tcp", "udp")

# ICMP a host needs: errors (path-MTU discovery rides on destination-unreachable / packet-too-big)
# and, for IPv6, neighbour and router discovery.
ICMP4 = "destination-unreachable, time-exceeded, parameter-problem"
ICMP6 = ("destination-unreachable, packet-too-big, time-exceeded, parameter-problem, "
         "nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert")


class PolicyError(ValueError):
    """An input the module refuses; the message names the entry."""


@dataclass(frozen=True)
class Rule:
    """One allowed flow: inbound to ports (services) or outbound (egress)."""

    name: str
    proto: str
    ports: tuple = ()          # destination ports/ranges, as (low, high)
    sports: tuple = ()         # source ports/ranges (egress only)
    peers: tuple = ()          # allowed sources (inbound) or destinations (egress); () = anyone
    comment: str = ""
    helper: str = ""           # conntrack helper attached to connections to these ports
    limit: str = ""            # new connections per source above this rate are dropped (services only)
    on_demand: bool = False    # closed until a program on the host puts a port in the rule's set
    cap: int = 0               # connections at once per source above this are refused (services only)


@dataclass
class Policy:
    table: str = "host_firewall"
    services: list = field(default_factory=list)
    egress: list = field(default_factory=list)
    egress_filter: bool = False
    icmp_echo: bool = True
    log_drops: bool = False
    log_rate: str = "10/minute"
    ban_set: str = ""          # sets <ban_set>_v4/_v6 whose sources are dropped; their elements are not ours
    prefix6: int = 64          # an IPv6 source is its prefix of this length: for meters, caps and bans
    warnings: list = field(default_factory=list)   # what is allowed but probably not meant


def parse_port(value, where):
    """An int or 'low-high' string to a (low, high) pair, both within 1..65535."""
    text = str(value).strip()
    parts = [p.strip() for p in text.split("-")]
    if isinstance(value, bool) or len(parts) not in (1, 2) or not all(PORT.match(p) for p in parts):
        raise PolicyError(f"{where}: port {shorten(value)} is not a number or a range like 50000-50049")
    low, high = int(parts[0]), int(parts[-1])
    for port in (low, high):
        if not 1 <= port <= 65535:
            raise PolicyError(f"{where}: port {port} is out of range (1-65535)")
    if low > high:
        raise PolicyError(f"{where}: range {text} is reversed")
    return low, high


def merge(ranges):
    """Sort (low, high) pairs and merge overlapping or adjacent ones (nft sets refuse overlaps)."""
    merged = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return tuple(merged)


def shorten(value, limit=40):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def parse_peer(value, where):
    try:
        network = ipaddress.ip_network(str(value).strip(), strict=True)
    except ValueError as err:
        raise PolicyError(f"{where}: {shorten(value)} is not an IPv4/IPv6 address or CIDR ({err})") from None
    if network.version == 6 and network.network_address.scope_id:
        raise PolicyError(f"{where}: {value!r} carries a zone (%...): nftables matches addresses without one")
    if network.version == 6 and network.network_address.ipv4_mapped:
        raise PolicyError(f"{where}: {value!r} is an IPv4-mapped IPv6 address, which never matches IPv4 "
                          f"traffic; write {network.network_address.ipv4_mapped} instead")
    return network


def check_text(text, where, what):
    """Text that goes between quotes into the ruleset: no quotes, no control or line-break characters."""
    bad = [c for c in text if c == '"' or unicodedata.category(c)[0] == "C" or unicodedata.category(c) in ("Zl", "Zp")]
    if bad:
        raise PolicyError(f"{where}: {what} must not contain quotes, control characters or line breaks "
                          f"(found {bad[0]!r})")
    if len(text.encode()) > COMMENT_BYTES - 2:
        raise PolicyError(f"{where}: {what} is longer than nft allows ({COMMENT_BYTES - 2} bytes with the name)")


def parse_rule(entry, kind):
    """Validate one service (kind 'services') or egress entry (kind 'egress') into a Rule."""
    if not isinstance(entry, dict):
        raise PolicyError(f"{kind}: entry {entry!r} is not a mapping")
    name = str(entry.get("name") or "")
    if not NAME.match(name):
        raise PolicyError(f"{kind}: name {shorten(name)} must be 1-63 letters, digits, '.', '_' or '-'")
    where = f"{kind} entry {name!r}"
    proto = entry.get("proto") or "tcp"
    if proto not in PROTOCOLS:
        raise PolicyError(f"{where}: proto {proto!r} must be one of {', '.join(PROTOCOLS)}")
    ports = merge(parse_port(p, where) for p in entry.get("ports") or [])
    sports = merge(parse_port(p, where) for p in entry.get("sports") or [])
    peer_key = "sources" if kind == "services" else "destinations"
    peers = tuple(sorted({parse_peer(p, where) for p in entry.get(peer_key) or []},
                         key=lambda n: (n.version, n)))
    if kind == "services" and not ports:
        raise PolicyError(f"{where}: ports is empty; a service opens at least one port")
    if kind == "egress" and not (ports or sports or peers):
        raise PolicyError(f"{where}: give ports, sports or destinations, or it would allow all output")
    helper = entry.get("helper") or ""
    if helper and helper not in HELPERS:
        raise PolicyError(f"{where}: helper {helper!r} is not one of {', '.join(HELPERS)}")
    if helper and proto != "tcp":
        raise PolicyError(f"{where}: the {helper} helper works on tcp only")
    comment = str(entry.get("comment") or "")
    check_text(f"{name}: {comment}", where, "comment")
    limit = str(entry.get("limit") or "")
    if limit and not LIMIT.match(limit):
        raise PolicyError(f"{where}: limit {shorten(limit)} must look like 20/minute or 20/minute burst 10 "
                          f"packets (new connections per source)")
    on_demand = entry.get("on_demand") or False
    if not isinstance(on_demand, bool):
        raise PolicyError(f"{where}: on_demand {shorten(on_demand)} must be true or false")
    if on_demand and helper:
        raise PolicyError(f"{where}: a port opened on demand takes no helper")
    cap = entry.get("cap") or 0
    if isinstance(cap, bool) or not isinstance(cap, int) or not 0 <= cap <= 65535:
        raise PolicyError(f"{where}: cap {shorten(cap)} must be a whole number of connections, 0 (none) to 65535")
    if cap and proto != "tcp":
        raise PolicyError(f"{where}: cap counts tcp connections")
    return Rule(name, proto, ports, sports, peers, comment, helper, limit, on_demand, cap)


def parse_rules(entries, kind):
    """Validate a list of entries; identical repeats (from several contributors) collapse into one,
    a name reused for a different entry is an error."""
    rules = {}
    for entry in entries or []:
        rule = parse_rule(entry, kind)
        if rule.name in rules and rules[rule.name] != rule:
            raise PolicyError(f"{kind}: name {rule.name!r} is used by two different entries")
        rules[rule.name] = rule
    return list(rules.values())


def build(params):
    """Module parameters (a dict) to a validated Policy, or PolicyError."""
    table = params.get("table") or "host_firewall"
    if not TABLE.match(table):
        raise PolicyError(f"table {shorten(table)} must start with a letter and hold only letters, digits and '_'")
    if table in KEYWORDS:
        raise PolicyError(f"table {table!r} is a word nft reserves; choose another name")
    services = parse_rules(params.get("services"), "services")
    management = params.get("management")
    if management is None:
        raise PolicyError(
            "management is missing, so SSH would be closed to everyone and Ansible locked out; give "
            "management.sources, or management.required: false to leave SSH closed on purpose"
        )
    warnings = []
    if management:
        sources = management.get("sources") or []
        if not sources and management.get("required", True):
            raise PolicyError(
                "management: sources is empty, so SSH would be closed to everyone and Ansible locked out; "
                "name the addresses that manage this host, or set management.required to false"
            )
        port = management.get("port")
        port = 22 if port is None else port
        if sources:
            ssh = parse_rule({"name": "management", "proto": "tcp", "ports": [port],
                              "sources": sources, "comment": "SSH from the management sources"}, "services")
            if any(s.name == "management" for s in services):
                raise PolicyError("services: the name 'management' is reserved for the management SSH rule")
            (low, dummy), = ssh.ports
            warnings += [
                f"services entry {s.name!r} opens the management port {low} to everyone: the management "
                f"sources no longer restrict SSH" for s in services
                if s.proto == "tcp" and not s.peers and any(a <= low <= b for a, b in s.ports)]
            services.append(ssh)
        else:
            parse_port(port, "management")
    ban_set = str(params.get("ban_set") or "")
    if ban_set and (not SET.match(ban_set) or ban_set in KEYWORDS):
        raise PolicyError(f"ban_set {shorten(ban_set)} must start with a letter, hold only letters, digits and "
                          f"'_' (at most 29) and not be a word nft reserves")
    # Sets named after services: two names that differ only in '.', '-' or '_' would share one.
    for what, kind, names in (("limited services", "limit set", [limit_set(r) for r in services if r.limit]),
                              ("capped services", "cap set", [cap_set(r) for r in services if r.cap]),
                              ("services opened on demand", "on-demand set",
                               [open_set(r) for r in services if r.on_demand])):
        if len(set(names)) < len(names):
            raise PolicyError(f"services: two {what} differ only in '.', '-' or '_' in their names, so their "
                              f"sets would share a name; rename one")
        if ban_set and ban_set in names:
            raise PolicyError(f"ban_set {ban_set!r} is the name of a service's {kind}; choose another")
    prefix6 = params.get("ipv6_prefix", 64)
    if isinstance(prefix6, bool) or not isinstance(prefix6, int) or not 1 <= prefix6 <= 128:
        raise PolicyError(f"ipv6_prefix {shorten(prefix6)} must be a prefix length, 1 to 128 (64: a subnet)")
    rate = str(params.get("log_rate") or "10/minute")
    if not RATE.match(rate):
        raise PolicyError(f"log_rate {rate!r} must look like 10/minute (at least 1)")
    return Policy(
        table=table,
        services=services,
        egress=parse_rules(params.get("egress"), "egress"),
        egress_filter=bool(params.get("egress_filter")),
        icmp_echo=params.get("icmp_echo", True) is not False,
        log_drops=bool(params.get("log_drops")),
        log_rate=rate,
        ban_set=ban_set,
        prefix6=prefix6,
        warnings=warnings,
    )


def admits(policy, address, port):
    """Whether the input chain accepts a new TCP connection from address to port (the anti-lockout
    check: the connection Ansible uses must still get in)."""
    address = ipaddress.ip_address(address)
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return True
    return any(rule.proto == "tcp" and not rule.on_demand and any(low <= port <= high for low, high in rule.ports)
               and (not rule.peers or any(address in peer for peer in rule.peers))
               for rule in policy.services)


def ports_expr(ranges):
    items = [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ranges]
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def peer_matches(peers, direction):
    """Match expressions, one per address family present: [''] when anyone is allowed."""
    if not peers:
        return [""]
    out = []
    for family, version in (("ip", 4), ("ip6", 6)):
        nets = [str(n) for n in peers if n.version == version]
        if nets:
            out.append(f"{family} {direction} {nets[0] if len(nets) == 1 else '{ ' + ', '.join(nets) + ' }'} ")
    return out


def dport(rule, published):
    """What matches the port a client asked for: the packet's own, or, for a connection the host
    forwards after DNAT (a port a container engine publishes), the port before the translation."""
    return f"meta l4proto {rule.proto} ct original proto-dst" if published else f"{rule.proto} dport"


def rule_lines(rule, direction, published=False):
    """nft rule lines for one Rule; direction 'saddr' (inbound) or 'daddr' (egress)."""
    match = ""
    if rule.sports:
        match += f"{rule.proto} sport {ports_expr(rule.sports)} "
    if rule.ports:
        match += f"{dport(rule, published)} {ports_expr(rule.ports)} "
    if not match:
        match = f"meta l4proto {rule.proto} "
    if rule.on_demand:
        match += f"{'ct original proto-dst' if published else dport(rule, False)} @{open_set(rule)} "
    comment = f"{rule.name}: {rule.comment}" if rule.comment else rule.name
    return [f"{peer}{match}accept comment \"{comment}\"" for peer in peer_matches(rule.peers, direction)]


def limit_set(rule):
    """Name of the dynamic set that meters a limited service's sources (without _v4/_v6)."""
    return "limit_" + re.sub(r"[^A-Za-z0-9_]", "_", rule.name)


def cap_set(rule):
    """Name of the dynamic set that counts a capped service's connections by source (without _v4/_v6)."""
    return "cap_" + re.sub(r"[^A-Za-z0-9_]", "_", rule.name)


def open_set(rule):
    """Name of the set of ports a program on the host opens for a while (on-demand services)."""
    return "open_" + re.sub(r"[^A-Za-z0-9_]", "_", rule.name)


def sets(policy):
    """The named sets the table holds: (name, type, flags); the address sets in both families, then the
    ports opened on demand (each port in one with a timeout, so none stays open when its opener dies)."""
    # (name, IPv4 flags, IPv6 flags). IPv6 bans may be whole prefixes (a guesser rotating within its
    # /64): an interval set holds them.
    names = ([(policy.ban_set, "flags timeout;", "flags interval,timeout;")] if policy.ban_set else []) + [
        (limit_set(r), *["size 65535; flags dynamic,timeout; timeout 10m;"] * 2) for r in policy.services if r.limit] + [
        (cap_set(r), *["size 65535; flags dynamic;"] * 2) for r in policy.services if r.cap]
    return ([(f"{name}_v{v}", f"ipv{v}_addr", flags[v == 6]) for name, *flags in names for v in (4, 6)]
            + [(open_set(r), "inet_service", "flags timeout;") for r in policy.services if r.on_demand])


def source(policy, v):
    """The key a source is counted by: an IPv4 address, or an IPv6 address's prefix (policy.prefix6)."""
    if v == 4 or policy.prefix6 == 128:
        return f"ip{'' if v == 4 else '6'} saddr"
    return f"ip6 saddr & {ipaddress.IPv6Network(f'::/{policy.prefix6}').netmask}"


def limit_lines(policy, rule, published=False):
    """Drop a source's new connections to the rule's ports above its rate (before the rule accepts)."""
    return [f"{dport(rule, published)} {ports_expr(rule.ports)} ct state new update @{limit_set(rule)}_v{v} "
            f"{{ {source(policy, v)} limit rate over {rule.limit} }} drop" for v in (4, 6)]


def cap_lines(policy, rule, published=False):
    """Refuse (a reset, not a silence to retry into) a source's connections to the rule's ports beyond
    its cap at once (before the rule accepts)."""
    return [f"{dport(rule, published)} {ports_expr(rule.ports)} ct state new add @{cap_set(rule)}_v{v} "
            f"{{ {source(policy, v)} ct count over {rule.cap} }} reject with tcp reset" for v in (4, 6)]


# A new connection routed from outside into a local bridge (a container's or VM's network) without DNAT.
ROUTED = 'ct direction original ct state new ct status & dnat == 0 meta iifkind != "bridge" meta oifkind "bridge"'

ELEMENTS = re.compile(r"\n\s*elements = \{[^}]*\}")


METERS = re.compile(r"(\n\tset (?:limit|cap)_\w+ \{[^}]*?)\n\s*elements = \{[^}]*\}")


def strip_meters(listing):
    """A table listing without the per-source meters' state (their elements are no script nft loads
    back, and mean nothing to a restored table), bans and all else kept."""
    return METERS.sub(r"\1", listing)


def strip_elements(listing):
    """A table listing without the elements of its sets: those are the ban tool's and the meters', and
    change by themselves; the rest is what the module owns."""
    return ELEMENTS.sub("", listing)


def admit_lines(policy, published):
    """Rule lines that admit new inbound connections by the services and drop the banned: the input
    chain's, and the same again by the port asked for before DNAT for the connections it forwards."""
    lines = []
    if policy.ban_set:
        # Management first: no ban ever cuts the way in for Ansible. Then, before established traffic,
        # the bans: a banned address loses the sessions it has too.
        for rule in policy.services:
            if rule.name == "management":
                lines += rule_lines(rule, "saddr", published)
        lines += [f"ip saddr @{policy.ban_set}_v4 drop", f"ip6 saddr @{policy.ban_set}_v6 drop"]
    lines += ["ct state established,related accept"]
    if not published:   # a packet conntrack finds invalid has no DNAT status, and never jumps here
        lines += ["ct state invalid drop", f"icmp type {{ {ICMP4} }} accept", f"icmpv6 type {{ {ICMP6} }} accept"]
        if policy.icmp_echo:
            lines += ["icmp type echo-request limit rate 10/second accept",
                      "icmpv6 type echo-request limit rate 10/second accept"]
    for rule in policy.services:
        if policy.ban_set and rule.name == "management":
            continue   # already above the bans
        if rule.limit:
            lines += limit_lines(policy, rule, published)
        if rule.cap:
            lines += cap_lines(policy, rule, published)
        lines += rule_lines(rule, "saddr", published)
    lines += logged(policy, "fwd" if published else "in")
    return ["\t\t" + line for line in lines]


def logged(policy, where):
    """The rate-limited log statement before a drop, when drops are logged."""
    if not policy.log_drops:
        return []
    return [f"limit rate {policy.log_rate} log prefix \"{policy.table} drop {where}: \" level info"]


def render(policy):
    """The policy as an nft script that atomically replaces only its own table."""
    t = policy.table
    lines = [
        "# Managed by the nft_firewall Ansible module: changes made here are replaced on its next run.",
        f"table inet {t}",
        f"delete table inet {t}",
        f"table inet {t} {{",
    ]
    for name, kind, flags in sets(policy):
        lines += [f"\tset {name} {{", f"\t\ttype {kind}; {flags}", "\t}", ""]
    helpers = sorted({r.helper for r in policy.services if r.helper})
    for helper in helpers:
        lines += [f"\tct helper {helper} {{", f"\t\ttype \"{HELPERS[helper]}\" protocol tcp",
                  "\t\tl3proto inet", "\t}", ""]
    if helpers:
        # Since Linux 6.0 helpers are never attached automatically: attach them to the control
        # connections here, so their data connections (passive and active) are RELATED.
        lines += ["\tchain prerouting {", "\t\ttype filter hook prerouting priority filter; policy accept;"]
        for rule in policy.services:
            if rule.helper:
                lines += [f"\t\t{peer}{rule.proto} dport {ports_expr(rule.ports)} ct helper set \"{rule.helper}\""
                          for peer in peer_matches(rule.peers, "saddr")]
        lines += ["\t}", ""]
    lines += [
        "\tchain input {",
        "\t\ttype filter hook input priority filter; policy drop;",
        "\t\tiif \"lo\" accept",
        *admit_lines(policy, published=False),
        "\t}",
        "",
        # A port a container engine (or any DNAT) publishes is forwarded, never input: the same policy
        # judges the connections the host forwards after translating their destination. A route to a
        # container's own address (a neighbour's, or a global IPv6 one) would pass around its published
        # ports: new connections routed from outside into a bridge without DNAT are dropped. Everything
        # else forwarded (the containers' own traffic, replies, container to container) passes here.
        "\tchain forward {",
        "\t\ttype filter hook forward priority filter; policy accept;",
        "\t\tct direction original ct status dnat jump published",
        *[f"\t\t{ROUTED} {verdict}" for verdict in logged(policy, "fwd") + ["drop"]],
        "\t}",
        "",
        "\tchain published {",
        *admit_lines(policy, published=True),
        "\t\tdrop",
        "\t}",
    ]
    if policy.egress_filter:
        lines += [
            "",
            "\tchain output {",
            "\t\ttype filter hook output priority filter; policy drop;",
            "\t\toif \"lo\" accept",
            "\t\tct state established,related accept",
        ]
        management = next((r for r in policy.services if r.name == "management"), None)
        if management:
            # Whatever conntrack makes of them: the SSH session applying this table began before
            # conntrack saw it, and its first reply is picked up as "new"; dropping it hangs that session.
            reply = replace(management, ports=(), sports=management.ports, comment="replies to the management sources")
            lines += ["\t\t" + line for line in rule_lines(reply, "daddr")]
        lines += [
            "\t\tct state invalid drop",
            f"\t\ticmp type {{ {ICMP4}, echo-request }} accept",
            f"\t\ticmpv6 type {{ {ICMP6}, echo-request, nd-router-solicit }} accept",
        ]
        for rule in policy.egress:
            lines += ["\t\t" + line for line in rule_lines(rule, "daddr")]
        lines += ["\t\t" + line for line in logged(policy, "out")]
        lines += ["\t}"]
    lines += ["}", ""]
    return "\n".join(lines)


def exposure(policy):
    """What is open to whom, for the module's return value."""
    def describe(rule):
        return {
            "name": rule.name,
            "proto": rule.proto,
            "ports": [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in rule.ports],
            "sources": [str(n) for n in rule.peers] or ["any"],
            "helper": rule.helper or None,
            "on_demand": rule.on_demand,
        }
    return [describe(rule) for rule in policy.services]

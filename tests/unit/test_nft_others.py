"""Other firewall managers found before nft_firewall changes anything. The nftables listings in data/
were taken from a Debian 12 container (`nft -j list ruleset`, cut to tables, chains and the input
chains' rules): ufw 0.36.2 after `ufw default deny incoming; ufw allow 21/tcp; ufw allow 22/tcp;
ufw --force enable`, the same after `ufw disable`, and firewalld 1.3 running."""

import json
import pathlib

import pytest
import nft_others
from nft_others import find, from_legacy, from_nft, from_settings, message, own

DATA = pathlib.Path(__file__).parent / "data"


def listing(name):
    return json.loads((DATA / f"{name}.json").read_text())


def chain(family, table, name, hook=None, policy="accept"):
    obj = {"family": family, "table": table, "name": name}
    if hook:
        obj.update(type="filter", hook=hook, prio=0, policy=policy)
    return {"chain": obj}


def rule(family, table, name, *expr):
    return {"rule": {"family": family, "table": table, "chain": name, "expr": list(expr)}}


def test_enabled_ufw_is_found_in_both_families():
    found = from_nft(listing("ufw-enabled"), {"host_firewall"})
    assert found == [("ufw", "table ip filter: its input chain INPUT drops what it does not accept"),
                     ("ufw", "table ip6 filter: its input chain INPUT drops what it does not accept")]


def test_disabled_ufw_leaves_chains_that_drop_nothing():
    assert from_nft(listing("ufw-disabled"), {"host_firewall"}) == []


def test_running_firewalld_is_found_by_its_table():
    assert [tool for tool, dummy in from_nft(listing("firewalld"), {"host_firewall"})] == ["firewalld"]


def test_own_table_and_accepting_chains_are_not_findings():
    ruleset = {"nftables": [
        chain("inet", "host_firewall", "input", "input", "drop"),   # ours
        chain("inet", "filter", "input", "input"),                  # Debian's default nftables.conf
        chain("ip", "filter", "FORWARD", "forward", "drop"),        # Docker: forwarding only
        chain("inet", "f2b-table", "f2b-chain", "input"),           # fail2ban: drops only the banned
        rule("inet", "f2b-table", "f2b-chain", {"match": {"op": "==", "left": {}, "right": "@addr-set-sshd"}},
             {"reject": None}),
    ]}
    assert from_nft(ruleset, {"host_firewall"}) == []


XT_REJECT = {"xt": {"type": "target", "name": "REJECT"}}
XT_COMMENT = {"xt": {"type": "match", "name": "comment"}}


@pytest.mark.parametrize("expr", [
    [XT_REJECT],                                   # iptables-nft -A INPUT -j REJECT
    [XT_COMMENT, {"counter": None}, XT_REJECT],    # ... -m comment --comment x -j REJECT
    [{"counter": None}, {"drop": None}],
])
def test_iptables_nft_catch_all_rules_count(expr):
    ruleset = {"nftables": [chain("ip", "filter", "INPUT", "input"), rule("ip", "filter", "INPUT", *expr)]}
    assert len(from_nft(ruleset, {"host_firewall"})) == 1


def test_a_jump_to_a_chain_that_drops_everything_counts():
    ruleset = {"nftables": [chain("inet", "filter", "input", "input"), chain("inet", "filter", "mine"),
                            rule("inet", "filter", "input", {"jump": {"target": "mine"}}),
                            rule("inet", "filter", "mine", {"match": {"op": "==", "left": {}, "right": 22}},
                                 {"accept": None}),
                            rule("inet", "filter", "mine", {"reject": None})]}
    assert from_nft(ruleset, {"host_firewall"}) == [
        ("another nftables or iptables-nft ruleset", "table inet filter: its input chain input drops what it "
                                                    "does not accept")]


def test_output_and_prerouting_chains_that_drop_by_default_count():
    for hook in ("output", "prerouting"):
        ruleset = {"nftables": [chain("inet", "filter", hook, hook, "drop")]}
        assert from_nft(ruleset, {"host_firewall"})[0][1] == f"table inet filter: its {hook} chain {hook} drops " \
                                                           f"what it does not accept"


def test_catch_all_drop_rule_counts_as_a_default_deny():
    ruleset = {"nftables": [chain("inet", "filter", "input", "input"),
                            rule("inet", "filter", "input", {"counter": None}, {"drop": None})]}
    assert from_nft(ruleset, {"host_firewall"}) == [
        ("another nftables or iptables-nft ruleset", "table inet filter: its input chain input drops what it "
                                                    "does not accept")]


def test_another_table_named_like_ours_in_another_family_is_not_ours():
    ruleset = {"nftables": [chain("ip", "host_firewall", "input", "input", "drop")]}
    assert len(from_nft(ruleset, {"host_firewall"})) == 1


def test_tables_the_module_manages_beside_this_one_are_its_own(tmp_path):
    (tmp_path / "lab.sha256").write_text("x")
    (tmp_path / "staged.pending").write_text("x")
    (tmp_path / "lab.lock").write_text("")
    assert own("host_firewall", str(tmp_path)) == {"host_firewall", "lab", "staged"}
    assert own("host_firewall", str(tmp_path / "missing")) == {"host_firewall"}


LEGACY = """*filter
:INPUT {policy} [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
{chains}-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
{last}COMMIT
"""


@pytest.mark.parametrize("policy, chains, last, expected", [
    ("DROP", "", "", [("iptables-legacy rules", "IPv4 iptables-legacy filter table: its INPUT chain drops what it does "
                                                "not accept")]),
    ("ACCEPT", "", "-A INPUT -j REJECT --reject-with icmp-port-unreachable\n", [("iptables-legacy rules", "IPv4 "
                                                "iptables-legacy filter table: its INPUT chain drops what it does not accept")]),
    ("DROP", ":ufw-before-input - [0:0]\n", "", [("ufw", "IPv4 iptables-legacy filter table: its INPUT chain drops what "
                                                         "it does not accept")]),
    ("ACCEPT", ":ufw-before-input - [0:0]\n", "", []),
    ("ACCEPT", "", "-A INPUT -s 192.0.2.1/32 -j DROP\n", []),
    ("ACCEPT", "", '-A INPUT -m comment --comment "the rest" -j DROP\n', [("iptables-legacy rules", "IPv4 "
                                                "iptables-legacy filter table: its INPUT chain drops what it does not accept")]),
    ("ACCEPT", ":MINE - [0:0]\n", "-A INPUT -j MINE\n-A MINE -j REJECT --reject-with icmp-host-prohibited\n",
     [("iptables-legacy rules", "IPv4 iptables-legacy filter table: its INPUT chain drops what it does not accept")]),
])
def test_legacy_rules(policy, chains, last, expected):
    assert from_legacy(LEGACY.format(policy=policy, chains=chains, last=last), "IPv4") == expected


@pytest.mark.parametrize("ufw_conf, firewalld, expected", [
    ("# comment\nENABLED=yes\nLOGLEVEL=low\n", "disabled", ["ufw"]),
    ("ENABLED=no\n", "not-found", []),
    (None, "enabled", ["firewalld"]),
    (None, "active", ["firewalld"]),
    (None, "masked", []),
])
def test_managers_set_to_start_at_boot(ufw_conf, firewalld, expected):
    assert [tool for tool, dummy in from_settings(ufw_conf, firewalld)] == expected


def test_message_names_each_manager_and_its_way_out():
    text = message([("ufw", "table ip filter: x"), ("firewalld", "firewalld.service is active")])
    assert text.startswith("another firewall manager would drop what this policy admits: ufw (table ip filter: x)")
    assert "`ufw disable`" in text
    assert "`systemctl disable --now firewalld`" in text and "Nothing was changed" in text
    assert "other_firewalls: ignore" in text


class Host:
    """What find() asks an AnsibleModule for: the commands there are, and their output."""

    def __init__(self, outputs):
        self.outputs = outputs

    def get_bin_path(self, name):
        return f"/usr/sbin/{name}" if name in self.outputs else None

    def run_command(self, command):
        out = self.outputs[command[0].rsplit("/", 1)[-1]]
        return (0, out(command) if callable(out) else out, "")

    def fail_json(self, msg):
        raise AssertionError(msg)


def test_find_reads_nft_and_the_boot_settings(monkeypatch, tmp_path):
    conf = tmp_path / "ufw.conf"
    conf.write_text("ENABLED=yes\n")
    monkeypatch.setattr(nft_others, "read", lambda path: conf.read_text() if path.endswith("ufw.conf") else None)
    states = {"is-active": "inactive\n", "is-enabled": "disabled\n"}
    host = {"nft": (DATA / "ufw-disabled.json").read_text(), "systemctl": lambda cmd: states[cmd[1]], "ufw": ""}
    assert find(Host(host), "host_firewall", str(tmp_path)) == [("ufw", "/etc/ufw/ufw.conf: ENABLED=yes, loaded at boot")]
    # ufw removed but not purged: its settings file stays, and nothing loads it.
    del host["ufw"]
    assert find(Host(host), "host_firewall", str(tmp_path)) == []
    states["is-enabled"] = "enabled\n"
    assert find(Host(host), "host_firewall", str(tmp_path)) == [("firewalld", "firewalld.service is enabled")]


def test_find_without_nft_reads_iptables_nft(tmp_path):
    save = LEGACY.format(policy="DROP", chains=":ufw-user-input - [0:0]\n", last="")
    host = {"iptables-nft-save": save, "ip6tables-nft-save": ""}
    assert find(Host(host), "host_firewall", str(tmp_path)) == [
        ("ufw", "IPv4 iptables-nft filter table: its INPUT chain drops what it does not accept")]

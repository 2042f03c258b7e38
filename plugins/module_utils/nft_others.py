# -*- coding: utf-8 -*-
# MIT License (see LICENSE)
"""Other firewall managers on a host, found from what they leave in the kernel and their settings.

Every base chain on a hook sees each packet, and a packet passes only if none drops it: a second
manager whose input chain drops what this module's table admits (ufw's default deny drops the FTP
passive range) breaks the service while the module's own table looks right. No Ansible imports."""

from __future__ import annotations

import json
import os
import re

# Chains these managers make, in iptables (legacy or nft) or in nftables.
UFW = re.compile(r"\Aufw6?-")
FIREWALLD = re.compile(r"\A(INPUT_ZONES|IN_\w+|filter_INPUT|filter_IN_\w+)\Z")
# The hooks a host's own traffic passes (FTP's in, replies and active data out); forward is the
# engines' and libvirt's (Docker's FORWARD drops by policy), netdev's ingress sees all.
HOOKS = ("prerouting", "input", "output", "ingress")
# What a rule may hold beside its verdict and still match every packet.
NEUTRAL = ("counter", "log", "comment")
# A rule that drops whatever reaches it, in an iptables save: nothing but a comment before the target.
LEGACY_DROP = re.compile(r'\A-A (\S+)(?: -m comment --comment (?:"[^"]*"|\S+))? -j (DROP|REJECT|\S+)\s*(?:--reject-with \S+)?\s*\Z')


def tool(table, chains):
    """The manager a table belongs to, by its name and its chains' names; '' when unknown."""
    if table == "firewalld":
        return "firewalld"
    if any(UFW.match(c) for c in chains):
        return "ufw"
    if any(FIREWALLD.match(c) for c in chains):
        return "firewalld"
    return ""


def kind(statement):
    """A rule's statement by what it does: drop, reject, jump or goto (to a chain), comment (iptables-nft's
    comment match), or its own name (a match, counter, log...)."""
    name, value = next(iter(statement.items()))
    if name == "xt" and isinstance(value, dict):   # iptables-nft's targets and matches
        if value.get("type") == "target" and value.get("name") in ("DROP", "REJECT"):
            return "reject"
        return "comment" if value.get("name") == "comment" else "xt"
    return name


def unconditional(expr):
    """(what, chain) for a rule that applies to every packet reaching it: its verdict ('drop', 'reject',
    'jump', 'goto') and the chain it jumps to; None for a rule with a condition."""
    kinds = [kind(e) for e in expr if isinstance(e, dict)]
    if not kinds or not all(k in NEUTRAL for k in kinds[:-1]):
        return None
    last = expr[-1] if isinstance(expr[-1], dict) else {}
    if kinds[-1] in ("drop", "reject"):
        return kinds[-1], ""
    if kinds[-1] in ("jump", "goto"):
        return kinds[-1], (last.get(kinds[-1]) or {}).get("target", "")
    return None


def drops(rules, chain, seen=()):
    """Whether a chain (its rules' unconditional parts, following jumps) drops every packet that no rule
    before accepted."""
    for expr in rules.get(chain, []):
        found = unconditional(expr)
        if found and (found[0] in ("drop", "reject")
                      or (found[1] not in seen and drops(rules, found[1], (*seen, chain)))):
            return True
    return False


def from_nft(ruleset, own_tables):
    """Findings from `nft -j list ruleset` (parsed): firewalld's table, and other tables whose chain on a
    hook of the host's own traffic drops what it does not accept, by policy or by a rule that takes every
    packet left (directly or in a chain it jumps to). iptables-nft rules (ufw, iptables scripts) are in
    this listing too. `own_tables`: the inet tables nft_firewall manages, which are not another's."""
    items = [next(iter(i.items())) for i in ruleset.get("nftables", []) if isinstance(i, dict)]
    chains, bases, rules = {}, [], {}
    for what, obj in items:
        key = (obj.get("family"), obj.get("table"))
        if what == "chain":
            chains.setdefault(key, []).append(obj["name"])
            if obj.get("hook") in HOOKS:
                bases.append(obj)
        elif what == "rule":
            rules.setdefault(key, {}).setdefault(obj.get("chain"), []).append(obj.get("expr", []))
    found = []
    for (family, table), names in sorted(chains.items()):
        if family == "inet" and table in own_tables:
            continue
        dropping = [c for c in bases if (c["family"], c["table"]) == (family, table) and (
            c.get("policy") == "drop" or drops(rules.get((family, table), {}), c["name"]))]
        # ufw's chains stay behind after `ufw disable` (policy accept, emptied): they count only when
        # they drop; firewalld's table is there only while it runs.
        if dropping or table == "firewalld":
            why = (f"its {dropping[0]['hook']} chain {dropping[0]['name']} drops what it does not accept"
                   if dropping else "it is loaded")
            found.append((tool(table, names) or "another nftables or iptables-nft ruleset",
                          f"table {family} {table}: {why}"))
    return found


def from_legacy(save, family):
    """Findings from `iptables-legacy-save -t filter` (or ip6tables-, or -nft-save where nft is not
    installed): an INPUT or OUTPUT policy of DROP, or a rule there (or in a chain it jumps to) that drops
    every packet left, named after the manager whose chains are there."""
    chains, rules, dropping = [], {}, []
    for line in save.splitlines():
        if line.startswith(":"):
            name, policy = (line[1:].split() + ["", ""])[:2]
            chains.append(name)
            if name in ("INPUT", "OUTPUT") and policy == "DROP":
                dropping.append(name)
        elif line.startswith("-A "):
            match = LEGACY_DROP.match(line)
            target = match.group(2) if match else ""
            rules.setdefault(line.split()[1], []).append(
                [{"drop": None}] if target in ("DROP", "REJECT") else [{"jump": {"target": target}}] if target else
                [{"match": {}}])
    dropping += [c for c in ("INPUT", "OUTPUT") if c not in dropping and drops(rules, c)]
    if not dropping:
        return []
    kind_of = "iptables-nft" if family.endswith("nft") else "iptables-legacy"
    return [(tool("", chains) or f"{kind_of} rules",
             f"{family.split()[0]} {kind_of} filter table: its {dropping[0]} chain drops what it does not accept")]


def from_settings(ufw_conf, firewalld_state):
    """Managers set to start at boot although nothing of theirs may be loaded now (ufw's ENABLED=yes,
    with ufw installed; firewalld enabled): the next reboot would put them in front of this table."""
    found = []
    if re.search(r"^\s*ENABLED\s*=\s*yes\s*$", ufw_conf or "", re.M | re.I):
        found.append(("ufw", "/etc/ufw/ufw.conf: ENABLED=yes, loaded at boot"))
    if firewalld_state in ("enabled", "active"):
        found.append(("firewalld", f"firewalld.service is {firewalld_state}"))
    return found


WAY_OUT = {
    "ufw": "`ufw disable`",
    "firewalld": "`systemctl disable --now firewalld`",
}


def message(found):
    """One error naming each manager found, what of it was seen, and the way out."""
    tools = sorted({t for t, dummy in found})
    seen = "; ".join(f"{t} ({detail})" for t, detail in found)
    outs = ", ".join(WAY_OUT.get(t, "remove those rules or make them accept") for t in tools)
    return (f"another firewall manager would drop what this policy admits: {seen}. Every chain on a hook "
            f"sees each packet, and a packet gets in only if every chain lets it through, so its chains "
            f"would drop what this table opens (the FTP passive range first) and leave services broken. "
            f"Nothing was changed. Turn it off ({outs}) and let nft_firewall own the policy, or, once it "
            f"admits everything this policy opens, set other_firewalls: ignore (host_firewall_other_firewalls "
            f"in the host_firewall role)")


def read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def own(table, state_dir):
    """This table and every other one nft_firewall left its fingerprint for (see the module's adopt)."""
    try:
        names = os.listdir(state_dir)
    except OSError:
        names = []
    return {table} | {n.rsplit(".", 1)[0] for n in names if n.endswith((".sha256", ".pending"))}


def listing(module, command):
    """A command's output, or '' when it fails."""
    rc, out, dummy = module.run_command(command)
    return out if rc == 0 else ""


def find(module, table, state_dir):
    """What the host shows, through an AnsibleModule (its run_command and get_bin_path): the whole
    ruleset from nft, or without nft (not installed yet) iptables-nft's own listing, the legacy filter
    tables where they exist, and the managers' boot settings."""
    found = []
    nft = module.get_bin_path("nft")
    if nft:
        try:
            found += from_nft(json.loads(listing(module, [nft, "-j", "list", "ruleset"]) or "{}"), own(table, state_dir))
        except ValueError:
            module.fail_json(msg="nft -j list ruleset printed no JSON; cannot look for other firewall managers")
    saves = [("IPv4", "iptables-legacy-save", "/proc/net/ip_tables_names"),
             ("IPv6", "ip6tables-legacy-save", "/proc/net/ip6_tables_names")]
    if not nft:
        saves = [("IPv4 nft", "iptables-nft-save", None), ("IPv6 nft", "ip6tables-nft-save", None)] + saves
    for family, name, tables in saves:
        save = module.get_bin_path(name)
        # The legacy table only where it exists: asking for it would load the legacy module.
        if save and (tables is None or "filter" in (read(tables) or "").split()):
            found += from_legacy(listing(module, [save, "-t", "filter"]), family)
    state = ""
    systemctl = module.get_bin_path("systemctl")
    if systemctl:
        active = listing(module, [systemctl, "is-active", "firewalld.service"]).strip()
        state = active if active == "active" else module.run_command(
            [systemctl, "is-enabled", "firewalld.service"])[1].strip()
    # ufw.conf outlives `apt remove ufw` (only a purge takes it): without ufw nothing loads it.
    ufw_conf = read("/etc/ufw/ufw.conf") if module.get_bin_path("ufw") else None
    seen = {t for t, dummy in found}
    return found + [f for f in from_settings(ufw_conf, state) if f[0] not in seen]

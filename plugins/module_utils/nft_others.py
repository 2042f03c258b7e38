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
VERDICTS = ("drop", "reject")


def tool(table, chains):
    """The manager a table belongs to, by its name and its chains' names; '' when unknown."""
    if table == "firewalld":
        return "firewalld"
    if any(UFW.match(c) for c in chains):
        return "ufw"
    if any(FIREWALLD.match(c) for c in chains):
        return "firewalld"
    return ""


def catch_all(expr):
    """A rule of nothing but a verdict that drops (counting and logging aside): it ends the chain."""
    kinds = [next(iter(e)) for e in expr if isinstance(e, dict)]
    return bool(kinds) and kinds[-1] in VERDICTS and all(k in ("counter", "log") for k in kinds[:-1])


def from_nft(ruleset, own_tables):
    """Findings from `nft -j list ruleset` (parsed): tables of other managers, and other tables'
    input chains that drop what no rule accepted, by policy or by a last catch-all rule. iptables-nft
    rules (ufw, iptables scripts) are in this listing too. `own_tables`: the inet tables nft_firewall
    made (this one and others it manages beside it), which are not another manager's."""
    items = [next(iter(i.items())) for i in ruleset.get("nftables", []) if isinstance(i, dict)]
    chains, bases, rules = {}, [], {}
    for kind, obj in items:
        key = (obj.get("family"), obj.get("table"))
        if kind == "chain":
            chains.setdefault(key, []).append(obj["name"])
            if obj.get("hook") == "input":
                bases.append(obj)
        elif kind == "rule":
            rules.setdefault(key + (obj.get("chain"),), []).append(obj.get("expr", []))
    found = []
    for (family, table), names in sorted(chains.items()):
        if family == "inet" and table in own_tables:
            continue
        name = tool(table, names)
        dropping = [c["name"] for c in bases if (c["family"], c["table"]) == (family, table) and (
            c.get("policy") == "drop" or any(catch_all(r) for r in rules.get((family, table, c["name"]), [])))]
        # ufw's chains stay behind after `ufw disable` (policy accept, emptied): they count only
        # when they drop; firewalld's table is there only while it runs.
        if dropping or table == "firewalld":
            where = f"table {family} {table}"
            why = f"its input chain {dropping[0]} drops what it does not accept" if dropping else "it is loaded"
            found.append((name or "another nftables or iptables-nft ruleset", f"{where}: {why}"))
    return found


def from_legacy(save, family):
    """Findings from `iptables-legacy-save -t filter` (or ip6tables-, or -nft-save where nft is not
    installed): an INPUT policy of DROP, or an INPUT rule that drops everything, named after the
    manager whose chains are there."""
    chains, dropping = [], False
    for line in save.splitlines():
        if line.startswith(":"):
            name, policy = (line[1:].split() + ["", ""])[:2]
            chains.append(name)
            dropping |= name == "INPUT" and policy == "DROP"
        elif re.match(r"\A-A INPUT -j (DROP|REJECT)\b", line):
            dropping = True
    name = tool("", chains)
    if not dropping:
        return []
    why = "its INPUT chain drops what it does not accept"
    kind = "iptables-nft" if family.endswith("nft") else "iptables-legacy"
    return [(name or f"{kind} rules", f"{family.split()[0]} {kind} filter table: {why}")]


def from_settings(ufw_conf, firewalld_state):
    """Managers set to start at boot although nothing of theirs is loaded now (ufw's ENABLED=yes,
    firewalld enabled): the next reboot would put them in front of this module's table."""
    found = []
    if re.search(r"^\s*ENABLED\s*=\s*yes\s*$", ufw_conf or "", re.M | re.I):
        found.append(("ufw", "/etc/ufw/ufw.conf: ENABLED=yes"))
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
    return (f"another firewall manager is active on this host: {seen}. Its chains see every packet too, and "
            f"a packet gets in only if every chain lets it through, so it would drop what this policy "
            f"admits (the FTP passive range) and leave services broken. Nothing was changed. Turn it off "
            f"({outs}) and let nft_firewall own the policy, or, once it admits everything this policy "
            f"opens, set other_firewalls: ignore (host_firewall_other_firewalls in the host_firewall role)")


def read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (FileNotFoundError, PermissionError):
        return None


def own(table, state_dir):
    """This table and every other one nft_firewall left its fingerprint for (see the module's adopt)."""
    try:
        names = os.listdir(state_dir)
    except OSError:
        names = []
    return {table} | {n.rsplit(".", 1)[0] for n in names if n.endswith((".sha256", ".pending"))}


def find(module, table, state_dir):
    """What the host shows, through an AnsibleModule (its run_command and get_bin_path): the whole
    ruleset from nft, or without nft (not installed yet) iptables-nft's own listing, the legacy filter
    tables where they exist, and the managers' boot settings."""
    found = []
    nft = module.get_bin_path("nft")
    if nft:
        rc, out, dummy = module.run_command([nft, "-j", "list", "ruleset"])
        if rc == 0 and out.strip():
            found += from_nft(json.loads(out), own(table, state_dir))
    saves = [("IPv4", "iptables-legacy-save", "/proc/net/ip_tables_names"),
             ("IPv6", "ip6tables-legacy-save", "/proc/net/ip6_tables_names")]
    if not nft:
        saves = [("IPv4 nft", "iptables-nft-save", None), ("IPv6 nft", "ip6tables-nft-save", None)] + saves
    for family, save, names in saves:
        tool = module.get_bin_path(save)
        # The legacy table only where it exists: asking for it would load the legacy module.
        if tool and (names is None or "filter" in (read(names) or "").split()):
            rc, out, dummy = module.run_command([tool, "-t", "filter"])
            if rc == 0:
                found += from_legacy(out, family)
    state = ""
    systemctl = module.get_bin_path("systemctl")
    if systemctl:
        dummy, active, dummy = module.run_command([systemctl, "is-active", "firewalld.service"])
        dummy, enabled, dummy = module.run_command([systemctl, "is-enabled", "firewalld.service"])
        state = "active" if active.strip() == "active" else enabled.strip()
    seen = {t for t, dummy in found}
    return found + [f for f in from_settings(read("/etc/ufw/ufw.conf"), state) if f[0] not in seen]

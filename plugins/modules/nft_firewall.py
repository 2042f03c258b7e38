#!/usr/bin/python
# -*- coding: utf-8 -*-
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nft_firewall
short_description: Render, validate and atomically apply a host's inbound nftables policy
description:
  - Renders one C(table inet) from a declarative list of what may come in (services with ports, port
    ranges and allowed sources), plus management SSH from named sources, and applies it atomically.
  - The input policy is drop; loopback, established/related traffic and the ICMP/ICMPv6 a host needs
    are accepted. Conntrack helpers (FTP) are attached explicitly to the ports that ask for them, so
    data connections of those services are RELATED.
  - The rendered script is checked with C(nft -c) and applied with one C(nft -f) transaction that
    replaces only this module's table. The module never flushes the ruleset, so tables of podman,
    Docker or other tools stay untouched. If the apply fails, the previous table stays in force.
  - Connections the host forwards after DNAT (ports a container engine such as Docker or podman
    publishes, or any port forwarding) go through the same policy, matched on the port the client
    asked for before the translation; a published port that no service names is dropped. New
    connections routed from outside straight into a local bridge (a container's own address) are
    dropped. Other forwarded traffic (the containers' own, replies, container to container, bridged
    VMs) is left alone.
  - Another firewall manager on the host (ufw, firewalld, an input chain that drops by default) is
    refused before anything changes, see O(other_firewalls).
  - Idempotent. The module keeps the applied script in O(path) and a fingerprint of the live table;
    it reports a change when the desired script differs or the live table was altered by hand.
  - O(path) is where nftables.service can load the ruleset at boot (include it from
    C(/etc/nftables.conf)); the host_firewall role does that.
version_added: "1.0.0"
author: FTP lab developers (@ftp-lab)
options:
  table:
    description:
      - Name of the C(inet) table the module owns.
      - A letter, then letters, digits or C(_); a word nft reserves (C(ip), C(set), C(filter)...) is refused.
    type: str
    default: host_firewall
  state:
    description: V(present) applies the policy; V(absent) removes the table and its files.
    type: str
    choices: [present, absent]
    default: present
  services:
    description:
      - Inbound services to accept. Entries with the same name and content (from several
        contributors) collapse into one; the same name with different content is an error.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Unique name, shown in the rule's comment.
        type: str
        required: true
      proto:
        description: Transport protocol.
        type: str
        choices: [tcp, udp]
        default: tcp
      ports:
        description: Ports (V(21)) and ranges (V(50000-50049)), 1 to 65535.
        type: list
        elements: raw
        required: true
      sources:
        description: IPv4/IPv6 addresses or CIDRs allowed in; empty means everyone.
        type: list
        elements: str
        default: []
      comment:
        description: Free text for the rule's comment.
        type: str
        default: ""
      helper:
        description: Conntrack helper to attach to connections to these ports.
        type: str
        choices: [ftp]
      limit:
        description:
          - Most new connections per source address to these ports, as nft C(limit rate) takes it
            (V(20/minute)); a source above it has its new connections dropped until its rate falls.
            Metered in a dynamic set per family, C(limit_<name>_v4)/C(_v6). Empty for no limit.
          - An IPv6 source is its prefix of O(ipv6_prefix) bits, so that rotating addresses within
            it gains nothing.
        type: str
        default: ""
      cap:
        description:
          - Most connections at once per source address (IPv6, per prefix of O(ipv6_prefix) bits) to
            these ports; one more is refused with a TCP reset. Counted in a dynamic set per family,
            C(cap_<name>_v4)/C(_v6). V(0) for no cap. TCP only.
        type: int
        default: 0
      on_demand:
        description:
          - Keep the ports closed until a program on the host opens one for a while, by putting it with
            a timeout into the set C(open_<name>) (type C(inet_service), flag timeout), for example
            C(nft add element inet host_firewall open_acme { 80 timeout 10m }) for an ACME client's
            http-01 challenge. Only the entry's O(services[].ports) can be opened that way; the
            element expires by itself, so a port is never left open by an opener that dies.
          - An apply keeps the live elements (with what is left of their timeouts); they are left out
            of the change detection, as bans are.
        type: bool
        default: false
  management:
    description:
      - Management SSH, open only to the sources named here.
      - Required when O(state=present) (left out, Ansible would lock itself out); give
        O(management.required=false) to leave SSH closed on purpose.
      - A service that opens the management port to everyone is applied with a warning.
    type: dict
    suboptions:
      port:
        description: SSH port.
        type: int
        default: 22
      sources:
        description: Addresses or CIDRs that manage the host.
        type: list
        elements: str
        default: []
      required:
        description: Fail when O(management.sources) is empty (so Ansible does not lock itself out).
        type: bool
        default: true
  egress_filter:
    description: Drop outbound traffic except loopback, established/related, ICMP and O(egress).
    type: bool
    default: false
  egress:
    description: Outbound flows allowed when O(egress_filter) is on.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Unique name, shown in the rule's comment.
        type: str
        required: true
      proto:
        description: Transport protocol.
        type: str
        choices: [tcp, udp]
        default: tcp
      ports:
        description: Destination ports and ranges.
        type: list
        elements: raw
        default: []
      sports:
        description: Source ports and ranges (V(20) for active-mode FTP data).
        type: list
        elements: raw
        default: []
      destinations:
        description: Destination addresses or CIDRs; empty means anywhere.
        type: list
        elements: str
        default: []
      comment:
        description: Free text for the rule's comment.
        type: str
        default: ""
  icmp_echo:
    description: Answer ping (rate-limited).
    type: bool
    default: true
  log_drops:
    description: Log dropped packets, rate-limited, before the policy drops them.
    type: bool
    default: false
  ban_set:
    description:
      - Name of a pair of sets, C(<ban_set>_v4) and C(<ban_set>_v6) (type address, flag timeout), whose
        source addresses are dropped before anything else (their established sessions too). Another
        tool adds the elements (fail2ban, with a timeout each); the module owns only the sets'
        definition, and an apply keeps the live elements, so a converge never lifts a ban.
      - The IPv6 set takes prefixes too (flag interval), so a ban can cover a guesser's whole
        O(ipv6_prefix).
      - Elements of the module's sets are left out of the change detection. Empty for no ban set.
    type: str
    default: ""
  ipv6_prefix:
    description:
      - The length of the prefix that stands for an IPv6 source in O(services[].limit) and
        O(services[].cap) (and that a ban tool may ban as a whole in O(ban_set)). One host commonly
        holds a whole /64 and can rotate addresses within it; V(128) counts single addresses.
    type: int
    default: 64
  log_rate:
    description: Rate of drop log lines, as nft C(limit rate) takes it (V(10/minute); at least 1).
    type: str
    default: 10/minute
  path:
    description: Where the applied script is stored, readable by root alone (an absolute path); default C(/etc/nftables.d/<table>.nft).
    type: path
  state_dir:
    description:
      - Where the fingerprint of the live table is kept (an absolute path).
      - The fingerprint is also the module's mark of ownership, see O(adopt).
    type: path
    default: /var/lib/nft_firewall
  lockout_check:
    description:
      - Refuse a ruleset under which a new connection from the address Ansible connects from, to the
        port it connects to, would be dropped (read from C(SSH_CONNECTION) on the host; without it,
        for example over a local or container connection, there is nothing to check).
      - Set V(false) for console or out-of-band access only.
    type: bool
    default: true
  adopt:
    description:
      - Replace a table of this name that exists but that the module did not make (no fingerprint in
        O(state_dir)), such as another tool's or C(/etc/nftables.conf)'s. Without it such a table is
        left alone and the module fails.
    type: bool
    default: false
  other_firewalls:
    description:
      - What to do when another firewall manager is found on the host, before anything changes. Every
        base chain on a hook sees each packet, and a packet gets in only if none of them drops it, so
        another manager's default deny drops what this table admits (the FTP passive range).
      - Found are ufw (its chains dropping, or C(ENABLED=yes) in C(/etc/ufw/ufw.conf) with ufw installed),
        firewalld (its table, or its service enabled or active), and any other table whose chain on the
        prerouting, input, output or ingress hook drops what it does not accept (policy drop, or a rule
        that takes every packet left, also in a chain it jumps to), in nftables, iptables-nft or
        iptables-legacy. Container engines', libvirt's and fail2ban's rules are not such chains, nor the
        tables this module manages (a fingerprint in O(state_dir)).
      - V(refuse) fails with a message naming each manager and the way out; V(ignore) applies anyway,
        for a host whose other manager was made to admit everything this policy opens.
    type: str
    choices: [refuse, ignore]
    default: refuse
    version_added: "2.1.0"
  lock_timeout:
    description: Seconds to wait for another run of the module on the same table to finish.
    type: int
    default: 60
  rollback_timeout:
    description:
      - Seconds after which the host restores the previous table by itself (a systemd timer armed
        before the new table is applied), unless a run with O(confirm=true) comes first. With it the
        new ruleset is not saved for boot until confirmed, and the result says RV(pending).
      - V(0) applies and saves at once, with no rollback.
      - The module's action plugin does the rest in the same task when the result is RV(pending)
        (safe apply in one task); it drops the connection, comes back over a new one through the new
        rules and confirms, trying again every 2 seconds until the rollback is due; when it cannot come
        back, the task fails and the host rolls back by itself, leaving nothing of the apply in O(state_dir).
    type: int
    default: 0
  confirm:
    description:
      - Confirm a pending apply made with O(rollback_timeout); give the same options. The action plugin
        confirms by itself, so this is for a run that skipped it (another connection plugin). Disarms the timer
        and saves the ruleset for boot; fails when the timer has already restored the previous table.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: The diff is the rendered ruleset, before and after.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
requirements:
  - nft (nftables) on the managed host, and CAP_NET_ADMIN.
notes:
  - For tests of the failed-apply path only, the environment variable C(NFT_FIREWALL_FAULT) on the
    host holds nft script lines appended to the ruleset after C(nft -c) accepted it, so that the kernel
    refuses the transaction itself (for example a C(ct helper) object of a type the kernel has no
    helper for). Never set it otherwise.
"""

EXAMPLES = r"""
- name: Let in FTP and SQL Server, SSH only from the management network
  nft_firewall:
    services:
      - name: ftp
        ports: [21]
        helper: ftp
        comment: FTP control connection
      - name: ftp-passive
        ports: ["50000-50049"]
      - name: mssql
        ports: [1433]
        sources: [192.0.2.0/24, "2001:db8::/32"]
    management:
      sources: [198.51.100.7]

- name: Preview a change without applying it
  nft_firewall:
    services:
      - name: ftp
        ports: [21, "50000-50049"]
    management:
      sources: [198.51.100.7]
  check_mode: true
  diff: true
"""

RETURN = r"""
ruleset:
  description: The rendered nft script.
  returned: success
  type: str
pending:
  description: The new table is applied, and will be rolled back unless confirmed (O(rollback_timeout)).
  returned: success
  type: bool
confirmed:
  description: The action plugin came back over a new connection and confirmed a pending apply.
  returned: when O(rollback_timeout) applied a new table
  type: bool
other_firewalls:
  description: The other firewall managers found, each with what of it was seen, when the module refused them.
  returned: failure on another firewall manager
  type: list
  elements: dict
  sample: [{tool: ufw, seen: "table ip filter: its input chain INPUT drops what it does not accept"}]
rolled_back:
  description: Ansible could not come back through the new rules, or came back after the host had restored
    the previous table.
  returned: failure to confirm
  type: bool
open:
  description: What is open to whom.
  returned: success
  type: list
  elements: dict
  sample: [{name: ftp, proto: tcp, ports: ["21"], sources: [any], helper: ftp, on_demand: false}]
path:
  description: Where the script is stored.
  returned: success
  type: str
  sample: /etc/nftables.d/host_firewall.nft
"""

import fcntl
import hashlib
import json
import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
try:
    from ansible_collections.ftp_lab.ftp.plugins.module_utils.nft_ruleset import (
        PolicyError, admits, build, exposure, open_set, render, strip_elements, strip_meters)
    from ansible_collections.ftp_lab.ftp.plugins.module_utils import nft_others as others
except ImportError:  # the module shipped inside the host_firewall role, used from a roles path
    from ansible.module_utils.nft_ruleset import (
        PolicyError, admits, build, exposure, open_set, render, strip_elements, strip_meters)
    from ansible.module_utils import nft_others as others

RULE_OPTIONS = dict(
    name=dict(type="str", required=True),
    proto=dict(type="str", choices=["tcp", "udp"], default="tcp"),
    comment=dict(type="str", default=""),
)


class Nft:
    """The nft command on the managed host."""

    def __init__(self, module):
        self.module = module
        self.bin = module.get_bin_path("nft", required=True)

    def run(self, *args):
        return self.module.run_command([self.bin, *args])

    def check(self, script_path):
        rc, dummy, err = self.run("-c", "-f", script_path)
        return None if rc == 0 else err.strip()

    def apply(self, script_path):
        """One transaction: the table is replaced whole, or the old one stays in force."""
        rc, dummy, err = self.run("-f", script_path)
        return None if rc == 0 else err.strip()

    def listing(self, table):
        rc, out, dummy = self.run("-s", "list", "table", "inet", table)
        return out if rc == 0 else None

    def elements(self, table, name):
        """A set's live elements as nft script items ('192.0.2.1 timeout 600s expires 550s')."""
        rc, out, dummy = self.run("-j", "list", "set", "inet", table, name)
        if rc != 0:
            return []
        items = []
        for entry in json.loads(out).get("nftables", []):
            for elem in entry.get("set", {}).get("elem", []):
                value = elem.get("elem", elem) if isinstance(elem, dict) else {"val": elem}
                item = value["val"]
                if isinstance(item, dict) and "prefix" in item:   # a banned prefix: 2001:db8::/64
                    item = f"{item['prefix']['addr']}/{item['prefix']['len']}"
                elif isinstance(item, dict) and "range" in item:
                    item = "-".join(str(end) for end in item["range"])
                item = str(item)
                if value.get("timeout"):
                    item += f" timeout {value['timeout']}s"
                    if value.get("expires"):
                        item += f" expires {value['expires']}s"
                items.append(item)
        return items

    def delete(self, table):
        rc, dummy, err = self.run("delete", "table", "inet", table)
        return None if rc == 0 else err.strip()


def read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def write(module, path, text):
    """Write atomically, readable by root alone: a fresh temporary file beside the target (a name no one
    can plant a link at beforehand), then a rename."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".nft_firewall.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    module.atomic_move(tmp, path)
    os.chmod(path, 0o600)   # atomic_move gives a new file the default mode


def check_paths(module, path, state_dir):
    """Where the module writes, checked before the host is touched."""
    for name, value, kind in (("path", path, "a file"), ("state_dir", state_dir, "a folder")):
        if not os.path.isabs(value):
            module.fail_json(msg=f"{name} {value!r} must be an absolute path")
    if os.path.isdir(path):
        module.fail_json(msg=f"path {path!r} is a folder; give the file the ruleset is saved to")
    if os.path.exists(state_dir) and not os.path.isdir(state_dir):
        module.fail_json(msg=f"state_dir {state_dir!r} exists and is not a folder")


def lock(module, state_dir, table, timeout):
    """Serialise runs on one table: the second waits up to `timeout` seconds, then fails."""
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(state_dir, f"{table}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd   # held until the module exits
        except BlockingIOError:
            if time.monotonic() >= deadline:
                module.fail_json(msg=f"another nft_firewall run holds table {table} (lock in {state_dir}); "
                                     f"waited {timeout} s")
            time.sleep(0.2)


class Rollback:
    """A systemd timer on the host that restores the previous table unless disarmed in time."""

    def __init__(self, module, nft, state_dir, table):
        self.module, self.nft, self.table = module, nft, table
        self.unit = f"nft-firewall-rollback-{table}"
        self.script = os.path.join(state_dir, f"{table}.rollback.nft")
        self.pending = os.path.join(state_dir, f"{table}.pending")
        self.systemctl = module.get_bin_path("systemctl", required=True)

    def arm(self, live, seconds):
        """Save what to go back to (the live table, or none), then start the timer."""
        previous = strip_meters(live) if live is not None else ""
        write(self.module, self.script, f"table inet {self.table}\ndelete table inet {self.table}\n{previous}")
        self.disarm()
        # The rollback removes its script and the pending mark after it: nothing of the apply is left.
        rc, dummy, err = self.module.run_command([
            self.module.get_bin_path("systemd-run", required=True), f"--unit={self.unit}",
            f"--on-active={seconds}s", "--timer-property=AccuracySec=100ms", "--quiet",
            self.module.get_bin_path("sh", required=True), "-c", '"$0" -f "$1" && rm -f -- "$1" "$2"',
            self.nft.bin, self.script, self.pending])
        if rc != 0:
            self.module.fail_json(msg=f"could not arm the rollback timer, nothing applied: {err.strip()}")

    def disarm(self):
        for suffix in ("timer", "service"):
            self.module.run_command([self.systemctl, "stop", f"{self.unit}.{suffix}"])
        self.module.run_command([self.systemctl, "reset-failed", f"{self.unit}.service"])

    def clear(self):
        for f in (self.script, self.pending):
            if os.path.exists(f):
                os.remove(f)


def confirm(module, nft, table, path, stamp, desired, state_dir):
    """Disarm the rollback of a pending apply, then save the ruleset for boot."""
    rollback = Rollback(module, nft, state_dir, table)
    pending = read(rollback.pending)
    too_late = (f"too late: the rollback timer has already restored the previous table inet {table}; the new "
                f"ruleset was not kept")
    if pending is None:
        # Confirmed already, or rolled back (the rollback removes the pending mark): the saved ruleset says.
        live = nft.listing(table)
        if live is not None and fingerprint(live) == read(stamp) and read(path) == desired:
            module.exit_json(changed=False, pending=False, ruleset=desired, path=path)
        module.fail_json(msg=too_late)
    rollback.disarm()
    live = nft.listing(table)
    if fingerprint(live) != pending:
        rollback.clear()
        module.fail_json(msg=too_late)
    write(module, path, desired)
    write(module, stamp, pending)
    rollback.clear()
    module.exit_json(changed=True, pending=False, ruleset=desired, path=path)


def check_lockout(module, policy):
    """The connection Ansible uses, as sshd tells it: 'client port server-address server-port'."""
    parts = os.environ.get("SSH_CONNECTION", "").split()
    if len(parts) != 4:
        return
    client, port = parts[0], int(parts[3])
    if not admits(policy, client, port):
        module.fail_json(msg=f"this ruleset would drop a new connection from {client} to port {port}, the "
                             f"SSH connection Ansible is using: add {client} to management.sources (or open "
                             f"port {port} to it), or set lockout_check: false for console access")


def check_others(module, table, state_dir):
    """Refuse, before anything changes, a host where another firewall manager would drop what this
    table admits: loaded now (nftables, iptables-nft, iptables-legacy) or set to load at boot."""
    found = others.find(module, table, state_dir)
    if found:
        module.fail_json(msg=others.message(found), other_firewalls=[dict(tool=t, seen=d) for t, d in found])


def fingerprint(listing):
    """Of what the module owns: set elements (bans, meters) come and go by themselves."""
    return hashlib.sha256(strip_elements(listing).encode()).hexdigest() if listing is not None else None


def kept(nft, policy):
    """Script lines that put the live bans and the ports opened on demand back into the new table: the
    module owns the sets' definitions, other tools their elements, so an apply must not lift a ban or
    close a port in the middle of its opener's work."""
    names = ([f"{policy.ban_set}_v4", f"{policy.ban_set}_v6"] if policy.ban_set else []) + [
        open_set(r) for r in policy.services if r.on_demand]
    lines = []
    for name in names:
        items = nft.elements(policy.table, name)
        if items:
            lines.append(f"add element inet {policy.table} {name} {{ {', '.join(items)} }}")
    return "\n".join(lines) + "\n" if lines else ""


def owned(module, live, table, stamp, adopt):
    """A live table is the module's when it left its fingerprint (or has one pending confirmation);
    another's is replaced only on request."""
    pending = read(stamp.replace(".sha256", ".pending"))
    if live is not None and read(stamp) is None and fingerprint(live) != pending and not adopt:
        module.fail_json(msg=f"table inet {table} exists and was not made by nft_firewall (no fingerprint "
                             f"{stamp}): name another table, or set adopt: true to replace it")


def absent(module, nft, table, path, stamp, adopt):
    live = nft.listing(table)
    owned(module, live, table, stamp, adopt)
    changed = live is not None or os.path.exists(path) or os.path.exists(stamp)
    result = dict(changed=changed, path=path, ruleset="", open=[])
    if module._diff:
        result["diff"] = dict(before=live or "", after="", before_header=table, after_header=table)
    if changed and not module.check_mode:
        if live is not None:
            err = nft.delete(table)
            if err:
                module.fail_json(msg=f"nft could not delete table inet {table}: {err}")
        for f in (path, stamp):
            if os.path.exists(f):
                os.remove(f)
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            table=dict(type="str", default="host_firewall"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            services=dict(type="list", elements="dict", default=[], options=dict(
                RULE_OPTIONS,
                ports=dict(type="list", elements="raw", required=True),
                sources=dict(type="list", elements="str", default=[]),
                helper=dict(type="str", choices=["ftp"]),
                limit=dict(type="str", default=""),
                on_demand=dict(type="bool", default=False),
                cap=dict(type="int", default=0),
            )),
            management=dict(type="dict", options=dict(
                port=dict(type="int", default=22),
                sources=dict(type="list", elements="str", default=[]),
                required=dict(type="bool", default=True),
            )),
            egress_filter=dict(type="bool", default=False),
            egress=dict(type="list", elements="dict", default=[], options=dict(
                RULE_OPTIONS,
                ports=dict(type="list", elements="raw", default=[]),
                sports=dict(type="list", elements="raw", default=[]),
                destinations=dict(type="list", elements="str", default=[]),
            )),
            icmp_echo=dict(type="bool", default=True),
            log_drops=dict(type="bool", default=False),
            log_rate=dict(type="str", default="10/minute"),
            ban_set=dict(type="str", default=""),
            ipv6_prefix=dict(type="int", default=64),
            path=dict(type="path"),
            state_dir=dict(type="path", default="/var/lib/nft_firewall"),
            lockout_check=dict(type="bool", default=True),
            adopt=dict(type="bool", default=False),
            lock_timeout=dict(type="int", default=60),
            rollback_timeout=dict(type="int", default=0),
            confirm=dict(type="bool", default=False),
            other_firewalls=dict(type="str", choices=["refuse", "ignore"], default="refuse"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    table = p["table"]
    path = p["path"] or f"/etc/nftables.d/{table}.nft"
    stamp = os.path.join(p["state_dir"], f"{table}.sha256")

    # Everything is validated before the host is touched.
    try:
        # Removing the table needs no management rule.
        policy = build(p if p["state"] == "present" else dict(p, management={"required": False}))
    except PolicyError as err:
        module.fail_json(msg=str(err))
    for warning in policy.warnings:
        module.warn(warning)
    check_paths(module, path, p["state_dir"])
    if p["state"] == "present" and p["lockout_check"]:
        check_lockout(module, policy)
    if p["state"] == "present" and p["other_firewalls"] == "refuse" and not p["confirm"]:
        check_others(module, table, p["state_dir"])
    if not module.check_mode:
        lock(module, p["state_dir"], table, p["lock_timeout"])
    nft = Nft(module)
    if p["state"] == "absent":
        absent(module, nft, table, path, stamp, p["adopt"])

    desired = render(policy)
    check_path = os.path.join(module.tmpdir, "ruleset.nft")
    with open(check_path, "w", encoding="utf-8") as f:
        f.write(desired)
    err = nft.check(check_path)
    if err:
        module.fail_json(msg=f"nft refuses the rendered ruleset: {err}", ruleset=desired)

    if p["confirm"] and not module.check_mode:
        confirm(module, nft, table, path, stamp, desired, p["state_dir"])
    live = nft.listing(table)
    owned(module, live, table, stamp, p["adopt"])
    saved = read(path)
    untouched = live is not None and fingerprint(live) == read(stamp)
    changed = not (untouched and saved == desired)
    # The diff shows our own rendering when the live table is as we left it, else the live table.
    before = (saved or "") if untouched else (live or "")

    result = dict(changed=changed, ruleset=desired, open=exposure(policy), path=path, pending=False)
    if module._diff:
        result["diff"] = dict(before=before, after=desired,
                              before_header=f"{table} (before)", after_header=f"{table} (after)")
    if changed and not module.check_mode:
        rollback = Rollback(module, nft, p["state_dir"], table) if p["rollback_timeout"] > 0 else None
        if rollback:
            rollback.arm(live, p["rollback_timeout"])
        extra = kept(nft, policy) + os.environ.get("NFT_FIREWALL_FAULT", "")
        if extra:
            with open(check_path, "a", encoding="utf-8") as f:
                f.write(extra + "\n")
        err = nft.apply(check_path)
        if err:
            if rollback:
                rollback.disarm()
                rollback.clear()
            module.fail_json(msg=f"nft could not apply the ruleset; the previous one stays in force: {err}",
                             ruleset=desired)
        applied = nft.listing(table)
        if applied is None:
            module.fail_json(msg=f"the ruleset was applied, but listing table inet {table} failed; it was "
                                 f"not saved for boot", ruleset=desired)
        if rollback:
            # Saved for boot only once confirmed: until then the timer may still put the old table back.
            write(module, rollback.pending, fingerprint(applied))
            result["pending"] = True
            module.exit_json(**result)
        write(module, path, desired)
        write(module, stamp, fingerprint(applied))
    module.exit_json(**result)


if __name__ == "__main__":
    main()

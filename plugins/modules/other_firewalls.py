#!/usr/bin/python
# -*- coding: utf-8 -*-
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: other_firewalls
short_description: Find firewall managers beside nft_firewall, and refuse them before anything changes
description:
  - Every base chain on a netfilter hook sees each packet, and a packet gets in only if none of them
    drops it. Another manager's default deny (ufw's C(deny incoming)) therefore drops what
    M(ftp_lab.ftp.nft_firewall)'s table admits, the FTP passive range first, while that table looks right.
  - Finds ufw (its chains dropping, or C(ENABLED=yes) in C(/etc/ufw/ufw.conf) with ufw installed,
    which loads it at the next boot), firewalld (its table, or its service active or enabled), and any
    other table whose chain on the prerouting, input, output or ingress hook drops what it does not
    accept (policy drop, or a rule that takes every packet left, also in a chain it jumps to), in nftables,
    iptables-nft and iptables-legacy, IPv4 and IPv6. Without nft on the host (not installed yet)
    iptables-nft is read with its own C(iptables-nft-save).
  - Container engines' chains (Docker, podman), libvirt's and fail2ban's do not count, as they drop
    forwarded traffic or banned addresses only.
  - Reads only; runs the same in check mode. M(ftp_lab.ftp.nft_firewall) runs the same check itself;
    this module lets a play refuse before any other role changes the host.
version_added: "2.1.0"
author: FTP lab developers (@ftp-lab)
options:
  table:
    description: The C(inet) table nft_firewall owns, which is not another manager's.
    type: str
    default: host_firewall
  state_dir:
    description: Where M(ftp_lab.ftp.nft_firewall) keeps its fingerprints; every table it manages is its own, not another manager's.
    type: path
    default: /var/lib/nft_firewall
  refuse:
    description: Fail, naming each manager found and the way out; V(false) only reports them in RV(found).
    type: bool
    default: true
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
"""

EXAMPLES = r"""
- name: Refuse a host where ufw or firewalld would drop what the firewall role opens
  ftp_lab.ftp.other_firewalls:

- name: Only list them
  ftp_lab.ftp.other_firewalls:
    refuse: false
  register: others
"""

RETURN = r"""
found:
  description: Each manager found, with what of it was seen.
  returned: always
  type: list
  elements: dict
  sample: [{tool: ufw, seen: "table ip filter: its input chain INPUT drops what it does not accept"}]
"""

from ansible.module_utils.basic import AnsibleModule
try:
    from ansible_collections.ftp_lab.ftp.plugins.module_utils import nft_others as others
except ImportError:  # the module shipped inside the host_firewall role, used from a roles path
    from ansible.module_utils import nft_others as others


def main():
    module = AnsibleModule(
        argument_spec=dict(
            table=dict(type="str", default="host_firewall"),
            state_dir=dict(type="path", default="/var/lib/nft_firewall"),
            refuse=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    found = others.find(module, module.params["table"], module.params["state_dir"])
    result = dict(changed=False, found=[dict(tool=t, seen=d) for t, d in found])
    if found and module.params["refuse"]:
        module.fail_json(msg=others.message(found), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

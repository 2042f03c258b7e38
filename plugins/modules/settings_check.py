#!/usr/bin/python
# -*- coding: utf-8 -*-
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: settings_check
short_description: Check a role's settings on the controller before anything changes
description:
  - Runs the settings rules of the O(role) on the controller, with no connection to the host, and fails
    with the first broken rule's message, which names the variable and the reason.
  - The rules are plain Python in the collection's module_utils (C(ftp_settings), C(firewall_settings)),
    each with a unit test; the roles C(ftp_server) and C(host_firewall) call this first.
version_added: "2.1.0"
author: FTP lab developers (@ftp-lab)
options:
  role:
    description: Whose rules to apply.
    type: str
    required: true
    choices: [ftp_server, host_firewall]
  settings:
    description:
      - The role's variables, by their names (with or without the role's prefix). A rule whose setting is
        missing is a failure that names it.
    type: dict
    required: true
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: all
notes:
  - An action plugin that runs on the controller; this file holds its documentation only.
"""

EXAMPLES = r"""
- name: Check the firewall's settings
  ftp_lab.ftp.settings_check:
    role: host_firewall
    settings:
      host_firewall_management_sources: [192.0.2.10]
      host_firewall_management_required: true
      host_firewall_helper_mode: false
      host_firewall_contributions: []
"""

RETURN = r"""
msg:
  description: The first broken rule's message, or C(settings checked).
  returned: always
  type: str
"""

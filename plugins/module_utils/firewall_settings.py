# Copyright: (c) 2026, FTP lab developers
# MIT License (see LICENSE)
"""The host_firewall role's settings rules, as ftp_settings.py has the FTP role's: plain Python with a
unit test each (tests/unit/test_settings.py). The settings are the role's host_firewall_* variables,
as a dict without the prefix."""

from __future__ import annotations


def management(s):
    if not s["management_sources"] and s["management_required"]:
        return ("host_firewall_management_sources is empty: SSH would be closed to everyone and Ansible locked out. "
                "Name the addresses that manage this host, or set host_firewall_management_required to false.")
    return None


def contributions(s):
    """The contributions as the role reads them: none is empty, and only mappings count."""
    given = s["contributions"]
    return [c for c in given if isinstance(c, dict)] if isinstance(given, (list, tuple)) else []


def services_of(contributions):
    return ", ".join(str(service.get("name", "")) for c in contributions for service in c.get("services") or []
                     if isinstance(service, dict))


def helper_sees_the_data(s):
    encrypted = [c for c in contributions(s) if c.get("encrypted")]
    if s["helper_mode"] and encrypted:
        return ("host_firewall_helper_mode is true, but a contribution encrypts its control connection (services: "
                f"{services_of(encrypted)}): the conntrack helper cannot read the data ports announced inside it, "
                "so every data connection would be dropped. Leave helper mode off (data ranges are then opened as "
                "such), or hand over an unencrypted service.")
    return None


def helper_without_announced_address(s):
    announcing = [c for c in contributions(s) if c.get("announced_address")]
    if s["helper_mode"] and announcing:
        return ("host_firewall_helper_mode is true, but a contribution announces another address for its data "
                f"connections ({', '.join(str(c['announced_address']) for c in announcing)}, services: "
                f"{services_of(announcing)}): the kernel's FTP helper expects a passive data connection only to "
                "the address the control connection reached, so every PASV transfer would be dropped. Leave "
                "helper mode off (the passive range is then opened as such), or announce no address.")
    return None


RULES = [management, helper_sees_the_data, helper_without_announced_address]
NAMES = ["management_sources", "management_required", "helper_mode", "contributions"]


def first_problem(settings):
    """The first rule's message that the settings break, or None."""
    missing = [name for name in NAMES if name not in settings]
    if missing:
        return f"the check was not handed host_firewall_{', host_firewall_'.join(missing)}"
    for rule in RULES:
        problem = rule(settings)
        if problem:
            return problem
    return None

"""The audit's verdict logic (playbooks/files/ftp_audit.py): which ports it probes and what it expects."""

import pytest
from ftp_audit import expected, ports, span, table

FTP = {"ports": ["21", "50000-50049"]}
SSH = {"ports": [22], "sources": ["192.0.2.0/24", "2001:db8:1::/48"]}   # a mixed list


@pytest.mark.parametrize("value, pair", [(21, (21, 21)), ("21", (21, 21)), ("50000-50049", (50000, 50049))])
def test_span(value, pair):
    assert span(value) == pair


@pytest.mark.parametrize("port, vantage, want", [
    (21, "198.51.100.7", "reachable"),
    (50049, "198.51.100.7", "reachable"),
    (50050, "198.51.100.7", "filtered"),
    (22, "192.0.2.9", "reachable"),       # a management source
    (22, "198.51.100.7", "filtered"),     # anyone else
    (3306, "192.0.2.9", "filtered"),
    (21, "2001:db8:9::7", "reachable"),  # IPv6: the same policy
    (22, "2001:db8:1::9", "reachable"),
    (22, "2001:db8:9::7", "filtered"),
    (22, "::ffff:192.0.2.9", "filtered"),  # an IPv4-mapped address is not the IPv4 source
])
def test_expected(port, vantage, want):
    assert expected(port, [FTP, SSH], vantage) == want


def test_ports_cover_each_range_at_its_edges_and_just_outside():
    chosen = ports({"rules": [FTP, SSH], "probe": [3306, 0, 70000]})
    assert {20, 21, 22, 23, 49999, 50000, 50024, 50049, 50050, 3306} <= set(chosen)
    assert 0 not in chosen and 70000 not in chosen
    assert chosen == sorted(chosen)


def test_table_lines_up_and_reports_transfers():
    report = {"address": "203.0.113.5", "vantage": "198.51.100.7", "passive": "ok", "active": "off",
              "ports": [{"port": 21, "expected": "reachable", "observed": "open", "verdict": "ok"},
                        {"port": 3306, "expected": "filtered", "observed": "closed", "verdict": "MISMATCH"}]}
    lines = table(report)
    assert lines[0] == "203.0.113.5 seen from 198.51.100.7"
    assert lines[2] == "    21  reachable  open      ok"
    assert lines[3] == "  3306  filtered   closed    MISMATCH"
    assert lines[-2:] == ["passive transfer: ok", "active transfer: off"]

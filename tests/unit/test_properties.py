"""Whatever the inputs, the core either refuses them with its own PolicyError or renders a script that
nft itself accepts (`nft -c`, which changes nothing): no traceback, no ruleset nft would reject."""

import ipaddress
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nft_ruleset import PolicyError, build, render

NFT = shutil.which("nft") or "/usr/sbin/nft"

names = st.one_of(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z"), st.text(max_size=70))
ports = st.one_of(
    st.integers(-5, 70000),
    st.from_regex(r"\A[0-9]{1,5}(-[0-9]{1,5})?\Z"),
    st.text(max_size=12),
    st.booleans(),
    st.none(),
)
addresses = st.one_of(
    st.ip_addresses().map(str),
    st.builds(lambda a, p: str(ipaddress.ip_network(f"{a}/{p}", strict=False)), st.ip_addresses(v=4), st.integers(0, 32)),
    st.builds(lambda a, p: str(ipaddress.ip_network(f"{a}/{p}", strict=False)), st.ip_addresses(v=6), st.integers(0, 128)),
    st.text(max_size=45),
)
entries = st.fixed_dictionaries(
    {"name": names, "ports": st.lists(ports, max_size=4)},
    optional={
        "proto": st.sampled_from(["tcp", "udp", "icmp", ""]),
        "sources": st.lists(addresses, max_size=3),
        "destinations": st.lists(addresses, max_size=3),
        "sports": st.lists(ports, max_size=2),
        "comment": st.text(max_size=140),
        "helper": st.sampled_from(["ftp", "sip", ""]),
        "limit": st.one_of(st.from_regex(r"\A[0-9]{1,3}/(second|minute)( burst [0-9]{1,3} packets)?\Z"),
                           st.text(max_size=20)),
    },
)
params = st.fixed_dictionaries(
    {"services": st.lists(entries, max_size=4),
     "management": st.one_of(st.none(), st.fixed_dictionaries(
         {"sources": st.lists(addresses, max_size=3)},
         optional={"port": ports, "required": st.booleans()}))},
    optional={
        "table": st.one_of(st.from_regex(r"\A[A-Za-z][A-Za-z0-9_]{0,31}\Z"), st.text(max_size=40)),
        "egress": st.lists(entries, max_size=3),
        "egress_filter": st.booleans(),
        "log_drops": st.booleans(),
        "log_rate": st.one_of(st.from_regex(r"\A[0-9]{1,4}/(second|minute|hour|day)\Z"), st.text(max_size=20)),
        "icmp_echo": st.booleans(),
        "ban_set": st.one_of(st.from_regex(r"\A[A-Za-z][A-Za-z0-9_]{0,30}\Z"), st.text(max_size=12)),
    },
)

# Near-valid inputs, so that most examples get as far as nft -c.
plausible_ports = st.one_of(st.integers(1, 65535), st.builds(lambda a, b: f"{min(a, b)}-{max(a, b)}",
                                                               st.integers(1, 65535), st.integers(1, 65535)))
plausible_entries = st.fixed_dictionaries(
    {"name": st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,20}\Z"),
     "ports": st.lists(plausible_ports, min_size=1, max_size=4)},
    optional={
        "proto": st.sampled_from(["tcp", "udp"]),
        "sources": st.lists(addresses.filter(lambda a: "/" in a or ":" in a or "." in a), max_size=3),
        "comment": st.text(st.characters(codec="utf-8"), max_size=60),
        "helper": st.just("ftp"),
        "limit": st.from_regex(r"\A[1-9][0-9]{0,3}/(second|minute|hour)( burst [1-9][0-9]{0,3} packets)?\Z"),
    },
)
plausible = st.fixed_dictionaries(
    {"services": st.lists(plausible_entries, max_size=5),
     "management": st.fixed_dictionaries({"sources": st.lists(st.ip_addresses().map(str), min_size=1, max_size=3),
                                          "port": plausible_ports.filter(lambda p: isinstance(p, int))})},
    optional={"egress_filter": st.booleans(), "log_drops": st.booleans(), "icmp_echo": st.booleans(),
              "egress": st.lists(plausible_entries, max_size=2),
              "ban_set": st.from_regex(r"\A[A-Za-z][A-Za-z0-9_]{0,20}\Z")},
)
ROOT_ONLY = pytest.mark.skipif(subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() != "0",
                               reason="nft -c needs root (the test command runs as root)")


def nft_accepts(tmp_path_factory, p):
    try:
        script = render(build(p))
    except PolicyError:
        return
    path = tmp_path_factory.mktemp("nft") / "ruleset.nft"
    path.write_text(script)
    check = subprocess.run([NFT, "-c", "-f", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, (p, check.stderr, script)


@ROOT_ONLY
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params)
def test_any_input_is_refused_or_renders_what_nft_accepts(tmp_path_factory, p):
    nft_accepts(tmp_path_factory, p)


@ROOT_ONLY
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plausible)
def test_plausible_input_is_refused_or_renders_what_nft_accepts(tmp_path_factory, p):
    nft_accepts(tmp_path_factory, p)


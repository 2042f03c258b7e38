"""Make the scenario's podman networks before Molecule creates its containers: each platform has a
fixed address (Ansible and the tests reach it there over SSH), and Molecule's podman driver makes a
network without a fixed subnet. The subnet is the /24 around the addresses; a platform with an IPv6
address (`--ip6=` in extra_opts) makes its network dual-stack, with the /64 around it. Run as the
`dependency` step, after destroy (which removes the networks)."""

import ipaddress
import pathlib
import subprocess
import sys

import yaml


def subnet(network, address, prefix, subnets):
    net = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    if subnets.setdefault((network, net.version), net) != net:
        raise SystemExit(f"{address} is outside {network} ({subnets[network, net.version]})")


spec = yaml.safe_load(pathlib.Path(sys.argv[1], "molecule.yml").read_text())
subnets = {}
for platform in spec["platforms"]:
    subnet(platform["network"], platform["ip"], 24, subnets)
    for opt in platform.get("extra_opts", []):
        if opt.startswith("--ip6="):
            subnet(platform["network"], opt.removeprefix("--ip6="), 64, subnets)
for name in sorted({network for network, _ in subnets}):
    if subprocess.run(["podman", "network", "exists", name]).returncode == 0:
        continue
    args = ["podman", "network", "create", "--subnet", str(subnets[name, 4])]
    if (name, 6) in subnets:
        args += ["--ipv6", "--subnet", str(subnets[name, 6])]
    subprocess.run([*args, name], check=True, stdout=subprocess.DEVNULL)

"""Make the scenario's podman networks before Molecule creates its containers: each platform has a
fixed address (Ansible and the tests reach it there over SSH), and Molecule's podman driver makes a
network without a fixed subnet. The subnet is the /24 around the addresses; run as the `dependency`
step, after destroy (which removes the networks)."""

import ipaddress
import pathlib
import subprocess
import sys

import yaml

spec = yaml.safe_load(pathlib.Path(sys.argv[1], "molecule.yml").read_text())
subnets = {}
for platform in spec["platforms"]:
    subnet = ipaddress.ip_network(f"{platform['ip']}/24", strict=False)
    if subnets.setdefault(platform["network"], subnet) != subnet:
        raise SystemExit(f"{platform['name']}: {platform['ip']} is outside {platform['network']} ({subnet})")
for name, subnet in subnets.items():
    if subprocess.run(["podman", "network", "exists", name]).returncode != 0:
        subprocess.run(["podman", "network", "create", "--subnet", str(subnet), name], check=True,
                       stdout=subprocess.DEVNULL)

#!/usr/bin/env bash
# The nat scenario's networks, made before Molecule creates its containers (its podman driver makes
# one network, without a fixed subnet): "the internet", a home LAN, a server DMZ, and an uplink.
# All but the uplink are internal: the host neither routes nor masquerades them (with br_netfilter
# it would otherwise rewrite the router's forwarded traffic), so the router container is the only
# way between them, and out through the uplink (package installs).
set -euo pipefail
net() {
  podman network exists "$1" || podman network create --disable-dns --subnet "$2" "${@:3}" "$1" >/dev/null
}
net nat-up 10.89.82.0/24
net nat-wan 10.89.79.0/24 --internal
net nat-lan 10.89.80.0/24 --internal
net nat-dmz 10.89.81.0/24 --internal

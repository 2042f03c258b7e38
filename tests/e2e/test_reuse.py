"""The project's playbook, copied into another folder (with the vars file it reads), converges each server
with nothing but a roles path pointing here: the firewall module travels inside the host_firewall role."""

import shutil

import pytest
from conftest import ROOT, recap


@pytest.mark.scenario("egress")   # once per run: a converge
@pytest.mark.first_server
def test_playbook_reused_elsewhere_converges_without_changes(server, outside, tmp_path):
    shutil.copytree(ROOT / "playbooks" / "vars", tmp_path / "vars")
    rc, output = outside((ROOT / "playbooks" / "ftp_servers.yml").read_text(), "--limit", server.name)
    assert rc == 0, output[-3000:]
    counts = recap(output)
    assert counts.get(server.name, {}).get("ok"), output[-3000:]
    assert all(c["changed"] == 0 and c["failed"] == 0 for c in counts.values()), output[-5000:]

"""The collection as its users get it: built with ansible-galaxy, installed offline into a fresh
collections path, and a playbook that names the roles and the module only by their full names
converges the server without changes (nothing from the clone: no roles path, no library, no ansible.cfg)."""

import shutil
import subprocess

import pytest
from conftest import ROOT, recap

PLAY = """
- name: Converge through the installed collection
  hosts: ftp_servers
  become: true
  vars_files:
    - vars/sql_server.yml
  tasks:
    - name: Set up the FTP server
      ansible.builtin.include_role:
        name: ftp_lab.ftp.ftp_server

    - name: Let in only what the FTP server and SQL Server need
      ansible.builtin.include_role:
        name: ftp_lab.ftp.host_firewall
      vars:
        host_firewall_contributions:
          - "{{ ftp_server_firewall }}"
          - "{{ sql_server_firewall }}"

    - name: Preview another table with the module by its full name
      ftp_lab.ftp.nft_firewall:
        table: collection_probe
        services: [{name: probe, ports: [2121]}]
        management: {sources: "{{ host_firewall_management_sources }}"}
      check_mode: true
      changed_when: false
      register: probe

    - name: Check the module rendered that table
      ansible.builtin.assert:
        that: "'table inet collection_probe' in probe.ruleset and 'probe' in probe.open | map(attribute='name')"
"""


@pytest.fixture(scope="module")
def collections(tmp_path_factory):
    """The artifact of this checkout, installed offline; the collections path."""
    work = tmp_path_factory.mktemp("collection")
    subprocess.run(["ansible-galaxy", "collection", "build", "--output-path", str(work), str(ROOT)],
                   cwd=work, check=True, capture_output=True)
    artifact, = work.glob("ftp_lab-ftp-*.tar.gz")
    subprocess.run(["ansible-galaxy", "collection", "install", "--offline", "--force", "-p", str(work / "installed"),
                    str(artifact)], cwd=work, check=True, capture_output=True)
    return work / "installed"


@pytest.mark.scenario("helper")   # once per run: a build and a converge
@pytest.mark.first_server
def test_installed_collection_converges_by_full_names(server, outside, tmp_path, collections):
    shutil.copytree(ROOT / "playbooks" / "vars", tmp_path / "vars")
    rc, output = outside(PLAY, "--limit", server.name, ANSIBLE_COLLECTIONS_PATH=str(collections))
    assert rc == 0, output[-3000:]
    counts = recap(output)[server.name]
    assert counts["changed"] == 0 and counts["failed"] == 0, output[-5000:]

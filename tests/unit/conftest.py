"""Unit tests import the pure cores straight from their folders, without Ansible: the module's
(plugins/module_utils/), the audit's (playbooks/files/) and the pyftpdlib
program (roles/ftp_server/files/)."""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "plugins" / "module_utils"), str(ROOT / "playbooks" / "files"),
                str(ROOT / "roles" / "ftp_server" / "files")]

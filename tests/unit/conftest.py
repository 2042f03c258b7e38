"""Unit tests import the pure cores straight from their folders, without Ansible: the module's
(plugins/module_utils/) and the audit's (playbooks/files/)."""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "plugins" / "module_utils"), str(ROOT / "playbooks" / "files")]

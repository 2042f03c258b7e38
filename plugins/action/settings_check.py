# Copyright: (c) 2026, FTP lab developers
# MIT License (see LICENSE)
"""Check a role's settings on the controller, without a connection: the rules are plain Python in
module_utils (ftp_settings.py, firewall_settings.py), each with a unit test. The first broken rule
fails the task with its message, before anything on the host changes."""

import importlib.util
import os

from ansible.plugins.action import ActionBase


def _load(name):
    """The rules beside this file's real place (plugins/module_utils/), whether it runs from the
    collection or from a roles path (a link in roles/*/action_plugins): never another installed copy."""
    path = os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "module_utils", f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"ftp_lab_ftp_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RULES = {"ftp_server": _load("ftp_settings"), "host_firewall": _load("firewall_settings")}


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        role, settings = self._task.args.get("role"), self._task.args.get("settings")
        if role not in RULES or not isinstance(settings, dict):
            return dict(result, failed=True, msg=f"role must be one of {', '.join(RULES)}, and settings a dict")
        prefix = f"{role}_"
        problem = RULES[role].first_problem({k[len(prefix):] if k.startswith(prefix) else k: v
                                             for k, v in settings.items()})
        if problem:
            return dict(result, failed=True, msg=problem)
        return dict(result, changed=False, msg="settings checked")

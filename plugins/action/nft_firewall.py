# Copyright: (c) 2026, FTP lab developers
# MIT License (see LICENSE)
"""Safe apply in one task: the module applies the ruleset under its rollback timer, then this action
comes back over a new connection, through the new rules, and confirms. A controller that cannot come
back is a failed task, and the host puts the previous table back by itself."""

import time

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.plugins.connection import ConnectionBase


RETRY = 2   # seconds between attempts to come back


class ActionModule(ActionBase):

    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        result.update(self._execute_module(module_args=args, task_vars=task_vars))
        if result.get("failed") or not result.get("pending") or boolean(args.get("confirm", False), strict=False):
            return result

        # Remote temporary files go while the old connection still works (without pipelining there are some).
        self._remove_tmp_path(self._connection._shell.tmpdir)
        # Tried again until the rollback is due (a lost SYN, sshd's MaxStartups, a slow route): after it,
        # a connection that gets in meets the previous table, and the module says "too late".
        deadline = time.monotonic() + int(args.get("rollback_timeout") or 0)
        while True:
            try:
                # The connection that applied was let through as established: only a new one proves the
                # rules. (Connections without a reset, such as podman exec, do not pass the firewall anyway.)
                if type(self._connection).reset is not ConnectionBase.reset:
                    self._connection.reset()   # paramiko reconnects here: inside the try
                confirmed = self._execute_module(module_args=dict(args, confirm=True), task_vars=task_vars)
                break
            except AnsibleConnectionFailure as err:
                self._connection._shell.tmpdir = None   # nothing to clean over a connection that cannot come back
                if time.monotonic() < deadline - RETRY:
                    time.sleep(RETRY)
                    continue
                result.update(failed=True, pending=False, rolled_back=True, msg=(
                    f"Ansible could not come back through the new firewall ({err}); the host restores the "
                    f"previous ruleset by itself within {args.get('rollback_timeout')} seconds of the apply. "
                    "Check the management sources."))
                return result
        if confirmed.get("failed"):
            # "too late": the timer had already put the previous table back.
            result.update(failed=True, pending=False, msg=confirmed.get("msg"), confirm_result=confirmed,
                          rolled_back=str(confirmed.get("msg", "")).startswith("too late"))
            return result
        result.update(pending=False, confirmed=True)
        return result

# Copyright: (c) 2026, FTP lab developers
# MIT License (see LICENSE)
"""Safe apply in one task: the module applies the ruleset under its rollback timer, then this action
comes back over a new connection, through the new rules, and confirms. A controller that cannot come
back is a failed task, and the host puts the previous table back by itself."""

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):

    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        result.update(self._execute_module(module_args=args, task_vars=task_vars))
        if result.get("failed") or not result.get("pending") or args.get("confirm"):
            return result

        # The connection that applied was let through as established: only a new one proves the rules.
        self._connection.reset()
        try:
            confirmed = self._execute_module(module_args=dict(args, confirm=True), task_vars=task_vars)
        except AnsibleConnectionFailure as err:
            result.update(failed=True, rolled_back=True, msg=(
                f"Ansible could not come back through the new firewall ({err}); the host restores the "
                f"previous ruleset by itself within {args.get('rollback_timeout')} seconds of the apply. "
                "Check the management sources."))
            return result
        if confirmed.get("failed"):
            result.update(failed=True, msg=confirmed.get("msg"))
            return result
        result.update(pending=False, confirmed=True)
        return result

#!/usr/bin/python
# -*- coding: utf-8 -*-
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: files
short_description: Ensure many files and directories in one round trip
description:
  - Ensures a list of paths, in order, in one module call. Each entry is what M(ansible.builtin.file)
    (a directory, an absent path) or M(ansible.builtin.copy) with O(entries[].content) (a file) would
    ensure, with its owner, group and mode.
  - Where a role writes a dozen files, the built-in modules cost two remote calls per file on every run
    (C(template) stats the file, then calls C(file) for its attributes); this module costs one call for
    all. Render templates on the controller with C(lookup('ansible.builtin.template', ...)).
  - Every file that would change is first written to a temporary file beside it and checked with its
    O(entries[].validate) command; only when all pass does any path change (a file whose directory
    this same call creates is checked when its turn comes). Files are replaced atomically (rename).
version_added: "2.0.0"
author: FTP lab developers (@ftp-lab)
options:
  entries:
    description: The paths, ensured in this order.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      state:
        description:
          - V(file) writes O(entries[].content); V(directory) creates the directory (and missing parents,
            owned by root); V(absent) removes the path, recursively for a directory.
        type: str
        choices: [file, directory, absent]
        default: file
      content:
        description:
          - The file's whole content (V(file) only). Without it (or O(entries[].secret_content)) the file
            must exist, and only its owner, group and mode are ensured.
        type: str
      secret_content:
        description:
          - The content of a file that holds a secret (password hashes, a private key), instead of
            O(entries[].content) - never shown in a diff, and hidden in the module's arguments and logs.
        type: str
      owner:
        description: Owner's name; unchanged when not given.
        type: str
      group:
        description: Group's name; unchanged when not given.
        type: str
      mode:
        description: Octal mode as a string (V("0644")); unchanged when not given.
        type: str
      validate:
        description: Command that checks a new content before it replaces the file; C(%s) is its path.
        type: str
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: One diff per changed path; a secret's content is never shown.
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
"""

EXAMPLES = r"""
- name: Write the daemon's configuration and its directories
  ftp_lab.ftp.files:
    entries:
      - path: /etc/example
        state: directory
        mode: "0755"
      - path: /etc/example/example.conf
        content: "{{ lookup('ansible.builtin.template', 'etc/example/example.conf.j2') }}"
        owner: root
        group: root
        mode: "0644"
        validate: example --check %s
      - path: /etc/example/old.conf
        state: absent
"""

RETURN = r"""
paths:
  description: The paths changed (or that would change in check mode), in the order given.
  returned: always
  type: list
  elements: str
  sample: [/etc/example/example.conf]
"""

import grp
import os
import pwd
import re
import shutil
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule

MODE = re.compile(r"\A0?[0-7]{3,4}\Z")


def wanted_ids(module, entry):
    """The entry's uid and gid (-1: leave as is); an unknown name is the module's error."""
    uid = gid = -1
    try:
        if entry["owner"]:
            uid = pwd.getpwnam(entry["owner"]).pw_uid
        if entry["group"]:
            gid = grp.getgrnam(entry["group"]).gr_gid
    except KeyError as e:
        module.fail_json(msg=f"{entry['path']}: no such user or group: {e.args[0]}")
    return uid, gid


def attributes_differ(st, uid, gid, mode):
    return ((uid != -1 and st.st_uid != uid) or (gid != -1 and st.st_gid != gid)
            or (mode is not None and stat.S_IMODE(st.st_mode) != mode))


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def plan(module, entry):
    """What the entry needs: None (nothing), or the action and its diff."""
    path, state = entry["path"], entry["state"]
    mode = int(entry["mode"], 8) if entry["mode"] else None
    uid, gid = wanted_ids(module, entry)
    st = os.lstat(path) if os.path.lexists(path) else None
    if state == "absent":
        if st is None:
            return None
        return {"action": "remove", "diff": {"before_header": path, "after_header": path,
                                             "before": "present\n", "after": "absent\n"}}
    if state == "directory":
        if st is not None and not stat.S_ISDIR(st.st_mode):
            module.fail_json(msg=f"{path}: exists and is not a directory")
        if st is not None and not attributes_differ(st, uid, gid, mode):
            return None
        before = "absent\n" if st is None else f"{attrs(st)}\n"
        return {"action": "directory", "uid": uid, "gid": gid, "mode": mode,
                "diff": {"before_header": path, "after_header": path, "before": before,
                         "after": f"directory {entry['owner'] or '-'}:{entry['group'] or '-'} {entry['mode'] or '-'}\n"}}
    if st is not None and not stat.S_ISREG(st.st_mode):
        module.fail_json(msg=f"{path}: exists and is not a regular file")
    secret = entry["secret_content"] is not None
    text = entry["secret_content"] if secret else entry["content"]
    if text is None:
        # Like ansible.builtin.file: an existing file's attributes only.
        if st is None:
            module.fail_json(msg=f"{path}: no such file (give content to create it)")
        if not attributes_differ(st, uid, gid, mode):
            return None
        return {"action": "attributes", "uid": uid, "gid": gid, "mode": mode,
                "diff": {"before_header": path, "after_header": path, "before": f"{attrs(st)}\n",
                         "after": f"file {entry['owner'] or '-'}:{entry['group'] or '-'} {entry['mode'] or '-'}\n"}}
    content = text.encode()
    current = read(path) if st is not None else None
    if current == content and not attributes_differ(st, uid, gid, mode):
        return None
    step = {"action": "write" if current != content else "attributes", "content": content,
            "uid": uid, "gid": gid, "mode": mode}
    if secret:
        step["diff"] = {"before_header": path, "after_header": path,
                        "before": "(content not shown)\n" if current is not None else "",
                        "after": "(content not shown)\n"}
    elif step["action"] == "write":
        step["diff"] = {"before_header": path, "after_header": path,
                        "before": (current or b"").decode(errors="replace"), "after": text}
    else:
        step["diff"] = {"before_header": path, "after_header": path, "before": f"{attrs(st)}\n",
                        "after": f"file {entry['owner'] or '-'}:{entry['group'] or '-'} {entry['mode'] or '-'}\n"}
    return step


def attrs(st):
    kind = "directory" if stat.S_ISDIR(st.st_mode) else "file"
    try:
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return f"{kind} {owner}:{group} {stat.S_IMODE(st.st_mode):04o}"


def staged(module, entry, step):
    """A new content written beside its target, with its final attributes, and validated."""
    directory = os.path.dirname(entry["path"])
    if not os.path.isdir(directory):
        # A parent this same call creates first: validated after it exists, in apply.
        return None
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".ansible-files-")
    with os.fdopen(fd, "wb") as f:
        f.write(step["content"])
    os.chown(tmp, step["uid"], step["gid"])
    os.chmod(tmp, step["mode"] if step["mode"] is not None else 0o644)
    if entry["validate"]:
        if "%s" not in entry["validate"]:
            os.unlink(tmp)
            module.fail_json(msg=f"{entry['path']}: validate must contain %s")
        rc, out, err = module.run_command(entry["validate"].replace("%s", tmp))
        if rc:
            os.unlink(tmp)
            module.fail_json(msg=f"{entry['path']}: failed validation: {(err or out).strip()}", rc=rc)
    return tmp


def apply(module, entry, step, tmp):
    path = entry["path"]
    if step["action"] == "remove":
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    elif step["action"] == "directory":
        if not os.path.isdir(path):
            os.makedirs(path)
        os.chown(path, step["uid"], step["gid"])
        if step["mode"] is not None:
            os.chmod(path, step["mode"])
    elif step["action"] == "attributes":
        os.chown(path, step["uid"], step["gid"])
        if step["mode"] is not None:
            os.chmod(path, step["mode"])
    else:
        if tmp is None:
            tmp = staged(module, entry, step)
        os.rename(tmp, path)


def main():
    module = AnsibleModule(
        argument_spec={"entries": {"type": "list", "elements": "dict", "required": True, "options": {
            "path": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["file", "directory", "absent"], "default": "file"},
            "content": {"type": "str"},
            "secret_content": {"type": "str", "no_log": True},
            "owner": {"type": "str"},
            "group": {"type": "str"},
            "mode": {"type": "str"},
            "validate": {"type": "str"},
        }}},
        supports_check_mode=True,
    )
    entries = module.params["entries"]
    for entry in entries:
        path = entry["path"]
        if not os.path.isabs(path) or path.rstrip("/") == "":
            module.fail_json(msg=f"{path!r}: an absolute path other than / is needed")
        if entry["mode"] is not None and not MODE.match(entry["mode"]):
            module.fail_json(msg=f"{path}: mode must be octal such as \"0644\", not {entry['mode']!r}")
        if entry["content"] is not None and entry["secret_content"] is not None:
            module.fail_json(msg=f"{path}: content and secret_content are mutually exclusive")
        if entry["state"] != "file" and (entry["content"] is not None or entry["secret_content"] is not None
                                         or entry["validate"]):
            module.fail_json(msg=f"{path}: content, secret_content and validate are for files only")

    steps = [(entry, plan(module, entry)) for entry in entries]
    steps = [(entry, step) for entry, step in steps if step]
    result = {"changed": bool(steps), "paths": [entry["path"] for entry, dummy in steps]}
    if module._diff:
        result["diff"] = [step["diff"] for dummy, step in steps]
    if module.check_mode or not steps:
        module.exit_json(**result)

    # Every new content validated before any path changes.
    temps = {}
    try:
        for entry, step in steps:
            if step["action"] == "write":
                temps[entry["path"]] = staged(module, entry, step)
        for entry, step in steps:
            apply(module, entry, step, temps.pop(entry["path"], None))
    except OSError as e:
        module.fail_json(msg=f"{e.filename or ''}: {e.strerror}", **result)
    finally:
        for tmp in temps.values():
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

"""The files module (plugins/modules/files.py), run as Ansible runs it: a Python process reading its
arguments, on a scratch directory."""

import json
import os
import pathlib
import stat
import subprocess
import sys

import pytest

MODULE = pathlib.Path(__file__).resolve().parents[2] / "plugins" / "modules" / "files.py"


def run(tmp_path, entries, check=False, diff=True):
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {
        "entries": entries, "_ansible_check_mode": check, "_ansible_diff": diff}}))
    out = subprocess.run([sys.executable, MODULE, args], capture_output=True, text=True)
    return json.loads(out.stdout)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_writes_files_and_directories_then_changes_nothing(tmp_path):
    entries = [{"path": str(tmp_path / "d"), "state": "directory", "mode": "0750"},
               {"path": str(tmp_path / "d" / "f"), "content": "one\n", "mode": "0640"}]
    first = run(tmp_path, entries)
    assert first["changed"] and first["paths"] == [e["path"] for e in entries]
    assert (tmp_path / "d" / "f").read_text() == "one\n"
    assert mode(tmp_path / "d") == 0o750 and mode(tmp_path / "d" / "f") == 0o640
    assert run(tmp_path, entries) == {**run(tmp_path, entries), "changed": False, "paths": []}


def test_check_mode_reports_and_changes_nothing(tmp_path):
    (tmp_path / "f").write_text("old\n")
    result = run(tmp_path, [{"path": str(tmp_path / "f"), "content": "new\n"},
                            {"path": str(tmp_path / "gone"), "state": "absent"}], check=True)
    assert result["changed"] and result["paths"] == [str(tmp_path / "f")]
    assert result["diff"][0]["before"] == "old\n" and result["diff"][0]["after"] == "new\n"
    assert (tmp_path / "f").read_text() == "old\n"


def test_a_mode_drift_alone_is_mended(tmp_path):
    (tmp_path / "f").write_text("same\n")
    os.chmod(tmp_path / "f", 0o666)
    result = run(tmp_path, [{"path": str(tmp_path / "f"), "content": "same\n", "mode": "0644"}])
    assert result["paths"] == [str(tmp_path / "f")] and mode(tmp_path / "f") == 0o644


def test_a_failed_validation_changes_no_path(tmp_path):
    (tmp_path / "a").write_text("a\n")
    result = run(tmp_path, [{"path": str(tmp_path / "a"), "content": "A\n"},
                            {"path": str(tmp_path / "b"), "content": "bad\n", "validate": "grep -q good %s"}])
    assert result.get("failed") and "failed validation" in result["msg"]
    assert (tmp_path / "a").read_text() == "a\n" and not (tmp_path / "b").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".ansible-files-")] == []


def test_secret_content_is_never_shown(tmp_path):
    secret = "user:$6$salt$" + "h" * 40 + "\n"
    result = run(tmp_path, [{"path": str(tmp_path / "passwd"), "secret_content": secret, "mode": "0600"}])
    assert (tmp_path / "passwd").read_text() == secret
    assert "h" * 40 not in json.dumps(result)


def test_absent_removes_a_tree(tmp_path):
    (tmp_path / "home" / "sub").mkdir(parents=True)
    (tmp_path / "home" / "sub" / "f").write_text("x")
    assert run(tmp_path, [{"path": str(tmp_path / "home"), "state": "absent"}])["changed"]
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize("entry, message", [
    ({"path": "relative", "content": "x"}, "absolute path"),
    ({"path": "/", "state": "absent"}, "absolute path"),
    ({"path": "/tmp/x", "content": "x", "mode": "644x"}, "mode must be octal"),
    ({"path": "/tmp/x", "content": "x", "secret_content": "s3cr3t"}, "mutually exclusive"),
    ({"path": "/tmp/x", "state": "directory", "content": "x"}, "for files only"),
    ({"path": "/tmp/x", "content": "x", "owner": "no-such-user-here"}, "no such user or group"),
])
def test_bad_entries_are_refused(tmp_path, entry, message):
    result = run(tmp_path, [entry])
    assert result.get("failed") and message in result["msg"]


def test_a_file_where_a_directory_is_wanted_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    result = run(tmp_path, [{"path": str(tmp_path / "f"), "state": "directory"}])
    assert result.get("failed") and "not a directory" in result["msg"]

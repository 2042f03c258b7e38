"""The role works from another project with nothing but a roles path pointing here."""

from conftest import recap


def test_role_reused_elsewhere_converges_without_changes(play_role):
    result = play_role()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    counts = recap(output)
    assert counts, output[-3000:]
    assert all(c["changed"] == 0 and c["failed"] == 0 for c in counts.values()), counts

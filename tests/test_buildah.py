"""harness's buildah storage: which driver, and why (a stand-in buildah, no engine)."""

import os
import stat

import pytest

from harness import buildah


@pytest.fixture
def fake_buildah(tmp_path, monkeypatch):
    """A `buildah` on PATH whose `info` fails with overlay's error when told to, and which
    logs its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "buildah"
    script.write_text('#!/bin/sh\necho "$@" >> "$FAKE_LOG"\n'
                      'case "$*" in *--version*) echo "buildah version 1.28.2 (image-spec 1)";;\n'
                      '  *overlay*info*) if [ -n "$OVERLAY_FAILS" ]; then echo "Error: kernel '
                      'does not support overlay fs: unknown" >&2; exit 125; fi;; esac\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls"))
    return tmp_path / "calls"


def test_overlay_is_chosen_where_buildah_can_set_it_up_and_then_kept(fake_buildah):
    chosen = buildah.storage()
    assert (chosen.driver, chosen.why) == (
        "overlay", "overlay: buildah's overlay driver works on this host")
    assert chosen.root == buildah.storage_dir() / "root"
    assert buildah.storage() == chosen
    assert fake_buildah.read_text().count(" info") == 1  # probed once, then read back
    assert chosen.command("images")[:7] == [
        "buildah", "--root", str(chosen.root), "--runroot", str(chosen.runroot),
        "--storage-driver", "overlay"]


def test_vfs_is_chosen_with_overlays_error_as_the_reason(fake_buildah, monkeypatch):
    monkeypatch.setenv("OVERLAY_FAILS", "1")
    chosen = buildah.storage()
    assert chosen.driver == "vfs"
    assert chosen.why == ("vfs: the overlay driver failed here (Error: kernel does not support "
                          "overlay fs: unknown)")
    assert buildah.version() == "1.28.2"


def test_without_buildah_there_is_no_version(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert buildah.version() is None
    assert "harness engine up --buildah" in buildah.MISSING

"""Build contexts are temporary copies: the user's folder is read, never written."""

from pathlib import Path

import pytest

from harness.context import DOCKERFILE_NAME, LinkInTheWay, append_to, materialize


def test_a_context_has_the_files_the_dockerfile_and_an_ignore_file(tmp_path):
    context = materialize(tmp_path / "ctx", dockerfile="FROM scratch\n",
                          files={"app/main.py": "print(1)\n"})
    assert (context / "app" / "main.py").read_text() == "print(1)\n"
    assert (context / DOCKERFILE_NAME).read_text() == "FROM scratch\n"
    assert (context / ".dockerignore").read_text() == f"{DOCKERFILE_NAME}\n.dockerignore\n"


def test_the_source_folder_is_copied_with_symlinks_kept_and_left_unchanged(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "data.txt").write_text("data\n")
    (source / "link").symlink_to("data.txt")
    (source / ".dockerignore").write_text("*.log")
    context = materialize(tmp_path / "ctx", dockerfile="FROM scratch\n", files={},
                          source_dir=source)
    assert (context / "link").is_symlink()
    assert (context / ".dockerignore").read_text() == f"*.log\n{DOCKERFILE_NAME}\n"
    append_to(context, "data.txt", "more\n")
    assert (context / "data.txt").read_text() == "data\nmore\n"
    assert (source / "data.txt").read_text() == "data\n"
    assert (source / ".dockerignore").read_text() == "*.log"


def test_files_replace_links_in_the_copy_and_never_write_through_them(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "victim.txt").write_text("precious\n")
    source = tmp_path / "src"
    source.mkdir()
    (source / "absolute.txt").symlink_to(elsewhere / "victim.txt")
    (source / "relative.txt").symlink_to("../elsewhere/victim.txt")
    (source / "dangling.txt").symlink_to("../../no/such/file")
    (source / ".dockerignore").symlink_to(elsewhere / "victim.txt")
    context = materialize(tmp_path / "ctx", dockerfile="FROM scratch\n", source_dir=source,
                          files={"absolute.txt": "a\n", "relative.txt": "r\n",
                                 "dangling.txt": "d\n"})
    for name, text in (("absolute.txt", "a\n"), ("relative.txt", "r\n"), ("dangling.txt", "d\n")):
        assert not (context / name).is_symlink() and (context / name).read_text() == text
    assert not (context / ".dockerignore").is_symlink()
    assert (elsewhere / "victim.txt").read_text() == "precious\n"
    assert (source / "relative.txt").is_symlink()  # the user's folder is as it was


@pytest.mark.parametrize("link", ["absolute", "relative"])
def test_appending_to_a_link_or_below_a_linked_directory_is_refused(tmp_path, link):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "app.txt").write_text("precious\n")
    source = tmp_path / "src"
    source.mkdir()
    target = elsewhere if link == "absolute" else Path("../elsewhere")
    (source / "app.txt").symlink_to(target / "app.txt")
    (source / "sub").symlink_to(target)
    context = materialize(tmp_path / "ctx", dockerfile="FROM scratch\n", files={},
                          source_dir=source)
    with pytest.raises(LinkInTheWay, match=r"`app.txt` is a symlink in the build context"):
        append_to(context, "app.txt", "# changed\n")
    with pytest.raises(LinkInTheWay, match=r"`sub/app.txt`: `sub` is a symlink"):
        append_to(context, "sub/app.txt", "# changed\n")
    with pytest.raises(LinkInTheWay, match=r"`sub/new.txt`: `sub` is a symlink"):
        materialize(tmp_path / "ctx2", dockerfile="FROM scratch\n", source_dir=source,
                    files={"sub/new.txt": "x\n"})
    assert (elsewhere / "app.txt").read_text() == "precious\n"
    assert not (elsewhere / "new.txt").exists()

"""Build contexts are temporary copies: the user's folder is read, never written."""

from harness.context import DOCKERFILE_NAME, append_to, materialize


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

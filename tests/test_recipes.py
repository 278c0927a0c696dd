"""Base recipes in a shared bases.yaml: every problem listed with its line."""

from harness.model import BaseKind
from harness.recipes import check_bases_file


def test_a_shared_bases_file_gives_recipes_with_absolute_paths(tmp_path):
    (tmp_path / "rootfs.tar").write_bytes(b"")
    path = tmp_path / "bases.yaml"
    path.write_text("bases:\n"
                    "  debian:bookworm: {debootstrap: {suite: bookworm}, pull: false}\n"
                    "  my:tar: {tar: rootfs.tar}\n"
                    "  tiny:1: {scratch: {files: {/bin/busybox: /bin/busybox}}}\n")
    recipes, problems = check_bases_file(path)
    assert problems == []
    debian = recipes["debian:bookworm"]
    assert (debian.kind, debian.pull, debian.options["variant"]) == (
        BaseKind.DEBOOTSTRAP, False, "minbase")
    assert recipes["my:tar"].options == {"path": str(tmp_path / "rootfs.tar")}
    assert recipes["tiny:1"].options["cmd"] is None


def test_each_broken_recipe_is_a_problem_at_its_line(tmp_path):
    path = tmp_path / "bases.yaml"
    path.write_text("bases:\n"
                    "  Bad Name: {tar: x.tar}\n"
                    "  two:kinds: {tar: x.tar, debootstrap: {suite: bookworm}}\n"
                    "  deb:1: {debootstrap: {variant: huge}}\n"
                    "  s:1: {scratch: {files: {bin/x: /bin/true}}}\n"
                    "other: 1\n")
    recipes, problems = check_bases_file(path)
    assert recipes == {}
    assert [(p.line, p.message.split(":")[0]) for p in problems] == [
        (2, "bases.Bad Name"), (3, "bases.two"), (4, "bases.deb"), (4, "bases.deb"),
        (5, "bases.s"), (6, "other")]


def test_pull_true_alone_is_a_base_kept_in_a_registry_and_pull_false_alone_is_refused(
        tmp_path):
    """A user who keeps their base in their own registry means exactly "pull it"."""
    path = tmp_path / "bases.yaml"
    path.write_text("bases:\n  127.0.0.1:5055/team/base:1: {pull: true}\n"
                    "  nothing:1: {pull: false}\n")
    recipes, problems = check_bases_file(path)
    pulled = recipes["127.0.0.1:5055/team/base:1"]
    assert (pulled.kind, pulled.pull, pulled.options) == (None, True, {})
    assert [(p.line, p.message) for p in problems] == [
        (3, "bases.nothing:1: expected exactly one recipe kind (debootstrap, scratch, tar, "
            "build), or `pull: true` alone to pull it, found 0")]

"""Making bases: the pure parts (recipe hashes, where a base is pulled from, what a
debootstrapped tree loses); the builds themselves are in test_integ_bases.py."""

from pathlib import Path

import pytest

from harness.bases import (
    BaseError,
    _drop_apt_caches,
    _installed_packages,
    _slimmed,
    ensure_bases,
    recipe_hash,
    registry_url,
)
from harness.doctor import REGISTRY_URL
from harness.model import BaseKind, BaseRecipe


def scratch(tmp_path: Path, content: bytes, **options: object) -> BaseRecipe:
    source = tmp_path / "busybox"
    source.write_bytes(content)
    return BaseRecipe(reference="b:1", kind=BaseKind.SCRATCH, declared_in=tmp_path / "b.yaml",
                      options={"files": {"/bin/busybox": str(source)}, "run": [], "cmd": None,
                               **options})


def test_a_base_is_pulled_from_the_registry_its_reference_names():
    assert registry_url("debian:bookworm") == REGISTRY_URL
    assert registry_url("library/debian") == REGISTRY_URL
    assert registry_url("127.0.0.1:5055/team/base:1") == "http://127.0.0.1:5055/v2/"
    assert registry_url("localhost:5000/x") == "http://localhost:5000/v2/"
    assert registry_url("ghcr.io/team/base") == "https://ghcr.io/v2/"


def test_the_recipe_hash_follows_the_recipe_and_its_input_files(tmp_path):
    first = recipe_hash(scratch(tmp_path, b"one"))
    assert recipe_hash(scratch(tmp_path, b"one")) == first
    assert recipe_hash(scratch(tmp_path, b"two")) != first  # the file's content
    assert recipe_hash(scratch(tmp_path, b"one", cmd=["sh"])) != first  # an option


def test_bases_that_build_from_each_other_in_a_cycle_are_refused_naming_it(tmp_path):
    def build(reference: str, parent: str) -> BaseRecipe:
        return BaseRecipe(reference=reference, kind=BaseKind.BUILD, declared_in=tmp_path,
                          options={"dockerfile": f"FROM {parent}\n", "build_args": {},
                                   "context": None})

    recipes = {"a:1": build("a:1", "b:1"), "b:1": build("b:1", "a:1")}
    with pytest.raises(BaseError, match=r"bases build from each other in a cycle: "
                                        r"a:1 → b:1 → a:1"):
        ensure_bases(None, recipes, ["a:1"], lambda message: None)  # type: ignore[arg-type]


def test_a_debootstrapped_tree_drops_what_an_official_image_does_not_ship(tmp_path):
    for kept, path in ((False, "var/cache/apt/archives/x.deb"), (False, "var/lib/apt/lists/y"),
                       (False, "var/cache/apt/pkgcache.bin"), (True, "var/lib/apt/lists/lock"),
                       (True, "etc/apt/sources.list")):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(str(kept))
    _drop_apt_caches(tmp_path)
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["etc/apt/sources.list", "var/lib/apt/lists/lock"]


def test_a_slim_tree_is_what_debuerreotype_slimify_leaves(tmp_path):
    files = ["usr/share/doc/bash/copyright", "usr/share/doc/bash/README.gz",
             "usr/share/man/man1/ls.1.gz", "usr/share/man/de/man1/ls.1.gz",
             "usr/share/locale/locale.alias", "usr/share/locale/de/LC_MESSAGES/x.mo",
             "usr/share/info/dir", "usr/share/zoneinfo/UTC", "usr/bin/ls"]
    for path in files:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    (tmp_path / "usr/share/doc/bash/link").symlink_to("README.gz")
    (tmp_path / "usr/share/doc/sh").symlink_to("bash")  # a link to a folder that stays
    _slimmed(tmp_path)
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                  if p.is_file() or p.is_symlink())
    assert left == ["etc/dpkg/dpkg.cfg.d/docker", "usr/bin/ls", "usr/share/doc/bash/copyright",
                    "usr/share/doc/sh", "usr/share/locale/locale.alias",
                    "usr/share/zoneinfo/UTC"]
    assert (tmp_path / "usr/share/man/man1").is_dir()  # man's sections stay, empty
    assert not (tmp_path / "usr/share/man/de").exists()
    config = (tmp_path / "etc/dpkg/dpkg.cfg.d/docker").read_text()
    assert "path-exclude /usr/share/doc/*\n" in config
    assert "path-include /usr/share/doc/*/copyright\n" in config


def test_installed_packages_are_read_from_dpkgs_status(tmp_path):
    status = tmp_path / "var" / "lib" / "dpkg" / "status"
    status.parent.mkdir(parents=True)
    status.write_text("Package: bash\nStatus: install ok installed\nVersion: 5.2\n\n"
                      "Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n"
                      "Package: apt\nStatus: install ok installed\nVersion: 2.6\n"
                      "Description: x\n more: text\n")
    assert _installed_packages(tmp_path) == ["apt=2.6", "bash=5.2"]
    assert _installed_packages(tmp_path / "empty") == []

"""The image guard on hand-made images: every kind of difference is named, build noise and
what a piece declares are allowed, and nothing else is."""

import hashlib
import io
import tarfile

from harness.advice.edit import NOTHING, MayChange
from harness.advice.guard import ImageFiles, build_noise, differences, guard
from harness.layers import Entry, LayerFacts, analyse_layer, final_tree


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def file(path: str, text: str = "x", **facts) -> Entry:
    return Entry(path=path, kind="file", size=len(text), digest=digest(text), **facts)


def image(*entries: Entry, **config) -> ImageFiles:
    return ImageFiles(files={e.path: e for e in entries}, config=config)


def test_every_kind_of_difference_is_named():
    original = image(file("b"), file("app/settings.py", "a"), file("bin/tool", mode=0o755),
                     file("etc/conf", uid=0), Entry(path="lib/so", kind="symlink", target="a"),
                     Entry(path="srv", kind="dir", mode=0o755), StopSignal="SIGQUIT",
                     Cmd=["app"])
    rewrite = image(file("app/settings.py", "b"), file("bin/tool", mode=0o700),
                    file("etc/conf", uid=1000, gid=1000),
                    Entry(path="lib/so", kind="symlink", target="b"),
                    file("srv"), file("extra"), Cmd=["app"])
    assert list(differences(original, rewrite).values()) == [
        "/app/settings.py: content differs", "/b: missing", "/bin/tool: mode 755 → 700",
        "/etc/conf: owner 0:0 → 1000:1000", "/extra: added", "/lib/so: link target a → b",
        "/srv: dir → file", "StopSignal: SIGQUIT → (none)"]


def test_a_hard_link_is_the_file_it_links_and_harness_labels_are_not_the_images():
    original = image(file("bin/a", "same"), Entry(path="bin/b", kind="link", target="bin/a"),
                     Labels={"harness.run": "1", "org.app": "x"})
    copied = image(file("bin/a", "same"), file("bin/b", "same"),
                   Labels={"harness.run": "2", "org.app": "x"})
    assert differences(original, copied) == {}


def test_build_noise_and_declared_paths_are_allowed_and_nothing_else():
    first = image(file("var/log/apt/history.log", "10:01"), file("app"))
    second = image(file("var/log/apt/history.log", "10:02"), file("app"))
    noise = build_noise([first, second])
    assert noise == {"var/log/apt/history.log"}
    cleaned = image(file("var/log/apt/history.log", "10:03"))
    verdict = guard(first, cleaned, noise, NOTHING)
    assert (verdict.changes, verdict.changed) == (["/app: missing"], 1)
    lists = image(file("var/lib/apt/lists/x_Packages"), file("app"))
    assert guard(lists, image(file("app")), set(),
                 MayChange(paths=("var/lib/apt/lists",))).changed == 0
    assert guard(lists, image(), set(), MayChange(paths=("var/lib/apt/lists",))).changes == [
        "/app: missing"]


def test_a_file_named_by_the_build_time_makes_its_folder_noise():
    first = image(file("root/.npm/_logs/10_01-debug-0.log"), file("app"))
    second = image(file("root/.npm/_logs/10_02-debug-0.log"), file("app"))
    noise = build_noise([first, second])
    assert "root/.npm/_logs/*" in noise
    third = image(file("root/.npm/_logs/10_03-debug-0.log"), file("app", "changed"))
    assert guard(first, third, noise, NOTHING).changes == ["/app: content differs"]
    assert guard(first, image(file("root/.npm/_logs/10_03-debug-0.log")), noise,
                 NOTHING).changes == ["/app: missing"]


def status(*packages: str) -> Entry:
    text = "\n\n".join(f"Package: {p}\nStatus: install ok installed\nVersion: 1" for p in packages)
    return Entry(path="var/lib/dpkg/status", kind="file", size=len(text), digest=digest(text),
                 text=text)


def test_dropped_packages_may_take_exactly_their_own_files():
    listed = ("/.\n/usr\n/usr/bin\n/usr/bin/gcc-12\n/usr/share/doc/gcc-12\n"
              "/usr/share/doc/gcc-12/copyright\n")
    original = image(status("curl", "gcc-12"), file("usr/bin/curl"), file("usr/bin/gcc-12"),
                     Entry(path="usr/bin", kind="dir", mode=0o755),
                     Entry(path="usr/share/doc/gcc-12", kind="dir", mode=0o755),
                     file("usr/share/doc/gcc-12/copyright"),
                     Entry(path="var/lib/dpkg/info/gcc-12:amd64.list", kind="file",
                           text=listed, digest=digest(listed)),
                     file("var/lib/dpkg/info/gcc-12:amd64.md5sums"),
                     Entry(path="etc/alternatives/cc", kind="symlink", target="/usr/bin/gcc-12"),
                     Entry(path="usr/bin/cc", kind="symlink", target="/etc/alternatives/cc"),
                     file("var/lib/dpkg/alternatives/cc"), file("usr/lib/libneeded.so"))
    without = image(status("curl"), file("usr/bin/curl"),
                    Entry(path="usr/bin", kind="dir", mode=0o755))
    verdict = guard(original, without, set(), MayChange(dropped_packages=True))
    assert verdict.changes == ["/usr/lib/libneeded.so: missing"]  # no package listed it
    assert verdict.allowed == 9
    kept_gcc = image(status("curl", "gcc-12"), file("usr/bin/curl"),
                     Entry(path="usr/bin", kind="dir", mode=0o755))
    assert guard(original, kept_gcc, set(), MayChange(dropped_packages=True)).changed == 9


def test_a_dropped_packages_files_are_found_through_merged_usr():
    """bookworm's library packages list /lib/x86_64-linux-gnu/...; on disk the files are in
    /usr/lib, through the base's lib -> usr/lib link."""
    listed = "/.\n/lib\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libtirpc.so.3\n"
    base = (Entry(path="lib", kind="symlink", target="usr/lib"),
            Entry(path="usr/lib/x86_64-linux-gnu", kind="dir", mode=0o755))
    original = image(status("libtirpc3"), *base,
                     file("usr/lib/x86_64-linux-gnu/libtirpc.so.3"),
                     Entry(path="var/lib/dpkg/info/libtirpc3:amd64.list", kind="file",
                           text=listed, digest=digest(listed)))
    verdict = guard(original, image(status(), *base), set(), MayChange(dropped_packages=True))
    assert verdict.changes == [] and verdict.allowed == 3  # the library, its list, the status


def layer_tar(*members: tuple[str, bytes | None, dict]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data, facts in members:
            info = tarfile.TarInfo(name)
            for key, value in facts.items():
                setattr(info, key, value)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_the_layer_reader_keeps_owner_content_digest_and_dpkgs_records():
    status_text = b"Package: curl\nStatus: install ok installed\n"
    data = layer_tar(("app", None, {"mode": 0o750, "uid": 1000, "gid": 1000}),
                     ("app/run", b"#!/bin/sh\n", {"mode": 0o755, "uid": 1000}),
                     ("var/lib/dpkg/status", status_text, {}))
    facts = analyse_layer(io.BytesIO(data))
    by_path = {e.path: e for e in facts.entries}
    assert (by_path["app"].kind, by_path["app"].mode, by_path["app"].uid) == ("dir", 0o750, 1000)
    assert by_path["app/run"].digest == hashlib.sha256(b"#!/bin/sh\n").hexdigest()
    assert by_path["app/run"].text == ""  # only dpkg's records are kept as text
    assert by_path["var/lib/dpkg/status"].text == status_text.decode()


def test_the_final_tree_has_directories_and_applies_whiteouts_and_opaque_folders():
    def facts(*entries):
        return LayerFacts(diff_id="sha256:x", tar_bytes=0, compressed_bytes=0, added_bytes=0,
                          unpacked_bytes=0, entries=list(entries))

    tree = final_tree([
        facts(Entry(path="d", kind="dir"), file("d/a"), file("d/b"), Entry(path="e", kind="dir"),
              file("e/x"), Entry(path="f", kind="dir"), file("f/y")),
        facts(Entry(path="d/a", kind="whiteout"), Entry(path="e", kind="opaque"), file("e/new"),
              file("f"))])
    assert sorted(tree) == ["d", "d/b", "e", "e/new", "f"]
    assert tree["f"].kind == "file"


def test_an_alternative_into_a_declared_path_goes_with_it():
    """update-alternatives makes no slave link to a man page dpkg did not install."""
    original = image(Entry(path="etc/alternatives/pinentry.1.gz", kind="symlink",
                           target="/usr/share/man/man1/pinentry-curses.1.gz"),
                     Entry(path="etc/alternatives/pinentry", kind="symlink",
                           target="/usr/bin/pinentry-curses"))
    verdict = guard(original, image(), set(), MayChange(paths=("usr/share/man",)))
    assert verdict.changes == ["/etc/alternatives/pinentry: missing"]


def test_a_dropped_package_removed_with_its_conffiles_left_takes_them_and_its_folders():
    """autoremove removes a package but leaves its conffiles (`rc`): the original keeps
    /etc/fonts, which the rewrite without recommends never had; fontconfig's scripts also
    made a link there and an empty /usr/local/share/fonts. A file nobody's package made
    stays a change."""
    text = ("Package: fontconfig-config\nStatus: deinstall ok config-files\nConffiles:\n"
            " /etc/fonts/fonts.conf 0123abcd\n\nPackage: curl\nStatus: install ok installed\n")
    original = image(Entry(path="var/lib/dpkg/status", kind="file", text=text,
                           digest=digest(text)),
                     Entry(path="etc/fonts", kind="dir"), file("etc/fonts/fonts.conf"),
                     Entry(path="etc/fonts/conf.d", kind="dir"),
                     Entry(path="etc/fonts/conf.d/10-hinting.conf", kind="symlink",
                           target="../conf.avail/10-hinting.conf"),
                     Entry(path="usr/local/share/fonts", kind="dir"), file("etc/motd"))
    without = image(status("curl"))
    verdict = guard(original, without, set(), MayChange(dropped_packages=True))
    assert verdict.changes == ["/etc/motd: missing"]


def test_a_folder_only_one_image_has_is_allowed_only_if_all_it_holds_is():
    from harness.advice.edit import CONTAINER_FILES

    bare = image(Entry(path="bin", kind="dir"), file("bin/sh"))
    with_stubs = image(Entry(path="bin", kind="dir"), file("bin/sh"),
                       Entry(path="etc", kind="dir"), file("etc/hosts", ""),
                       file("etc/resolv.conf", ""), file(".dockerenv", ""))
    assert guard(bare, with_stubs, set(), CONTAINER_FILES).changed == 0
    with_more = image(*with_stubs.files.values(), file("etc/passwd"))
    assert guard(bare, with_more, set(), CONTAINER_FILES).changes == [
        "/etc: added", "/etc/passwd: added"]

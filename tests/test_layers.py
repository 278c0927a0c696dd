"""Layer arithmetic on hand-made layers: what is wasted, what survives, hard links once."""

import gzip
import hashlib
import io
import os
import tarfile

from harness import layers as layers_module
from harness.layers import (
    Entry,
    LayerFacts,
    analyse_layer,
    image_layers,
    wasted,
)


def layer(*entries: Entry) -> LayerFacts:
    added = sum(e.size for e in entries if e.kind == "file")
    return LayerFacts(diff_id="sha256:x", tar_bytes=0, compressed_bytes=0, added_bytes=added,
                      unpacked_bytes=added, entries=list(entries))


def file(path: str, size: int) -> Entry:
    return Entry(path=path, kind="file", size=size)


def test_a_file_deleted_by_a_later_whiteout_is_wasted_once():
    layers = [layer(file("etc/a", 10), file("big", 1000)),
              layer(Entry(path="big", kind="whiteout"))]
    assert [(w.path, w.size_bytes, w.added_in, w.removed_in, w.how) for w in wasted(layers)] == [
        ("big", 1000, 0, 1, "deleted")]


def test_a_replaced_file_wastes_the_old_copy_not_the_surviving_one():
    layers = [layer(file("app", 100)), layer(file("app", 300)), layer(file("app", 50))]
    found = wasted(layers)
    assert sorted((w.size_bytes, w.added_in, w.removed_in, w.how) for w in found) == [
        (100, 0, 1, "replaced"), (300, 1, 2, "replaced")]


def test_whiteout_of_a_directory_removes_everything_below_it():
    layers = [layer(file("var/lib/apt/lists/a", 7), file("var/lib/apt/lists/b", 8),
                    file("var/lib/apt/listsX", 100)),
              layer(Entry(path="var/lib/apt/lists", kind="whiteout"))]
    assert sum(w.size_bytes for w in wasted(layers)) == 15


def test_an_opaque_directory_hides_lower_layers_but_keeps_its_own_files():
    layers = [layer(file("d/old", 5), file("d/sub/old", 6), file("e/keep", 9)),
              layer(Entry(path="d", kind="opaque"), file("d/new", 4))]
    result = image_layers("img", layers)
    assert result.wasted_bytes == 11
    assert [r.wasted_bytes for r in result.layers] == [11, 0]


def test_whiteouts_do_not_remove_files_of_their_own_layer():
    layers = [layer(file("x", 3)), layer(Entry(path="x", kind="whiteout"), file("x", 4))]
    assert [(w.size_bytes, w.how) for w in wasted(layers)] == [(3, "deleted")]


def test_hard_links_count_once_and_keep_their_content_alive():
    link = Entry(path="bin/b", kind="link", target="bin/a")
    kept = [layer(file("bin/a", 500), link), layer(Entry(path="bin/a", kind="whiteout"))]
    assert wasted(kept) == []  # bin/b still holds the bytes
    both = [layer(file("bin/a", 500), link),
            layer(Entry(path="bin/a", kind="whiteout"), Entry(path="bin/b", kind="whiteout"))]
    assert [w.size_bytes for w in wasted(both)] == [500]
    assert both[0].added_bytes == 500


def test_top_waste_lists_the_largest_first():
    layers = [layer(*(file(f"f{i}", i) for i in range(20))),
              layer(*(Entry(path=f"f{i}", kind="whiteout") for i in range(20)))]
    result = image_layers("img", layers)
    assert [w.size_bytes for w in result.top_waste] == list(range(19, 9, -1))
    assert result.wasted_bytes == sum(range(20))


def make_tar(members: dict[str, bytes], whiteouts: tuple[str, ...] = (),
             symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            link = tarfile.TarInfo(name)
            link.type, link.linkname = tarfile.SYMTYPE, target
            archive.addfile(link)
        for name in whiteouts:
            archive.addfile(tarfile.TarInfo(name))
        directory = tarfile.TarInfo("opt")
        directory.type = tarfile.DIRTYPE
        archive.addfile(directory)
    return buffer.getvalue()


def test_analysing_a_layer_tarball():
    data = os.urandom(3 << 20) + bytes(6 << 20)  # spans several compression blocks
    raw = make_tar({"opt/blob": data, "./etc/conf": b"x" * 10, ".profile": b"p"},
                   whiteouts=("var/.wh.cache", "tmp/.wh..wh..opq", ".wh.junk"),
                   symlinks={"bin/sh": "busybox", "bin/é": "/bin/busybox"})
    facts = analyse_layer(io.BytesIO(raw))
    assert facts.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert facts.tar_bytes == len(raw)
    assert facts.added_bytes == len(data) + 11
    assert facts.unpacked_bytes == len(data) + 11 + len("busybox") + len("/bin/busybox")
    assert not facts.compressed_stored
    single_stream = len(gzip.compress(raw, compresslevel=6))
    assert abs(facts.compressed_bytes - single_stream) / single_stream < 0.001
    assert [(e.path, e.kind) for e in facts.entries] == [
        ("opt/blob", "file"), ("etc/conf", "file"), (".profile", "file"),
        ("bin/sh", "symlink"), ("bin/é", "symlink"),
        ("var/cache", "whiteout"), ("tmp", "opaque"), ("junk", "whiteout"), ("opt", "dir")]


def test_a_one_block_estimate_is_gzip_6_to_the_byte():
    for size in (0, 1000, layers_module.BLOCK_BYTES - 10_240):  # the tar's headers: one block
        raw = make_tar({"f": os.urandom(size // 2) + bytes(size - size // 2)})
        assert analyse_layer(io.BytesIO(raw)).compressed_bytes == len(
            gzip.compress(raw, compresslevel=6, mtime=0))


def test_a_directory_replaced_by_a_file_or_symlink_wastes_what_was_below_it():
    lower = make_tar({"d/a": b"a" * 10, "d/sub/b": b"b" * 20, "e/c": b"c" * 40, "dx": b"x"})
    upper = make_tar({"d": b"now a file"}, symlinks={"e": "/elsewhere"})
    layers = [analyse_layer(io.BytesIO(lower)), analyse_layer(io.BytesIO(upper))]
    found = sorted((w.path, w.size_bytes, w.how) for w in wasted(layers))
    assert found == [("d/a", 10, "replaced"), ("d/sub/b", 20, "replaced"),
                     ("e/c", 40, "replaced")]  # dx, a sibling with the same prefix, stays


def test_compression_work_in_flight_is_bounded(monkeypatch):
    in_flight = []
    submit = layers_module._Tee._submit

    def observed(self, block):
        submit(self, block)
        in_flight.append(len(self.in_flight))

    monkeypatch.setattr(layers_module._Tee, "_submit", observed)
    blocks = 20
    facts = analyse_layer(io.BytesIO(make_tar({"big": bytes(blocks *
                                                            layers_module.BLOCK_BYTES)})))
    assert len(in_flight) == blocks + 1  # the full blocks and the tail
    assert max(in_flight) == layers_module.IN_FLIGHT_BLOCKS < blocks + 1
    assert facts.compressed_bytes < 100_000  # zeros: every block was counted


def test_a_block_another_layer_had_is_compressed_once_with_the_same_estimate(monkeypatch):
    shared = os.urandom(3 * layers_module.BLOCK_BYTES)
    first = make_tar({"a/shared": shared, "z/one": os.urandom(1000)})
    second = make_tar({"a/shared": shared, "z/two": os.urandom(2000)})
    monkeypatch.setattr(layers_module, "DEFLATED_BLOCKS", {})
    fresh = analyse_layer(io.BytesIO(second)).compressed_bytes
    monkeypatch.setattr(layers_module, "DEFLATED_BLOCKS", {})
    compressed = []
    compress = layers_module.zlib.compress

    def counted(data, level):
        compressed.append(len(data))
        return compress(data, level)

    monkeypatch.setattr(layers_module.zlib, "compress", counted)
    analyse_layer(io.BytesIO(first))
    before = len(compressed)
    assert analyse_layer(io.BytesIO(second)).compressed_bytes == fresh
    assert len(compressed) - before == 1  # only the tail block, which names z/two


def test_the_layer_cache_gives_back_the_layer_it_was_given(tmp_path):
    raw = make_tar({"etc/conf": b"x" * 10, "var/lib/dpkg/status": b"Package: a\n"},
                   whiteouts=("tmp/.wh..wh..opq",), symlinks={"bin/sh": "busybox"})
    facts = analyse_layer(io.BytesIO(raw))
    cache = layers_module.LayerCache(tmp_path / "cache")
    cache.put(facts)
    assert cache.get(facts.diff_id) == facts

"""Reading an image from an archive, every layout, with no engine; and every way an archive
can be wrong."""

import gzip
import io
import json
import tarfile

import pytest

from harness import images as images_module
from harness.analyse import analyse
from harness.images import (
    ImageReadError,
    analyse_engine_image,
    engine_image,
    host_platform_name,
    parse_registry_reference,
    read_archive,
)
from tests.image_tars import (
    WASTE_EXPECTED,
    WASTE_LAYERS,
    Member,
    containerd_save_layout,
    docker_save_layout,
    hand_made,
    oci_layout,
    write_folder,
    write_tar,
)

LAYOUTS = {
    "oci-gzip": lambda image: oci_layout(image),
    "oci-uncompressed": lambda image: oci_layout(image, compression=None),
    "oci-zstd": lambda image: oci_layout(image, compression="zstd"),
    "docker-save-containerd": lambda image: containerd_save_layout(image),
    "docker-save-classic": lambda image: docker_save_layout(image),
}


def quiet(message: str) -> None:
    pass


def archive(tmp_path, layout: str, form: str, image=None):
    files = LAYOUTS[layout](image or hand_made(WASTE_LAYERS))
    if form == "tar":
        return write_tar(files, tmp_path / "image.tar")
    if form == "tar.gz":
        path = write_tar(files, tmp_path / "image.tar")
        gzipped = tmp_path / "image.tar.gz"
        gzipped.write_bytes(gzip.compress(path.read_bytes()))
        return gzipped
    return write_folder(files, tmp_path / "image")


@pytest.mark.parametrize("form", ["tar", "tar.gz", "folder"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_layout_and_form_gives_the_independent_count(tmp_path, layout, form):
    analysis = analyse(read_archive(archive(tmp_path, layout, form), "linux/amd64", quiet))
    assert analysis.wasted_bytes == WASTE_EXPECTED["wasted_bytes"]
    assert [row.wasted_bytes for row in analysis.layers] == WASTE_EXPECTED["per_layer_wasted"]
    assert analysis.size_bytes == WASTE_EXPECTED["size_bytes"]
    assert analysis.file_bytes == WASTE_EXPECTED["file_bytes"]
    assert [(r.files_added, r.files_changed, r.files_removed)
            for r in analysis.layers] == WASTE_EXPECTED["files"]
    assert analysis.image_id == hand_made(WASTE_LAYERS).config_digest
    assert analysis.compressed_stored is (layout not in ("oci-uncompressed",
                                                         "docker-save-classic"))
    assert [row.created_by for row in analysis.layers] == ["RUN step 0", "RUN step 1",
                                                          "RUN step 2"]


def test_a_file_in_three_layers_is_wasted_twice_and_counted_once_in_the_filesystem(tmp_path):
    """dive #684 counts all three copies."""
    analysis = analyse(read_archive(archive(tmp_path, "oci-gzip", "tar"), "linux/amd64", quiet))
    big = [w for w in analysis.top_waste if w.path == "big"]
    assert [(w.written_in, w.hidden_in, w.size_bytes) for w in big] == [(0, 1, 100_000),
                                                                      (1, 2, 100_000)]


def test_a_dangling_whiteout_changes_nothing(tmp_path):
    """dive #715 reads 0 waste after a whiteout of a path no layer has."""
    with_dangling = hand_made(WASTE_LAYERS)
    analysis = analyse(read_archive(archive(tmp_path, "oci-gzip", "tar", with_dangling),
                                    "linux/amd64", quiet))
    assert analysis.wasted_bytes == WASTE_EXPECTED["wasted_bytes"] > 0


def test_a_truncated_archive_is_named(tmp_path):
    path = archive(tmp_path, "docker-save-classic", "tar")
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    with pytest.raises(ImageReadError, match=r"image\.tar.*(truncated|incomplete)"):
        read_archive(path, "linux/amd64", quiet)


def test_a_blob_that_does_not_match_its_digest_is_named(tmp_path):
    folder = archive(tmp_path, "oci-gzip", "folder")
    image = hand_made(WASTE_LAYERS)
    layer_blob = next(p for p in (folder / "blobs" / "sha256").iterdir()
                      if p.read_bytes()[:2] == b"\x1f\x8b")
    layer_blob.write_bytes(gzip.compress(image.layers[0] + b"\0" * 512, mtime=0))
    with pytest.raises(ImageReadError, match="does not match its digest"):
        read_archive(folder, "linux/amd64", quiet)


def test_a_layer_that_is_not_the_configs_is_named(tmp_path):
    files = docker_save_layout(hand_made(WASTE_LAYERS))
    name = next(n for n in files if n.endswith("layer.tar"))
    files[name] = hand_made([[]]).layers[0]  # another, valid, layer
    with pytest.raises(ImageReadError, match="not the config's"):
        read_archive(write_tar(files, tmp_path / "x.tar"), "linux/amd64", quiet)


def test_a_manifest_of_an_unknown_media_type_is_named(tmp_path):
    files = oci_layout(hand_made(WASTE_LAYERS))
    index = json.loads(files["index.json"])
    index["mediaType"] = "application/vnd.example.thing+json"
    index.pop("manifests")
    files["index.json"] = json.dumps(index).encode()
    with pytest.raises(ImageReadError, match=r"vnd.example.thing.*not an image"):
        read_archive(write_tar(files, tmp_path / "x.tar"), "linux/amd64", quiet)


def test_the_platform_is_chosen_from_an_index_and_a_missing_one_is_named(tmp_path):
    path = archive(tmp_path, "oci-gzip", "tar")
    assert read_archive(path, "linux/amd64", quiet).platform == "linux/amd64"
    files = oci_layout(hand_made(WASTE_LAYERS))
    index = json.loads(files["index.json"])
    index["manifests"].append({**index["manifests"][0],
                               "platform": {"os": "linux", "architecture": "arm64"}})
    files["index.json"] = json.dumps(index).encode()
    two = write_tar(files, tmp_path / "two.tar")
    assert read_archive(two, "linux/arm64", quiet).platform == "linux/arm64"
    with pytest.raises(ImageReadError, match=r"no image for linux/s390x \(offered: "
                                             r"linux/amd64, linux/arm64\)"):
        read_archive(two, "linux/s390x", quiet)


def test_not_an_archive_and_a_missing_one_are_named(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ImageReadError, match="could not be read"):
        read_archive(text, "linux/amd64", quiet)
    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as tar:
        info = tarfile.TarInfo("README")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(ImageReadError, match=r"neither manifest.json .* nor index.json"):
        read_archive(plain, "linux/amd64", quiet)
    with pytest.raises(ImageReadError, match="no such archive"):
        read_archive(tmp_path / "missing.tar", "linux/amd64", quiet)


def test_an_archive_of_two_images_asks_for_one(tmp_path):
    files = docker_save_layout(hand_made(WASTE_LAYERS))
    entries = json.loads(files["manifest.json"])
    files["manifest.json"] = json.dumps([*entries, {**entries[0], "RepoTags": ["b:1"]}]).encode()
    with pytest.raises(ImageReadError, match=r"holds 2 images .*handmade:latest, b:1"):
        read_archive(write_tar(files, tmp_path / "x.tar"), "linux/amd64", quiet)


def test_registry_references():
    assert parse_registry_reference("127.0.0.1:5055/app:v1") == ("127.0.0.1:5055", "app", "v1")
    assert parse_registry_reference("localhost/team/app") == ("localhost", "team/app", "latest")
    assert parse_registry_reference("ghcr.io/o/app@sha256:ab") == ("ghcr.io", "o/app",
                                                                    "sha256:ab")
    with pytest.raises(ImageReadError, match="expected HOST"):
        parse_registry_reference("app:v1")


def test_the_host_platform_is_an_index_name():
    assert host_platform_name().startswith("linux/")


# -- harness run's reading: the engine's `docker save`, layers analysed before skipped -------

class SavingEngine:
    """An engine that answers inspect and `docker save` for one hand-made image, counting
    saves."""

    def __init__(self, image, files: dict[str, bytes]):
        self.api, self.saves, self.image = self, 0, image
        self.stream = io.BytesIO()
        with tarfile.open(fileobj=self.stream, mode="w") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))

    def inspect_image(self, reference):
        diff_ids = json.loads(self.image.config)["rootfs"]["diff_ids"]
        return {"Id": self.image.config_digest, "RootFS": {"Layers": diff_ids}}

    def get_image(self, image_id):
        self.saves += 1
        raw = self.stream.getvalue()
        return iter([raw[i:i + 7777] for i in range(0, len(raw), 7777)])  # as docker-py


STORES = {"classic": (docker_save_layout, False),
          "containerd": (containerd_save_layout, True)}


def counting_reads(monkeypatch) -> list[int]:
    """Each layer the analysis reads (not one the cache knows)."""
    reads = []
    analyse_blob = images_module.analyse_blob

    def counted(source, blob_bytes):
        reads.append(blob_bytes)
        return analyse_blob(source, blob_bytes)

    monkeypatch.setattr(images_module, "analyse_blob", counted)
    return reads


@pytest.mark.parametrize("store", sorted(STORES))
def test_run_reads_the_engine_like_analyse_and_a_second_time_from_its_cache(
        tmp_path, monkeypatch, store):
    layout, stored_blobs = STORES[store]
    image = hand_made(WASTE_LAYERS)
    engine = SavingEngine(image, layout(image))
    reads = counting_reads(monkeypatch)
    first = analyse_engine_image(engine, "img", stored_blobs=stored_blobs, cache_dir=tmp_path)
    assert (first.wasted_bytes, [r.wasted_bytes for r in first.layers]) == (
        WASTE_EXPECTED["wasted_bytes"], WASTE_EXPECTED["per_layer_wasted"])
    assert first.unpacked_bytes == WASTE_EXPECTED["size_bytes"]
    assert (engine.saves, len(reads)) == (1, 3)
    assert analyse_engine_image(engine, "img", stored_blobs=stored_blobs,
                                cache_dir=tmp_path) == first
    assert (engine.saves, len(reads)) == (1, 3)  # the process read it: not saved again
    images_module.READ_IMAGES.clear()  # another process: from the layer cache
    again = analyse_engine_image(engine, "img", stored_blobs=stored_blobs, cache_dir=tmp_path)
    assert again == first
    assert (engine.saves, len(reads)) == (1 + stored_blobs, 3)  # containerd: stored sizes
    assert again.compressed_stored is stored_blobs
    archived = analyse(read_archive(write_tar(layout(image), tmp_path / "image.tar"),
                                    "linux/amd64", quiet))
    assert [(r.diff_id, r.compressed_bytes, r.wasted_bytes) for r in archived.layers] == [
        (r.diff_id, r.compressed_bytes, r.wasted_bytes) for r in first.layers]


def test_an_image_read_once_is_analysed_again_with_its_history_and_no_save(tmp_path):
    """advise's analysis and image guard take the runner's read: in this process, or from
    the layer cache and the config kept beside it."""
    image = hand_made(WASTE_LAYERS)
    engine = SavingEngine(image, docker_save_layout(image))
    analyse_engine_image(engine, "img", cache_dir=tmp_path)
    read = engine_image(engine, "img", cache_dir=tmp_path)
    images_module.READ_IMAGES.clear()
    cached = engine_image(engine, "img", cache_dir=tmp_path)
    assert engine.saves == 1
    assert (cached.config, cached.layers) == (read.config, read.layers)
    assert cached.config == json.loads(image.config)
    assert analyse(cached) == analyse(read)


def test_an_image_is_known_by_the_engines_id_which_on_containerd_is_not_the_configs(tmp_path):
    """The containerd store's ID is its manifest's digest: the read and its kept config go by
    that ID, so the runner's history and the cache find them."""
    image = hand_made(WASTE_LAYERS)
    engine = SavingEngine(image, docker_save_layout(image))
    manifest_id = "sha256:" + "ab" * 32
    engine.inspect_image = lambda reference: {**SavingEngine.inspect_image(engine, reference),
                                              "Id": manifest_id}
    assert analyse_engine_image(engine, "img", cache_dir=tmp_path).image_id == manifest_id
    images_module.READ_IMAGES.clear()
    again = engine_image(engine, "img", cache_dir=tmp_path)
    assert (again.image_id, again.config, engine.saves) == (manifest_id, json.loads(image.config),
                                                           1)


def test_a_classic_layer_the_cache_knows_is_skipped_by_its_size(tmp_path, monkeypatch):
    shared = [Member("a", size=3000)]
    first = hand_made([shared])
    analyse_engine_image(SavingEngine(first, docker_save_layout(first)), "a",
                         cache_dir=tmp_path)
    second = hand_made([shared, [Member("b", size=15000)]])
    engine = SavingEngine(second, docker_save_layout(second))
    reads = counting_reads(monkeypatch)
    result = analyse_engine_image(engine, "b", cache_dir=tmp_path)
    assert (engine.saves, reads) == (1, [len(second.layers[1])])
    assert result.unpacked_bytes == 18000


def test_a_wrong_guess_by_size_reads_the_save_again_in_full(tmp_path, monkeypatch):
    cached = hand_made([[Member("a", size=3000, fill=b"a")]])
    analyse_engine_image(SavingEngine(cached, docker_save_layout(cached)), "a",
                         cache_dir=tmp_path)
    # a layer of the same tar size as the cached one, which this image also holds
    image = hand_made([[Member("a", size=3000, fill=b"b")],
                       [Member("a", size=3000, fill=b"a")]])
    assert len(image.layers[0]) == len(cached.layers[0])
    engine = SavingEngine(image, docker_save_layout(image))
    reads = counting_reads(monkeypatch)
    result = analyse_engine_image(engine, "b", cache_dir=tmp_path)
    assert engine.saves == 2
    assert len(reads) == 2  # the first pass took both for the cached layer; the second read them
    assert [r.diff_id for r in result.layers] == json.loads(image.config)["rootfs"]["diff_ids"]
    assert [r.wasted_bytes for r in result.layers] == [3000, 0]


def test_a_compressed_blob_seen_before_is_not_decompressed_and_keeps_its_stored_size(
        tmp_path, monkeypatch):
    image = hand_made([[Member("a", size=3000)], [Member("b", size=15000)]])
    for compression in ("gzip", "zstd"):
        files = containerd_save_layout(image, compression=compression)
        first = analyse_engine_image(SavingEngine(image, files), "img", stored_blobs=True,
                                     cache_dir=tmp_path / compression)
        monkeypatch.setattr(images_module, "analyse_blob", None)  # any read would fail
        again = analyse_engine_image(SavingEngine(image, files), "img", stored_blobs=True,
                                     cache_dir=tmp_path / compression)
        monkeypatch.undo()
        blobs = [len(b) for n, b in files.items() if n.startswith("blobs/") and b[:1] != b"{"]
        assert sorted(r.compressed_bytes for r in again.layers) == sorted(blobs)
        assert again == first


def test_the_engines_errors_are_named(tmp_path):
    image = hand_made(WASTE_LAYERS)
    files = docker_save_layout(image)
    files[next(n for n in files if n.endswith("layer.tar"))] = b"\0" * 1024  # an empty tar
    with pytest.raises(ImageReadError, match=r"layer \d's content hashes to"):
        analyse_engine_image(SavingEngine(image, files), "img", cache_dir=tmp_path)

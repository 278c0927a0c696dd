"""Images made by hand from layer tars, in the layouts harness reads: a `docker save` archive
(classic layout) and an OCI image layout, each as a tar or a folder; and pushed to a registry
through its HTTP API. No engine is needed to make them.

WASTE_CASES is one image holding every case dive gets wrong, with its waste counted here by
hand, independently of harness's code.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import zstandard

BIG = 100_000
"""The file written in three layers."""


@dataclass(frozen=True)
class Member:
    name: str
    kind: str = "file"  # file, dir, link (hard), symlink
    size: int = 0
    target: str = ""
    mode: int = 0o644
    fill: bytes = b"x"


def layer_tar(members: list[Member]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            info = tarfile.TarInfo(member.name)
            info.mode = member.mode
            info.mtime = 0
            if member.kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            elif member.kind == "link":
                info.type, info.linkname = tarfile.LNKTYPE, member.target
                tar.addfile(info)
            elif member.kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, member.target
                tar.addfile(info)
            else:
                info.size = member.size
                tar.addfile(info, io.BytesIO((member.fill * member.size)[:member.size]))
    return buffer.getvalue()


WASTE_LAYERS = [
    [Member("big", size=BIG, fill=b"a"), Member("d", "dir"), Member("d/x", size=3000),
     Member("d/y", size=2000), Member("hl_a", size=5000, fill=b"h"),
     Member("hl_b", "link", target="hl_a"), Member("hl_c", size=700, fill=b"c"),
     Member("hl_d", "link", target="hl_c"), Member("s", "symlink", target="big"),
     Member("keep", size=1234)],
    # big again; a whiteout of a path no layer has (dive #715); the directory d replaced by a
    # file; one of hl_c's two names deleted (the other keeps its bytes)
    [Member("big", size=BIG, fill=b"b"), Member(".wh.nothere", size=0),
     Member("d", size=10, fill=b"f"), Member(".wh.hl_d", size=0)],
    # big a third time (dive #684 counts all three copies); both names of hl_a deleted
    [Member("big", size=BIG, fill=b"c", mode=0o755), Member(".wh.hl_a", size=0),
     Member(".wh.hl_b", size=0)],
]
WASTE_EXPECTED = {
    # two superseded copies of big; d/x and d/y under the replaced directory; hl_a's bytes
    # once (two names); hl_c's bytes stay (hl_c remains)
    "wasted_bytes": 2 * BIG + 3000 + 2000 + 5000,
    "per_layer_wasted": [BIG + 3000 + 2000 + 5000, BIG, 0],
    # files' bytes (hard links once) plus the symlink's 3-byte target, per layer
    "size_bytes": (BIG + 3000 + 2000 + 5000 + 700 + 1234 + 3) + (BIG + 10) + BIG,
    "file_bytes": (BIG + 3000 + 2000 + 5000 + 700 + 1234) + (BIG + 10) + BIG,
    "layers": 3,
    # layer 0 adds 9 non-directories; layer 1 changes big and d (d was a directory), removes
    # d/x, d/y and hl_d; layer 2 changes big, removes hl_a and hl_b
    "files": [(9, 0, 0), (0, 2, 3), (0, 1, 2)],
}


@dataclass(frozen=True)
class HandMadeImage:
    layers: list[bytes]
    config: bytes

    @property
    def config_digest(self) -> str:
        return _digest(self.config)


def hand_made(layers: list[list[Member]], history: list[str] | None = None) -> HandMadeImage:
    tars = [layer_tar(members) for members in layers]
    history = history or [f"RUN step {i}" for i in range(len(tars))]
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/big"]},
        "rootfs": {"type": "layers", "diff_ids": [_digest(t) for t in tars]},
        "history": [{"created_by": "ENV A=1", "empty_layer": True}]
        + [{"created_by": text} for text in history],
    }).encode()
    return HandMadeImage(tars, config)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


COMPRESSORS = {"gzip": lambda tar: gzip.compress(tar, mtime=0),
               "zstd": lambda tar: zstandard.ZstdCompressor(level=3).compress(tar),
               None: lambda tar: tar}


def oci_blobs(image: HandMadeImage, *, compression: str | None = "gzip"
              ) -> tuple[bytes, dict[str, bytes]]:
    """The image manifest and every blob (config and layers) by digest."""
    blobs = {image.config_digest: image.config}
    descriptors = []
    for tar in image.layers:
        blob = COMPRESSORS[compression](tar)
        blobs[_digest(blob)] = blob
        descriptors.append({"mediaType": "application/vnd.oci.image.layer.v1.tar"
                            + (f"+{compression}" if compression else ""), "digest": _digest(blob),
                            "size": len(blob)})
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": image.config_digest, "size": len(image.config)},
        "layers": descriptors}).encode()
    return manifest, blobs


def oci_layout(image: HandMadeImage, *, compression: str | None = "gzip") -> dict[str, bytes]:
    """An OCI image layout's files by path, with an index naming linux/amd64."""
    manifest, blobs = oci_blobs(image, compression=compression)
    blobs[_digest(manifest)] = manifest
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "digest": _digest(manifest), "size": len(manifest),
                            "platform": {"os": "linux", "architecture": "amd64"}}]}
    files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
             "index.json": json.dumps(index).encode()}
    files.update({f"blobs/sha256/{d.split(':')[1]}": b for d, b in blobs.items()})
    return files


def containerd_save_layout(image: HandMadeImage, *, compression: str | None = "gzip",
                           tag: str = "handmade:latest") -> dict[str, bytes]:
    """`docker save` from the containerd image store (Docker 26's): an OCI image layout with a
    manifest.json that names its blobs."""
    files = oci_layout(image, compression=compression)
    manifest, _ = oci_blobs(image, compression=compression)
    files["manifest.json"] = json.dumps([{
        "Config": _blob_name(image.config_digest), "RepoTags": [tag],
        "Layers": [_blob_name(layer["digest"]) for layer in json.loads(manifest)["layers"]],
    }]).encode()
    return files


def _blob_name(digest: str) -> str:
    return "blobs/sha256/" + digest.split(":")[1]


def docker_save_layout(image: HandMadeImage, tag: str = "handmade:latest") -> dict[str, bytes]:
    """`docker save`'s classic layout (Docker 20.10's): ID/layer.tar, ID.json, manifest.json."""
    files = {}
    names = []
    for index, tar in enumerate(image.layers):
        folder = hashlib.sha256(f"{index}{_digest(tar)}".encode()).hexdigest()
        files[f"{folder}/VERSION"] = b"1.0"
        files[f"{folder}/json"] = json.dumps({"id": folder}).encode()
        files[f"{folder}/layer.tar"] = tar
        names.append(f"{folder}/layer.tar")
    config_name = image.config_digest.split(":")[1] + ".json"
    files[config_name] = image.config
    files["manifest.json"] = json.dumps([{"Config": config_name, "RepoTags": [tag],
                                          "Layers": names}]).encode()
    return files


def write_tar(files: dict[str, bytes], path: Path) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def write_folder(files: dict[str, bytes], folder: Path) -> Path:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def push(image: HandMadeImage, address: str, repository: str, tag: str) -> None:
    """Push through the registry's HTTP API (no engine)."""
    from dxf import DXF

    manifest, blobs = oci_blobs(image)
    registry = DXF(address, repository, insecure=True)
    for digest, data in blobs.items():
        registry.push_blob(data=iter([data]), digest=digest)
    registry.set_manifest(tag, manifest.decode())

"""Layer analysis: compressed size, bytes each layer adds, and bytes wasted by later layers.

A layer is read as a stream (harness.images finds it in a `docker save` stream, an archive or
a registry) and never unpacked; a gzip or zstd blob is decompressed on the fly, and the
SHA-256 of what comes out is its diff ID. `harness run` caches each layer's facts on disk by
diff ID (compressed blobs also by blob digest), so layers shared between variants and runs are
analysed once.

Unpacked size (`unpacked_bytes`, the sample's `size_bytes`): per layer, the sizes of its
regular files (hard links once) plus its symlinks' target lengths; the image's is the sum
over its layers. This is how overlay2 sizes a layer (`directory.Size`: every non-directory
entry's Lstat size, each inode once). On the classic store that is `docker image inspect`'s
`.Size` for layers the legacy builder commits and for imported ones; for layers BuildKit
exports, `.Size` leaves out the symlink target bytes (measured: a 22-byte symlink and a
1,000-byte file count 1,022 bytes built by legacy, 1,000 by BuildKit). On the containerd
store `.Size` is the compressed content; this figure means the same on both stores.

Compressed size: where the store holds the layer compressed (containerd store), the stored
blob's size (`compressed_stored`). Otherwise an estimate: gzip level 6 (what `docker push`
compresses with), computed on 1 MiB blocks compressed independently on all cores, like
pigz; within 0.1 % of single-stream gzip -6.

Wasted bytes: regular-file bytes in the image's layers that are not in its final
filesystem, because a later layer deleted them (`.wh.NAME`, opaque `.wh..wh..opq`
directories) or replaced the path. Each superseded copy counts once; the surviving copy
never counts; hard-linked files count once.
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import json
import os
import posixpath
import re
import tarfile
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, Any, cast

import zstandard

from harness import cache_home
from harness.model import ImageLayers, LayerRow, Waste

GZIP_LEVEL = 6
BLOCK_BYTES = 1 << 20
GZIP_OVERHEAD = 18
"""gzip's 10-byte header (no file name) and 8-byte trailer; each block's zlib wrapper is
taken off in _deflated_size. A layer of one block then estimates to the byte what Python's
`gzip.compress(tar, 6)` gives (zlib's deflate, as `gzip -6 -n` for small inputs)."""
IN_FLIGHT_BLOCKS = 2 * (os.cpu_count() or 2)
"""Compression blocks queued or running at once: bounds memory (1 MiB each) whatever the
layer's size, while keeping every core busy."""
HEADER_READ_BYTES = 64 << 10
"""How much a layer tar stream reads ahead: tarfile copies what is left of it at every
member header, so a small buffer keeps headers cheap (big reads of file data go through)."""
READ_BYTES = 1 << 20
"""How much a tar stream reads at a time (tarfile's default, 10 KiB, costs a Python call per
10 KiB of a layer)."""
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
TOP_WASTE = 10
CACHE_FORMAT = 6
DPKG_RECORDS = re.compile(r"var/lib/dpkg/(status|info/[^/]+\.list)")
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One tar entry of a layer, as the waste computation needs it."""

    path: str
    kind: str
    """file, link (hard link to `target`), symlink, dir, whiteout, opaque, or other."""
    size: int = 0
    """A file's size; a symlink's target length (what overlay2 counts for it)."""
    target: str = ""
    mode: int = 0
    """Permission bits (with setuid, setgid and sticky; some tar writers add the file type's
    bits, which are left out), for harness diff."""
    uid: int = 0
    gid: int = 0
    digest: str = ""
    """A regular file's content, SHA-256 in hex (the image guard compares it)."""
    text: str = ""
    """The content of dpkg's records (var/lib/dpkg/status, info/PKG.list): which packages an
    image holds and their files, for the image guard."""


@dataclass(frozen=True, kw_only=True)
class LayerFacts:
    """What one layer is on its own (independent of the image it is in)."""

    diff_id: str
    tar_bytes: int
    compressed_bytes: int
    added_bytes: int
    """Bytes of regular files the layer adds or replaces (hard links once)."""
    unpacked_bytes: int
    """added_bytes plus symlink target lengths: the layer's size as overlay2 counts it."""
    compressed_stored: bool = False
    """compressed_bytes is the stored blob's size, not the gzip -6 estimate."""
    entries: list[Entry]


def default_cache_dir() -> Path:
    return cache_home() / "layers"


def image_layers(image_id: str, layers: list[LayerFacts], top: int = TOP_WASTE) -> ImageLayers:
    waste = wasted(layers)
    per_layer = [0] * len(layers)
    for item in waste:
        per_layer[item.added_in] += item.size_bytes
    rows = [LayerRow(index=i, diff_id=layer.diff_id, tar_bytes=layer.tar_bytes,
                     compressed_bytes=layer.compressed_bytes,
                     compressed_stored=layer.compressed_stored, added_bytes=layer.added_bytes,
                     unpacked_bytes=layer.unpacked_bytes, wasted_bytes=per_layer[i])
            for i, layer in enumerate(layers)]
    return ImageLayers(
        image_id=image_id, unpacked_bytes=sum(r.unpacked_bytes for r in rows),
        compressed_bytes=sum(r.compressed_bytes for r in rows),
        compressed_stored=bool(rows) and all(r.compressed_stored for r in rows),
        wasted_bytes=sum(per_layer), layers=rows,
        top_waste=sorted(waste, key=lambda w: (-w.size_bytes, w.path))[:top])


def wasted(layers: list[LayerFacts]) -> list[Waste]:
    """Every superseded copy of a file: which layer added it and which removed it."""
    live: dict[str, tuple[int, Content]] = {}  # visible path -> (layer it came in, content)
    waste: list[Waste] = []

    def drop(path: str, index: int, how: str) -> None:
        content = live.pop(path)[1]
        content.paths -= 1
        if content.paths == 0:  # its last hard link is gone too
            waste.append(Waste(path=content.path, size_bytes=content.size,
                               added_in=content.layer, removed_in=index, how=how))

    for index, layer in enumerate(layers):
        hidden = [e for e in layer.entries if e.kind in ("whiteout", "opaque")]
        if hidden:  # whiteouts hide what lower layers put there, not this layer's files
            lower = sorted(p for p, (added, _) in live.items() if added < index)
            for entry in hidden:
                for path in _under(lower, entry.path, itself=entry.kind == "whiteout"):
                    if path in live:
                        drop(path, index, "deleted")
        replaced_dirs = [e for e in layer.entries if e.kind not in ("whiteout", "opaque", "dir")]
        if replaced_dirs:  # a file or link where a lower layer had a directory hides its tree
            lower = sorted(p for p, (added, _) in live.items() if added < index)
            for entry in replaced_dirs:
                for path in _under(lower, entry.path, itself=False):
                    if path in live:
                        drop(path, index, "replaced")
        for entry in layer.entries:
            if entry.kind in ("whiteout", "opaque"):
                continue
            if entry.path in live and live[entry.path][0] < index:
                drop(entry.path, index, "replaced")
            if entry.kind == "file":
                live[entry.path] = (index, Content(path=entry.path, size=entry.size,
                                                   layer=index))
            elif entry.kind == "link" and entry.target in live:
                content = live[entry.target][1]
                content.paths += 1
                live[entry.path] = (index, content)
    return waste


@dataclass(frozen=True, kw_only=True)
class FileChanges:
    """What one layer did to the files (anything but directories) below it."""

    added: int
    changed: int
    """Paths a lower layer had, written again (content, mode or kind)."""
    removed: int
    """Paths a lower layer had that this layer hid (whiteouts, opaque or replaced directories)."""


def file_changes(layers: list[LayerFacts]) -> tuple[list[FileChanges], dict[str, Entry]]:
    """Each layer's added, changed and removed files, and the final filesystem's files (what
    `docker run` sees; a hard link has no bytes of its own, as in the image's size)."""
    visible: dict[str, Entry] = {}
    directories: set[str] = set()
    changes = []
    for layer in layers:
        lower, lower_directories = sorted(visible), sorted(directories)
        hidden: set[str] = set()
        replaced: set[str] = set()  # directories a file or link of this layer takes the place of
        for entry in layer.entries:
            if entry.kind in ("whiteout", "opaque"):
                itself = entry.kind == "whiteout"
                hidden.update(_under(lower, entry.path, itself=itself))
                directories.difference_update(_under(lower_directories, entry.path,
                                                     itself=itself))
            elif entry.kind != "dir":
                hidden.update(_under(lower, entry.path, itself=False))
                gone = _under(lower_directories, entry.path, itself=True)
                replaced.update(p for p in gone if p == entry.path)
                directories.difference_update(gone)
        for path in hidden:
            del visible[path]
        added = changed = 0
        for entry in layer.entries:
            if entry.kind == "dir":
                directories.add(entry.path)
                continue
            if entry.kind in ("whiteout", "opaque"):
                continue
            if entry.path in visible or entry.path in hidden or entry.path in replaced:
                changed += 1
                hidden.discard(entry.path)
            else:
                added += 1
            visible[entry.path] = entry
        changes.append(FileChanges(added=added, changed=changed, removed=len(hidden)))
    return changes, visible


def final_tree(layers: list[LayerFacts]) -> dict[str, Entry]:
    """Every path of the final filesystem, directories too (what `docker run` sees): for the
    image guard, which compares two images path by path."""
    visible: dict[str, Entry] = {}
    for layer in layers:
        lower = sorted(visible)
        for entry in layer.entries:
            if entry.kind != "dir":  # a whiteout, an opaque folder, or a file over a folder
                itself = entry.kind == "whiteout"
                for path in _under(lower, entry.path, itself=itself):
                    visible.pop(path, None)
        visible.update((e.path, e) for e in layer.entries
                       if e.kind not in ("whiteout", "opaque") and e.path)
    return visible


@dataclass(kw_only=True)
class Content:
    """One regular file's bytes, shared by its hard links."""

    path: str
    size: int
    layer: int
    paths: int = 1


def _under(sorted_paths: list[str], path: str, *, itself: bool) -> list[str]:
    """The paths below `path` (and `path` itself if asked), found by bisection."""
    prefix = path + "/" if path else ""
    start = bisect.bisect_left(sorted_paths, prefix)
    found = []
    for candidate in sorted_paths[start:]:
        if not candidate.startswith(prefix):
            break
        found.append(candidate)
    if itself and path in sorted_paths[bisect.bisect_left(sorted_paths, path):][:1]:
        found.append(path)
    return found


def analyse_layer(source: IO[bytes], stored_bytes: int | None = None, *,
                  in_place: bool = False) -> LayerFacts:
    """Hash and list one uncompressed layer tarball; compress it (in parallel blocks) for the
    estimate unless the store's compressed blob size, `stored_bytes`, is known. `in_place`:
    the source is a file at its start, read once for the bytes and then for its headers by
    offset (cheaper than a tar stream, which copies every byte it skips)."""
    tee = _Tee(source, compress=stored_bytes is None)
    entries: list[Entry] = []
    if in_place:
        tee.drain()
        source.seek(0)
        with tarfile.open(fileobj=source, mode="r:") as layer:
            entries = [_entry(member, layer) for member in layer]
    else:
        with tarfile.open(fileobj=cast(IO[bytes], tee), mode="r|",
                          bufsize=HEADER_READ_BYTES) as layer:
            for member in layer:
                entries.append(_entry(member, layer))
        tee.drain()
    added = sum(e.size for e in entries if e.kind == "file")
    return LayerFacts(
        diff_id="sha256:" + tee.sha256.hexdigest(), tar_bytes=tee.total,
        compressed_bytes=tee.compressed_bytes() if stored_bytes is None else stored_bytes,
        compressed_stored=stored_bytes is not None, entries=entries, added_bytes=added,
        unpacked_bytes=added + sum(e.size for e in entries if e.kind == "symlink"))


def rewound(source: IO[bytes]) -> bool:
    """Back at its start, where the source is a file that can seek (a file, a member of a tar
    file); never a decompressing stream."""
    if isinstance(source, (gzip.GzipFile, Prefixed)):
        return False
    try:
        if source.seekable():
            source.seek(0)
            return True
    except (AttributeError, OSError, ValueError):
        pass
    return False


def analyse_blob(source: IO[bytes], blob_bytes: int) -> LayerFacts:
    """A layer blob of any kind a store or registry keeps (gzip, zstd or a plain tar), told
    apart by its first bytes; a compressed blob's own size is its stored compressed size."""
    head = source.read(4)
    if head.startswith(GZIP_MAGIC) or head == ZSTD_MAGIC:
        return analyse_layer(_decompressed(head, source), blob_bytes)
    if rewound(source):
        return analyse_layer(source, in_place=True)
    return analyse_layer(cast(IO[bytes], Prefixed(head, source)))


def _entry(member: tarfile.TarInfo, layer: tarfile.TarFile) -> Entry:
    path = _clean(member.name)
    directory, base = posixpath.split(path)
    if base == OPAQUE:
        return Entry(path=directory, kind="opaque")
    if base.startswith(WHITEOUT):
        return Entry(path=posixpath.join(directory, base[len(WHITEOUT):]), kind="whiteout")
    mode, uid, gid = member.mode & 0o7777, member.uid, member.gid
    if member.isfile():
        digest, text = _content(layer.extractfile(member), DPKG_RECORDS.fullmatch(path))
        return Entry(path=path, kind="file", size=member.size, digest=digest, text=text,
                     mode=mode, uid=uid, gid=gid)
    if member.islnk():
        return Entry(path=path, kind="link", target=_clean(member.linkname), mode=mode,
                     uid=uid, gid=gid)
    if member.issym():
        return Entry(path=path, kind="symlink", size=len(os.fsencode(member.linkname)),
                     target=member.linkname, uid=uid, gid=gid)
    return Entry(path=path, kind="dir" if member.isdir() else "other", mode=mode, uid=uid,
                 gid=gid)


def _content(data: IO[bytes] | None, keep: object) -> tuple[str, str]:
    """A file's SHA-256, and its text where `keep`."""
    digest, kept = hashlib.sha256(), []
    while data is not None and (chunk := data.read(READ_BYTES)):
        digest.update(chunk)
        if keep:
            kept.append(chunk)
    return digest.hexdigest(), b"".join(kept).decode(errors="replace")


def _clean(name: str) -> str:
    """A tar member name as a path relative to the image root (`./etc/x`, `/etc/x` -> etc/x)."""
    return posixpath.normpath("/" + name).lstrip("/")


class LayerCache:
    """Analysed layers by diff ID, one JSON file each."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, diff_id: str) -> Path:
        return self.directory / f"{diff_id.replace(':', '-')}.json"

    def get(self, diff_id: str) -> LayerFacts | None:
        try:
            document = json.loads(self._path(diff_id).read_text())
        except (OSError, ValueError):
            return None
        if document.get("format") != CACHE_FORMAT:
            return None
        return LayerFacts(**{**document["layer"], "entries": [
            Entry(**e) for e in document["layer"]["entries"]]})

    def config(self, image_id: str) -> dict[str, Any] | None:
        """The config of an image read before (its history says which step made each layer)."""
        try:
            document = json.loads(self._path(image_id).with_suffix(".config").read_text())
        except (OSError, ValueError):
            return None
        return document if isinstance(document, dict) else None

    def put_config(self, image_id: str, config: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._write(self._path(image_id).with_suffix(".config"), json.dumps(config))

    def alias(self, blob_digest: str) -> str | None:
        """The diff ID of a compressed blob analysed before."""
        try:
            return self._path(blob_digest).with_suffix(".diffid").read_text().strip() or None
        except OSError:
            return None

    def put(self, layer: LayerFacts, blob_digest: str | None = None) -> None:
        """Cache the layer, and the compressed blob digest it came from."""
        self.directory.mkdir(parents=True, exist_ok=True)
        document = {f.name: getattr(layer, f.name) for f in fields(layer)}
        document["entries"] = [vars(e) for e in layer.entries]  # flat: asdict deep-copies
        self._write(self._path(layer.diff_id),
                    json.dumps({"format": CACHE_FORMAT, "layer": document}))
        if blob_digest is not None:
            self._write(self._path(blob_digest).with_suffix(".diffid"), layer.diff_id)

    def _write(self, path: Path, text: str) -> None:
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(text)
        os.replace(temporary, path)


class _Tee:
    """Reads a layer once for three consumers: tar listing, SHA-256 and block compression."""

    _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2,
                               thread_name_prefix="harness-gzip")

    def __init__(self, source: IO[bytes], *, compress: bool = True) -> None:
        self.source = source
        self.compress = compress
        self.sha256 = hashlib.sha256()
        self.total = 0
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.in_flight: deque[Future[int]] = deque()
        self.deflated = 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.sha256.update(data)
        self.total += len(data)
        if not self.compress:
            return data
        self.pending.append(data)
        self.pending_bytes += len(data)
        if self.pending_bytes >= BLOCK_BYTES:  # whole blocks out, each byte copied once
            joined = b"".join(self.pending)
            whole = len(joined) - len(joined) % BLOCK_BYTES
            view = memoryview(joined)
            for start in range(0, whole, BLOCK_BYTES):
                self._submit(view[start:start + BLOCK_BYTES])
            rest = joined[whole:]
            self.pending, self.pending_bytes = ([rest] if rest else []), len(rest)
        return data

    def drain(self) -> None:
        # whole blocks where compressing, so each block is one read's bytes, never joined
        while self.read(BLOCK_BYTES - self.pending_bytes if self.compress else READ_BYTES):
            pass
        if self.pending:
            self._submit(b"".join(self.pending))
            self.pending, self.pending_bytes = [], 0

    def _submit(self, block: bytes | memoryview) -> None:
        if len(self.in_flight) >= IN_FLIGHT_BLOCKS:
            self.deflated += self.in_flight.popleft().result()
        self.in_flight.append(self._pool.submit(_deflated_size, block))

    def compressed_bytes(self) -> int:
        while self.in_flight:
            self.deflated += self.in_flight.popleft().result()
        return GZIP_OVERHEAD + self.deflated


class Prefixed:
    """`source` with `head`, the bytes already read from it, put back in front."""

    def __init__(self, head: bytes, source: IO[bytes]) -> None:
        self.head, self.source = head, source

    def read(self, size: int = -1) -> bytes:
        if not self.head:
            return self.source.read(size)
        if size < 0:
            data, self.head = self.head + self.source.read(), b""
            return data
        data, self.head = self.head[:size], self.head[size:]
        return data + (self.source.read(size - len(data)) if len(data) < size else b"")


def _decompressed(head: bytes, source: IO[bytes]) -> IO[bytes]:
    """A gzip or zstd blob (told apart by `head`, its first bytes, already read) as the
    uncompressed layer tar, read in bounded pieces."""
    prefixed = cast(IO[bytes], Prefixed(head, source))
    if head.startswith(GZIP_MAGIC):
        return cast(IO[bytes], gzip.GzipFile(fileobj=prefixed, mode="rb"))
    return cast(IO[bytes], zstandard.ZstdDecompressor().stream_reader(
        prefixed, read_across_frames=True))


DEFLATED_BLOCKS: dict[bytes, int] = {}
"""Each block's deflate size by the block's SHA-256, for this process. The variants of one
Dockerfile write mostly the same bytes in the same order (the same packages' files), so most
of a variant's blocks were compressed for an earlier variant; the figure is the same."""


def _deflated_size(block: bytes | memoryview) -> int:
    """Deflate size of one block at the gzip level (zlib's 6-byte wrapper not counted),
    compressed only the first time this process sees the block."""
    key = hashlib.sha256(block).digest()
    size = DEFLATED_BLOCKS.get(key)
    if size is None:
        size = DEFLATED_BLOCKS[key] = len(zlib.compress(block, GZIP_LEVEL)) - 6
    return size

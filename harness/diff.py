"""`harness diff A B`: why one image is bigger than another, file by file.

Each side's bytes are its final filesystem's plus the copies its later layers hid (still
shipped in the layers, so still in its size). B's bigger side is then the files it adds or
grows, and the copies it wastes; the file deltas sum to the difference of the two sizes
(symlinks that replace each other aside, which the size counts and waste does not).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.analyse import layer_history
from harness.images import ReadImage
from harness.layers import Entry, LayerCache, default_cache_dir, file_changes, wasted
from harness.model import FileDelta, ImageDiff


def image_diff(a: ReadImage, b: ReadImage) -> ImageDiff:
    a_files, b_files = _final(a), _final(b)
    files: list[FileDelta] = []
    for path in sorted(a_files.keys() | b_files.keys()):
        old, new = a_files.get(path), b_files.get(path)
        if old is None and new is not None:
            files.append(FileDelta(path=path, change="added", delta_bytes=new.size,
                                   detail=_describe(new)))
        elif new is None and old is not None:
            files.append(FileDelta(path=path, change="removed", delta_bytes=-old.size,
                                   detail=_describe(old)))
        elif old is not None and new is not None and (
                old.size, old.mode, old.kind, old.target) != (new.size, new.mode, new.kind,
                                                              new.target):
            files.append(FileDelta(path=path, change="changed", delta_bytes=new.size - old.size,
                                   detail=f"{_describe(old)} -> {_describe(new)}"))
    for side, image, sign in (("A", a, -1), ("B", b, 1)):
        history = layer_history(image.config, len(image.layers))
        for item in wasted(image.layers):
            files.append(FileDelta(
                path=item.path, change=f"wasted in {side}", delta_bytes=sign * item.size_bytes,
                detail=f"written by {_layer(item.added_in, history)}, {item.how} by "
                       f"{_layer(item.removed_in, history)}"))
    direction = 1 if _size(b) >= _size(a) else -1
    files.sort(key=lambda f: (-direction * f.delta_bytes, f.path))  # what explains it first
    by_directory: dict[str, int] = defaultdict(int)
    for delta in files:
        by_directory["/" + delta.path.split("/", 1)[0]] += delta.delta_bytes
    a_size, b_size = _size(a), _size(b)
    return ImageDiff(a=a.reference, b=b.reference, a_size_bytes=a_size, b_size_bytes=b_size,
                     why=_why(a_size, b_size, files), files=files,
                     by_directory=dict(sorted(by_directory.items(), key=lambda kv: -kv[1])),
                     a_only_layers=_only(a, b), b_only_layers=_only(b, a))


def _final(image: ReadImage) -> dict[str, Entry]:
    return file_changes(image.layers)[1]


def _size(image: ReadImage) -> int:
    return sum(layer.unpacked_bytes for layer in image.layers)


def _only(image: ReadImage, other: ReadImage) -> list[str]:
    theirs = {layer.diff_id for layer in other.layers}
    history = layer_history(image.config, len(image.layers))
    return [f"layer {i}: {_short(history[i]) or layer.diff_id[:19]}"
            for i, layer in enumerate(image.layers) if layer.diff_id not in theirs]


def _why(a_size: int, b_size: int, files: list[FileDelta]) -> str:
    difference = b_size - a_size
    if difference == 0:
        return "B is the same size as A"
    bigger = [f for f in files if (f.delta_bytes > 0) == (difference > 0) and f.delta_bytes]
    by_change: dict[str, int] = defaultdict(int)
    for delta in bigger:
        by_change[delta.change] += delta.delta_bytes
    parts = ", ".join(f"{_mb(abs(v))} {k}" for k, v in
                      sorted(by_change.items(), key=lambda kv: -abs(kv[1])))
    top = bigger[0]  # sorted so that what explains the difference comes first
    return (f"B is {_mb(abs(difference))} {'bigger' if difference > 0 else 'smaller'} than A: "
            f"{parts}; most of all /{top.path} ({top.change}, {_mb(abs(top.delta_bytes))})")


def _describe(entry: Entry) -> str:
    kind = {"file": "file", "link": "hard link", "symlink": "symlink"}.get(entry.kind, entry.kind)
    return f"{kind} {entry.size:,} B mode {entry.mode:o}" if entry.kind != "symlink" \
        else f"symlink -> {entry.target}"


def _layer(index: int, history: list[str]) -> str:
    return f"layer {index}" + (f" ({_short(history[index])})" if history[index] else "")


def _short(created_by: str) -> str:
    text = " ".join(created_by.split())
    return text if len(text) <= 60 else text[:57] + "..."


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size:,} B"


def baseline_diffs(document: dict[str, Any], cache_dir: Path | None = None
                   ) -> dict[tuple[str, str, str], ImageDiff]:
    """Each variant's image against its scenario's baseline, per builder, from a run's image
    records and the layers this machine analysed (none where the cache lacks a layer: a run
    made elsewhere)."""
    cache = LayerCache(cache_dir or default_cache_dir())
    baselines = {s["name"]: s["baseline"] for s in document["scenarios"]}
    read = {(r["scenario"], r["variant"], r["builder"]): _from_record(r, cache)
            for r in document.get("images", [])}
    diffs = {}
    for (scenario, variant, builder), image in read.items():
        baseline = read.get((scenario, baselines.get(scenario, ""), builder))
        if image and baseline and variant != baselines[scenario]:
            diffs[(scenario, variant, builder)] = image_diff(baseline, image)
    return diffs


def _from_record(record: dict[str, Any], cache: LayerCache) -> ReadImage | None:
    layers = [cache.get(row["diff_id"]) for row in record["layers"]["layers"]]
    if any(layer is None for layer in layers):
        return None
    made = [h for h in record.get("history") or [] if h["size_bytes"] > 0]
    history = made if len(made) == len(layers) else []  # a layer of 0 bytes: no telling
    return ReadImage(reference=f"{record['variant']} ({record['builder']})", source="engine",
                     platform="", image_id=record["image_id"],
                     config={"history": [{"created_by": h["created_by"]} for h in history]},
                     layers=[layer for layer in layers if layer is not None])

"""Each piece's row: its verdict from the checks, the image guard and the measured sizes,
and its build times as ratios to the original's."""

from __future__ import annotations

import statistics
from dataclasses import replace
from typing import TYPE_CHECKING

from harness.advice import cache_mount
from harness.advice.cache import PIECE as CACHE_PIECE
from harness.advice.edit import NotApplicable, Rewrite
from harness.advice.guard import GuardVerdict
from harness.advice.measure import cold
from harness.advice.records import COMBINED, ORIGINAL, AdviceRow
from harness.model import CacheMode, Sample, Status

if TYPE_CHECKING:  # harness.stats loads numpy and scipy: only where a ratio is made
    from harness.stats import RatioInterval

CHANGES = "changes your image"
SIZE_NOISE_BYTES = 1024
"""A size change smaller than this is no gain (model.KIB, the bytes metrics' floor), nor one
within the spread of the sizes repeated cold builds gave (size_noise)."""


def variant_name(piece: Rewrite) -> str:
    return piece.key if piece.key != "move-deletion" else \
        f"move-deletion-{piece.lines[0]}"


def rank(row: AdviceRow) -> tuple[int, int]:
    order = {"saves": 0, "no gain": 1, CHANGES: 2, "breaks": 3, "not applicable": 4}[row.verdict]
    return order, row.size_change_bytes or 0


def row(piece: Rewrite | NotApplicable, samples: list[Sample],
        checked: dict[str, tuple[bool, str]], guarded: dict[str, GuardVerdict]) -> AdviceRow:
    """The piece's verdict: breaks (a check failed), changes your image (the guard found a
    difference the piece does not explain), saves or no gain (by the measured sizes and, for
    the cache order, the incremental build time)."""
    if isinstance(piece, NotApplicable):
        return AdviceRow(advice=piece.advice, key=piece.key, hadolint=piece.hadolint, lines=[],
                         verdict="not applicable", reason=piece.reason)
    name = COMBINED if piece.key == COMBINED else variant_name(piece)
    mine = [s for s in samples if s.variant == name]
    base = [s for s in samples if s.variant == ORIGINAL]
    passed, output = checked.get(name, (False, "not measured"))
    mine_cold, original = cold(samples, name), cold(samples, ORIGINAL)
    if mine_cold is not None and mine_cold.status is Status.SKIPPED:  # a squash this store lacks
        return AdviceRow(advice=piece.advice, key=piece.key, hadolint=piece.hadolint,
                         lines=list(piece.lines), verdict="not applicable",
                         reason=mine_cold.error or "skipped", variant=name)
    found = AdviceRow(advice=piece.advice, key=piece.key, hadolint=piece.hadolint,
                      lines=list(piece.lines), verdict="breaks", variant=name,
                      checks_passed=passed, check_output=output, note=piece.note,
                      may_change=piece.may_change.describe())
    if not passed or mine_cold is None or original is None or mine_cold.size_bytes is None \
            or original.size_bytes is None:
        return replace(found, reason=output or "did not build")
    size, original_size = _median_size(mine), _median_size(base)
    change = size - original_size
    times = {}
    for cache in (CacheMode.COLD, CacheMode.WARM, CacheMode.INCREMENTAL):
        times.update(_time_ratio(mine, base, cache) or _failed_build(mine, base, cache))
    saves = change < -size_noise(mine, base) or (
        piece.key == "cache-order" and _faster(mine, base, CacheMode.INCREMENTAL))
    verdict = guarded.get(name)
    if verdict is not None:
        found = replace(found, image_changes=verdict.changes, image_changed=verdict.changed)
    changes = verdict is not None and verdict.changed > 0
    return replace(
        found, verdict=CHANGES if changes else "saves" if saves else "no gain",
        reason=f"{verdict.changed} difference(s) it does not explain: "  # type: ignore[union-attr]
        + "; ".join(verdict.changes) if changes else "",  # type: ignore[union-attr]
        size_bytes=size,
        size_change_bytes=change, size_change_pct=100 * change / original_size
        if original_size else None,
        layers_change=(mine_cold.layer_count or 0) - (original.layer_count or 0),
        compressed_change_bytes=None if mine_cold.compressed_bytes is None or
        original.compressed_bytes is None
        else mine_cold.compressed_bytes - original.compressed_bytes,
        push_change_bytes=None if mine_cold.push_bytes is None or original.push_bytes is None
        else mine_cold.push_bytes - original.push_bytes, build_time=times)


def _median_size(samples: list[Sample]) -> int:
    """The median of the cold builds' sizes (the image's size: exact, but apt's logs and
    dated caches can move it between builds)."""
    return int(statistics.median(s.size_bytes for s in samples if s.cache is CacheMode.COLD
                                 and s.status is Status.OK and s.size_bytes is not None))


def size_noise(*sides: list[Sample]) -> int:
    """How much the same Dockerfile's image size moves between cold builds here (apt's logs,
    caches with dates): the largest spread of either side's cold sizes, at least 1 KiB. A
    size change within it is no gain."""
    spreads = [max(sizes) - min(sizes) for side in sides
               if (sizes := [s.size_bytes for s in side if s.cache is CacheMode.COLD
                             and s.status is Status.OK and s.size_bytes is not None])]
    return max([SIZE_NOISE_BYTES, *spreads])


def _timings(samples: list[Sample], cache: CacheMode) -> list[float]:
    """Each build's time, and where the image is squashed after the build, the squash's too:
    what the user's CI spends to get the image (the Dockerfile is the original's, so the
    build alone would only show the original's build again)."""
    from harness.model import counted_value

    return [v + (s.transform_s or 0) for s in samples if s.cache is cache
            and (v := counted_value(s, "build_s")) is not None]


def _ratio(mine: list[Sample], base: list[Sample], cache: CacheMode
           ) -> tuple[float, RatioInterval] | None:
    """The median build time of `mine` over `base`'s in this mode, with its interval; None
    where either has no build that counts."""
    from harness.stats import ratio_interval

    new, old = _timings(mine, cache), _timings(base, cache)
    if not new or not old:
        return None
    return statistics.median(new) / statistics.median(old), ratio_interval(old, new)


def _time_ratio(mine: list[Sample], base: list[Sample], cache: CacheMode) -> dict[str, str]:
    found = _ratio(mine, base, cache)
    if found is None:
        return {}
    ratio, interval = found
    squashed = any(s.transform_s is not None for s in mine if s.cache is cache)
    return {str(cache): f"×{ratio:.2f} [{interval.low:.2f}–{interval.high:.2f}, "
                        f"{interval.kind}]" + (" with the squash" if squashed else "")}


def _failed_build(mine: list[Sample], base: list[Sample], cache: CacheMode) -> dict[str, str]:
    """Where a build of this mode failed, what it said: never a ratio silently left out. The
    original's own failure is said once above the table, not in every row."""
    if any(s.cache is cache and s.status is Status.FAILED for s in base):
        return {}
    failed = next((s for s in mine if s.cache is cache and s.status is Status.FAILED), None)
    if failed is None:
        return {}
    first = (failed.error or "").strip().splitlines()[:1]
    return {str(cache): f"failed ({first[0][:120] if first else 'no output'})"}


def beside_cleanup(rows: list[AdviceRow], samples: list[Sample]) -> list[AdviceRow]:
    """The cache mount's row with how it compares with cleaning the cache, measured on this
    file: the size, and per cache mode the ratio of their median build times (the samples
    that count, as in every other ratio)."""
    mount = next((r for r in rows if r.key == cache_mount.KEY and r.size_bytes is not None),
                 None)
    cleanup = next((r for r in rows if r.key == CACHE_PIECE.key and r.size_bytes is not None),
                   None)
    if mount is None or cleanup is None:
        return rows
    parts = [f"{mount.size_bytes - cleanup.size_bytes:+,} B"]  # type: ignore[operator]
    for mode in (CacheMode.COLD, CacheMode.WARM, CacheMode.INCREMENTAL):
        found = _ratio([s for s in samples if s.variant == mount.variant],
                       [s for s in samples if s.variant == cleanup.variant], mode)
        if found is None:
            continue
        ratio, interval = found
        faster = "the mount faster" if interval.high < 1 else "the cleanup faster" \
            if interval.low > 1 else "no measurable difference"
        parts.append(f"{mode} ×{ratio:.2f} [{interval.low:.2f}–{interval.high:.2f}] ({faster})")
    compared = "against cleaning the cache (the cache row): " + ", ".join(parts)
    return [replace(r, note=f"{compared}; {r.note}" if r.note else compared)
            if r is mount else r for r in rows]


def _faster(mine: list[Sample], base: list[Sample], cache: CacheMode) -> bool:
    found = _ratio(mine, base, cache)
    return found is not None and found[1].high < 1

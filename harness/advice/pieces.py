"""Every piece of advice, in the order advise measures and lists them. A new piece is one
module with its PIECE, named here."""

from __future__ import annotations

from typing import Any

from harness.advice import (
    archive,
    autoremove,
    cache,
    cache_mount,
    cache_order,
    chain,
    copy_owner,
    flatten,
    group,
    nodocs,
    npm_prod,
    recommends,
    smaller_base,
)
from harness.advice.edit import Piece, Rewrite
from harness.advice.parse import Parsed, parse_text
from harness.model import Squash

PIECES: dict[str, Piece] = {piece.key: piece for piece in (
    chain.PIECE, group.PIECE, cache.PIECE, cache_mount.PIECE, recommends.PIECE, nodocs.PIECE,
    autoremove.PIECE, archive.PIECE, copy_owner.PIECE, npm_prod.PIECE, smaller_base.PIECE,
    cache_order.PIECE)}
"""The pieces that rewrite a Dockerfile on its own; move-deletion and flatten need the built
image too (its waste, its config)."""


def advice_keys() -> list[str]:
    """Every piece's key, as --only names them."""
    return [*PIECES, "build-stage", "move-deletion", "flatten", str(Squash.EXPORT_IMPORT),
            str(Squash.DOCKER_SQUASH)]


def combine(parsed: Parsed, keys: list[str], config: dict[str, Any] | None,
            start: Rewrite | None = None) -> tuple[str, list[str]] | None:
    """The pieces applied one after another (each to the previous one's output), then the
    squash if "flatten" is among them, and the keys applied; None unless two apply. An
    alternative to another piece (the cache mount) is measured beside it, never combined. A moved
    deletion is left out: its lines are the original's, which the pieces before it moved
    (the squash drops the bytes it would). `start`: a rewrite made from the built image (the
    build stage), which the others then apply to."""
    text = start.dockerfile if start is not None else parsed.source
    applied: list[str] = [start.key] if start is not None else []
    for key in [k for k in keys if k in PIECES and not PIECES[k].alternative_to]:
        result = PIECES[key].apply(parse_text(text, parsed.path, parsed.context))
        if isinstance(result, Rewrite):
            text = result.dockerfile
            applied.append(key)
    if "flatten" in keys and config is not None:
        squashed = flatten.flatten(parse_text(text, parsed.path, parsed.context), config)
        if isinstance(squashed, Rewrite):
            text = squashed.dockerfile
            applied.append("flatten")
    return (text, applied) if len(applied) > 1 else None

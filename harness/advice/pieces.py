"""Every piece of advice, in the order advise measures and lists them. A new piece is one
module with its PIECE, named here."""

from __future__ import annotations

from harness.advice import cache, cache_order, chain, group, nodocs, recommends
from harness.advice.edit import Piece
from harness.model import Squash

PIECES: dict[str, Piece] = {piece.key: piece for piece in (
    chain.PIECE, group.PIECE, cache.PIECE, recommends.PIECE, nodocs.PIECE, cache_order.PIECE)}
"""The pieces that rewrite a Dockerfile on its own; move-deletion and flatten need the built
image too (its waste, its config)."""


def advice_keys() -> list[str]:
    """Every piece's key, as --only names them."""
    return [*PIECES, "move-deletion", "flatten", str(Squash.EXPORT_IMPORT),
            str(Squash.DOCKER_SQUASH)]

"""The `expect:` hypotheses: a tiny grammar, parsed without eval.

    expectation := operand OP operand
    operand     := [NUMBER "*"] VARIANT "." METRIC  |  NUMBER  |  STATUS
    OP          := "<" | "<=" | ">" | ">=" | "==" | "!="

Examples: `same-layer.size_bytes < separate-layers.size_bytes`,
`squashed.layer_count <= 0.5 * plain.layer_count`, `and-chain.status == failed`.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

NUMERIC_METRICS = frozenset({
    "build_s", "size_bytes", "layer_count", "steps_total", "steps_cached", "start_s",
    "base_size_bytes", "base_layer_count",
})
STATUS_METRICS = frozenset({"status", "start_status"})
STATUS_VALUES = frozenset({"ok", "failed", "skipped"})
METRICS = NUMERIC_METRICS | STATUS_METRICS
OPERATORS = ("<=", ">=", "==", "!=", "<", ">")

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<op><=|>=|==|!=|<|>)
    | (?P<number>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    | (?P<times>\*)
    | (?P<ref>[A-Za-z0-9][A-Za-z0-9_-]*\.[A-Za-z_]+)
    | (?P<word>[A-Za-z_]+)
    )""", re.VERBOSE)


class ExpectError(ValueError):
    """An expectation that does not parse or names something unknown."""


@dataclass(frozen=True, kw_only=True)
class Operand:
    factor: float = 1.0
    variant: str | None = None
    metric: str | None = None
    number: float | None = None
    status: str | None = None


@dataclass(frozen=True, kw_only=True)
class Expectation:
    expr: str
    left: Operand
    op: str
    right: Operand


def parse(expr: str, variants: Collection[str]) -> Expectation:
    tokens = _tokenize(expr)
    op_positions = [i for i, (kind, _) in enumerate(tokens) if kind == "op"]
    if len(op_positions) != 1:
        raise ExpectError(f"`{expr}`: expected one comparison "
                          f"({', '.join(OPERATORS)}) between two operands")
    split = op_positions[0]
    left = _operand(tokens[:split], expr, variants)
    right = _operand(tokens[split + 1:], expr, variants)
    op = tokens[split][1]
    if left.variant is None and right.variant is None:
        raise ExpectError(f"`{expr}`: at least one side must be VARIANT.METRIC")
    statuses = [o for o in (left, right) if o.status is not None or o.metric in STATUS_METRICS]
    if statuses and (len(statuses) != 2 or op not in {"==", "!="}):
        raise ExpectError(f"`{expr}`: status compares with == or != to a status "
                          f"({', '.join(sorted(STATUS_VALUES))}) or another status metric")
    return Expectation(expr=expr, left=left, op=op, right=right)


def _tokenize(expr: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = expr.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ExpectError(f"`{expr}`: cannot read `{text[position:].strip()}`")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _operand(tokens: list[tuple[str, str]], expr: str, variants: Collection[str]) -> Operand:
    kinds = [kind for kind, _ in tokens]
    if kinds == ["number"]:
        return Operand(number=float(tokens[0][1]))
    if kinds == ["word"] and tokens[0][1] in STATUS_VALUES:
        return Operand(status=tokens[0][1])
    if kinds in (["ref"], ["number", "times", "ref"]):
        factor = float(tokens[0][1]) if len(tokens) == 3 else 1.0
        variant, metric = tokens[-1][1].rsplit(".", 1)
        if variant not in variants:
            raise ExpectError(f"`{expr}`: no variant `{variant}` (variants: "
                              f"{', '.join(sorted(variants))})")
        if metric not in METRICS:
            raise ExpectError(f"`{expr}`: unknown metric `{metric}` (metrics: "
                              f"{', '.join(sorted(METRICS))})")
        if factor != 1.0 and metric in STATUS_METRICS:
            raise ExpectError(f"`{expr}`: a status cannot be multiplied")
        return Operand(factor=factor, variant=variant, metric=metric)
    shown = " ".join(value for _, value in tokens) or "nothing"
    raise ExpectError(f"`{expr}`: cannot read operand `{shown}`: expected VARIANT.METRIC, "
                      "FACTOR * VARIANT.METRIC, a number, or a status")

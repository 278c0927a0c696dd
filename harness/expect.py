"""The `expect:` hypotheses: a tiny grammar, parsed without eval.

    expectation := operand OP operand
    operand     := [NUMBER "*"] VARIANT "." METRIC  |  NUMBER  |  STATUS
    OP          := "<" | "<=" | ">" | ">=" | "==" | "!="

Examples: `same-layer.size_bytes < separate-layers.size_bytes`,
`squashed.layer_count <= 0.5 * plain.layer_count`, `and-chain.status == failed`.
"""

from __future__ import annotations

import operator
import re
import statistics
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from harness.model import (
    METRIC,
    STATUS_FIELDS,
    Expectation,
    GroupVerdict,
    Operand,
    Status,
    Verdict,
    counted_value,
    counted_values,
    field_of,
)

NUMERIC_METRICS = frozenset(METRIC)
STATUS_METRICS = frozenset(STATUS_FIELDS)
STATUS_VALUES = frozenset(status.value for status in Status)
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


def parse(expr: str, variants: Collection[str], *, known_false: bool = False, note: str = "",
          cache: tuple[str, ...] = (), builders: tuple[str, ...] = (),
          image_stores: tuple[str, ...] = ()) -> Expectation:
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
    return Expectation(expr=expr, left=left, op=op, right=right, known_false=known_false,
                       note=note, cache=cache, builders=builders, image_stores=image_stores)


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


S = TypeVar("S", bound="SampleLike")


class SampleLike(Protocol):
    """What evaluation reads of a sample (the runner's `Sample`, or a stored one)."""

    @property
    def scenario(self) -> str: ...
    @property
    def variant(self) -> str: ...
    @property
    def builder(self) -> str: ...
    @property
    def cache(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def start_status(self) -> str: ...
    @property
    def error(self) -> str | None: ...


def evaluate(expectation: Expectation, samples: Sequence[SampleLike]) -> Verdict:
    """Compare medians (or statuses) per builder and cache mode; the claim must hold in all."""
    groups = sorted({(str(s.builder), str(s.cache)) for s in samples
                     if (not expectation.cache or s.cache in expectation.cache)
                     and (not expectation.builders or s.builder in expectation.builders)})
    values = []
    skip_reasons = []
    for builder, cache in groups:
        in_group = [s for s in samples if (str(s.builder), str(s.cache)) == (builder, cache)]
        if any(_not_measured(name, in_group) for name in variants_named(expectation)):
            skip_reasons += [s.error for s in in_group if str(s.status) == "skipped"
                             and s.variant in variants_named(expectation) and s.error]
            continue  # e.g. legacy --squash with BuildKit, or deselected: nothing to compare
        left = _value(expectation.left, in_group)
        right = _value(expectation.right, in_group)
        holds = None if left is None or right is None else _COMPARE[expectation.op](left, right)
        group = GroupVerdict(group=f"{builder}/{cache}", left=left, right=right, holds=holds,
                             inconclusive=holds is None and _unmeasured(expectation, in_group))
        if holds is not None and _timing_between_variants(expectation):
            group = _three_way(expectation, in_group, group)
        values.append(group)
    skipped = None if values or not skip_reasons else "; ".join(dict.fromkeys(skip_reasons))
    passed = bool(values) and all(v.holds for v in values)
    failed = not skipped and (not values or any(
        (v.holds is None and not v.inconclusive) or v.holds is False for v in values))
    inconclusive = not passed and not failed and not skipped
    return Verdict(expr=expectation.expr, passed=passed, known_false=expectation.known_false,
                   as_expected=bool(skipped) or inconclusive or (
                       failed if expectation.known_false else passed),
                   inconclusive=inconclusive, note=expectation.note, values=values,
                   predicted_failure=predicted_failure(expectation),
                   predicted_start_failure=predicted_failure(expectation, "start_status"),
                   skipped=skipped)


MIN_TIMED = 3
"""Samples a side needs before a timing claim can hold or fail: one build each says little,
and a sample's container starts, taken in a row, share whatever the machine was doing then
(a quick run once saw all five of one image's starts at twice their usual time)."""


def _timing_between_variants(expectation: Expectation) -> bool:
    sides = (expectation.left, expectation.right)
    return expectation.op in ("<", "<=", ">", ">=") and all(
        side.variant and side.metric in METRIC and not METRIC[side.metric].exact
        for side in sides)


def _three_way(expectation: Expectation, samples: Sequence[SampleLike],
               group: GroupVerdict) -> GroupVerdict:
    """Holds or fails only when the 95 % interval of left / right lies wholly on one side of
    the bound (1, with the factors folded in); else inconclusive, as it is when the two
    sides were timed on different machines (shards whose fingerprints differ)."""
    left, right = (_numbers(side, samples) for side in (expectation.left, expectation.right))
    machines = {getattr(s, "machine", None) for s in samples
                if s.variant in variants_named(expectation)}
    windows = [len(counted_values([s for s in samples if s.variant == side.variant],
                                  side.metric or "")) for side in (expectation.left,
                                                                   expectation.right)]
    if min(windows) < MIN_TIMED or len(machines) > 1:
        return replace(group, holds=None, inconclusive=True)  # few, or timed on two machines
    from harness.stats import ratio_interval  # scipy: only when a timing claim is judged

    interval = ratio_interval(right, left)
    low, high = interval.low, interval.high
    scale = expectation.left.factor / expectation.right.factor
    low, high = low * scale, high * scale
    holds_if, fails_if = {
        "<": (high < 1, low >= 1), "<=": (high <= 1, low > 1),
        ">": (low > 1, high <= 1), ">=": (low >= 1, high < 1)}[expectation.op]
    holds = True if holds_if else (False if fails_if else None)
    return replace(group, holds=holds, inconclusive=holds is None, interval=(low, high),
                   interval_kind=interval.kind)


def _numbers(operand: Operand, samples: Sequence[SampleLike]) -> list[float]:
    """The operand's metric in the variant's samples that count (model.counted_value); for
    start_s every container start, not each sample's median of them."""
    mine = [s for s in samples if s.variant == operand.variant]
    if operand.metric == "start_s":
        return [start for s in mine if counted_value(s, "start_s") is not None
                for start in field_of(s, "start_samples_s") or []]
    return counted_values(mine, operand.metric or "")


def judge(expectations: Sequence[Expectation], samples: Sequence[SampleLike],
          image_store: str | None = None) -> list[Verdict]:
    """The claims these samples, measured on an engine with `image_store`, can test. A claim
    naming a variant that was not measured, that no measured group can test (an incremental
    one under --quick), or scoped to other image stores, is not evaluated, rather than
    failed."""
    measured = {s.variant for s in samples}
    verdicts = [evaluate(e, samples) for e in expectations if variants_named(e) <= measured
                and (not e.image_stores or image_store in e.image_stores)]
    return [v for v in verdicts if v.values or v.skipped]


def variants_named(expectation: Expectation) -> set[str]:
    return {o.variant for o in (expectation.left, expectation.right) if o.variant}


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}


def _value(operand: Operand, samples: Sequence[SampleLike]) -> float | str | None:
    if operand.number is not None:
        return operand.number
    if operand.status is not None:
        return operand.status
    mine = [s for s in samples if s.variant == operand.variant]
    if not mine:
        return None
    if operand.metric == "status":
        return _status([str(s.status) for s in mine])
    if operand.metric == "start_status":
        ok = [s for s in mine if str(s.status) == "ok"]
        return _status([str(s.start_status) for s in ok]) if ok else None
    numbers = counted_values(mine, operand.metric or "")
    return operand.factor * statistics.median(numbers) if numbers else None


def _unmeasured(expectation: Expectation, samples: Sequence[SampleLike]) -> bool:
    """A side has no value though its builds are ok: its push or pull could not be measured
    (e.g. a pull that was not cold); the claim cannot be judged there, and fails nothing."""
    return any(side.variant and side.metric in METRIC and any(
        str(s.status) == "ok" and field_of(s, side.metric) is None
        and field_of(s, "distribution_error") for s in samples if s.variant == side.variant)
        for side in (expectation.left, expectation.right))


def _not_measured(variant: str, samples: Sequence[SampleLike]) -> bool:
    """No sample of the variant in the group, or only skipped ones."""
    return all(str(s.status) == "skipped" for s in samples if s.variant == variant)


def _status(statuses: list[str]) -> str:
    """failed if any failed; skipped if all were skipped; else ok."""
    if "failed" in statuses:
        return "failed"
    return "skipped" if all(s == "skipped" for s in statuses) else "ok"


def predicted_failure(expectation: Expectation, field: str = "status") -> str | None:
    """The variant a `VARIANT.status == failed` claim says will fail to build (with
    `start_status`: to start), if it is one."""
    if expectation.op != "==":
        return None
    for side, other in ((expectation.left, expectation.right),
                        (expectation.right, expectation.left)):
        if side.metric == field and other.status == "failed":
            return side.variant
    return None


def unexpected_failures(samples: Sequence[S], verdicts: Sequence[tuple[str, Any]]) -> list[S]:
    """Samples that failed to build or to start, except those of a variant whose
    `status == failed` (or `start_status == failed`) claim held; `verdicts` are (scenario,
    verdict) pairs, as Verdict records or their stored dicts."""
    def field(verdict: Any, name: str) -> Any:
        return verdict[name] if isinstance(verdict, dict) else getattr(verdict, name)

    held = [(scenario, v) for scenario, v in verdicts if field(v, "passed")]
    build = {(scenario, field(v, "predicted_failure")) for scenario, v in held}
    start = {(scenario, field(v, "predicted_start_failure")) for scenario, v in held}
    return [s for s in samples
            if (str(s.status) == "failed" and (s.scenario, s.variant) not in build)
            or (str(s.start_status) == "failed" and (s.scenario, s.variant) not in start)]

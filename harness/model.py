"""The records that flow between the stages, their enums, and the one table of metrics.

Everything here is plain data: importing it loads no Docker code, so the modules that only
read results (store, report, compare, trend, merge, stats) stay light.
"""

from __future__ import annotations

import enum
import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class Builder(enum.StrEnum):
    LEGACY = "legacy"
    BUILDKIT = "buildkit"
    BUILDAH = "buildah"
    """`buildah build` in harness's own storage; its image is loaded into the engine to be
    measured (harness.buildah)."""


DEFAULT_BUILDERS = (Builder.LEGACY, Builder.BUILDKIT)
"""A scenario's builders when it names none: Docker's two. buildah is asked for by name."""


class CacheMode(enum.StrEnum):
    COLD = "cold"
    WARM = "warm"
    INCREMENTAL = "incremental"
    REMOTE = "remote"
    """A cold CI runner building with --cache-from a registry image (harness.remote)."""


class Squash(enum.StrEnum):
    NONE = "none"
    LEGACY = "legacy"
    DOCKER_SQUASH = "docker-squash"
    EXPORT_IMPORT = "export-import"
    SAVE_LOAD = "save-load"


POST_BUILD_SQUASH = (Squash.DOCKER_SQUASH, Squash.EXPORT_IMPORT, Squash.SAVE_LOAD)
"""Squash methods applied to the built image after the (timed) build."""


class Order(enum.StrEnum):
    """How a run takes the repetitions of the variants it compares."""

    INTERLEAVED = "interleaved"
    """Cold builds A B C A B C ...: drift on the machine spreads over every variant. Warm
    and incremental builds stay per variant, each with its own cache."""
    SEQUENTIAL = "sequential"
    """A A A B B B ...: each variant's repetitions in a row (pytest-benchmark's way)."""


class BaseKind(enum.StrEnum):
    DEBOOTSTRAP = "debootstrap"
    SCRATCH = "scratch"
    TAR = "tar"
    BUILD = "build"


class ImageStore(enum.StrEnum):
    """The engine's image store (harness.engine.image_store)."""

    CLASSIC = "classic"
    """Graph drivers (overlay2): Docker 20.10's, and later engines' without the feature."""
    CONTAINERD = "containerd"
    """containerd's snapshotters: the default of new Docker Engine installs since 29.0."""


class Status(enum.StrEnum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


class RunState(enum.StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    INTERRUPTED = "interrupted"
    ENGINE_LOST = "engine-lost"
    ENGINE_FAILED = "engine-failed"
    """The engine answered but could not build or run (no bridge, no disk space)."""
    REGISTRY_LOST = "registry-lost"
    """The registry push and pull are measured on stopped answering."""


class Action(enum.StrEnum):
    """What making a base did."""

    PRESENT = "present"
    PULLED = "pulled"
    BUILT = "built"
    REBUILT = "rebuilt"


# ---------------------------------------------------------------------------- metrics


class Better(enum.StrEnum):
    LOWER = "lower"
    HIGHER = "higher"


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One numeric field of a sample, and how every reader treats it."""

    name: str
    unit: str
    better: Better = Better.LOWER
    exact: bool
    """Deterministic for the same build: compared exactly. Otherwise a noisy timing,
    compared with statistics."""
    threshold_pct: float | None = None
    """Default regression threshold of `compare` and `trend`; None: not compared between
    runs (nor against the baseline, nor exported as a benchmark)."""
    any_increase: bool = False
    """`trend` flags any increase beyond `floor`: identical content gives identical values
    to the byte."""
    floor: float = 0.0
    """The smallest absolute change that counts where a percentage cannot say: from a zero
    baseline (stats.changed_beyond), and for `any_increase` metrics in `trend`."""
    charted: bool = False
    """Drawn in `trend`'s charts."""
    label: str = ""
    """Its column in the run's summary and the reports' tables ("": not a column)."""
    delta: bool = False
    """Its change against the baseline is a column too."""
    estimate: bool = False
    """May be an estimate (gzip -6 of each layer), marked ≈ where no stored blob backs it."""

    @property
    def timing(self) -> bool:
        return not self.exact


KIB = 1024
"""The floor of byte metrics: real changes of a layer are kilobytes or more (a planted +1 MiB
shows), while rebuilding identical content can move the gzip estimate by a few bytes."""

METRICS: tuple[Metric, ...] = (
    Metric(name="build_s", unit="s", exact=False, threshold_pct=10.0, charted=True,
           label="build", delta=True),
    Metric(name="transform_s", unit="s", exact=False, threshold_pct=10.0),
    Metric(name="start_s", unit="s", exact=False, threshold_pct=10.0, charted=True,
           label="start"),
    Metric(name="push_s", unit="s", exact=False, threshold_pct=10.0),
    Metric(name="pull_s", unit="s", exact=False, threshold_pct=10.0),
    Metric(name="size_bytes", unit="bytes", exact=True, threshold_pct=1.0, any_increase=True,
           floor=KIB, charted=True, label="size", delta=True),
    # an estimate whose tar timestamps move it by a few bytes: beyond the threshold only
    Metric(name="compressed_bytes", unit="bytes", exact=True, threshold_pct=1.0, floor=KIB,
           label="compressed", estimate=True),
    Metric(name="wasted_bytes", unit="bytes", exact=True, threshold_pct=1.0,
           any_increase=True, floor=KIB, label="wasted"),
    Metric(name="layer_count", unit="layers", exact=True, threshold_pct=0.0, any_increase=True,
           label="layers"),
    Metric(name="base_size_bytes", unit="bytes", exact=True, floor=KIB),
    Metric(name="base_layer_count", unit="layers", exact=True),
    Metric(name="steps_total", unit="steps", exact=True, label="steps"),
    Metric(name="steps_cached", unit="steps", better=Better.HIGHER, exact=True,
           label="cached"),
    # distribution, with a registry (harness.distribute): blob sizes are exact
    Metric(name="push_bytes", unit="bytes", exact=True, threshold_pct=1.0, any_increase=True,
           floor=KIB, charted=True, label="push"),
    Metric(name="push_after_baseline_bytes", unit="bytes", exact=True, threshold_pct=1.0,
           any_increase=True, floor=KIB),
    Metric(name="pull_bytes", unit="bytes", exact=True, threshold_pct=1.0, any_increase=True,
           floor=KIB, charted=True, label="pull"),
    # buildah's own figure beside size_bytes, which is compared for every builder
    Metric(name="buildah_size_bytes", unit="bytes", exact=True, floor=KIB),
)
METRIC: dict[str, Metric] = {metric.name: metric for metric in METRICS}
COMPARED: tuple[str, ...] = tuple(m.name for m in METRICS if m.threshold_pct is not None)
"""The metrics compared between runs and against the baseline, timings first."""
TIMINGS: tuple[str, ...] = tuple(m.name for m in METRICS if not m.exact)
STATUS_FIELDS = ("status", "start_status")
"""Sample fields a claim can test against ok/failed/skipped."""


def default_thresholds_pct() -> dict[str, float]:
    return {m.name: m.threshold_pct for m in METRICS if m.threshold_pct is not None}


def field_of(sample: Any, name: str) -> Any:
    """A field of a sample, a stored one (dict) or a record; None where it is missing (an
    optional field an older file lacks, or a pandas NaN)."""
    value = sample.get(name) if isinstance(sample, Mapping) else getattr(sample, name, None)
    return None if isinstance(value, float) and math.isnan(value) else value


def counted_value(sample: Any, metric: str) -> float | None:
    """The one rule for which samples count: an ok sample's value of the metric, except that
    a timing of a build that hit less cache than its mode implies (`cache_warning`: a warm
    build that missed) is no timing of that mode and does not count."""
    if str(field_of(sample, "status")) != Status.OK:
        return None
    if METRIC[metric].timing and field_of(sample, "cache_warning"):
        return None
    value = field_of(sample, metric)
    return None if value is None else float(value)


def counted_values(samples: Iterable[Any], metric: str) -> list[float]:
    """counted_value of each sample that has one, in their order."""
    return [value for sample in samples if (value := counted_value(sample, metric)) is not None]


# ---------------------------------------------------------------------------- claims
# The `expect:` claims of a scenario (parsed and judged by harness.expect)


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
    known_false: bool = False
    """The claim is known not to hold here: a finding, not a failure, until it changes."""
    note: str = ""
    cache: tuple[str, ...] = ()
    """Only these cache modes (empty: all)."""
    builders: tuple[str, ...] = ()
    """Only these builders (empty: all)."""
    image_stores: tuple[str, ...] = ()
    """Only on engines with these image stores (ImageStore; empty: all): a claim whose
    outcome depends on the engine says where it holds, or where it is known false."""


@dataclass(frozen=True, kw_only=True)
class GroupVerdict:
    """One (builder, cache mode) comparison: the values each side had."""

    group: str
    left: float | str | None
    right: float | str | None
    holds: bool | None
    """None when a side has no value (no ok sample), or the comparison is inconclusive."""
    inconclusive: bool = False
    """A timing claim between variants whose ratio's 95 % interval is not all on one side
    of the claimed bound, or whose sides have fewer than MIN_TIMED samples."""
    interval: tuple[float, float] | None = None
    """For a timing claim: the interval of left / right (stats.ratio_interval)."""
    interval_kind: str | None = None
    """What that interval is: the 95 % bootstrap, or the min–max of the ratios."""


@dataclass(frozen=True, kw_only=True)
class Verdict:
    expr: str
    passed: bool
    """The claim held in every (builder, cache mode) group where its variants were measured
    (groups where one was skipped, e.g. legacy --squash with BuildKit, or not selected, are
    left out)."""
    known_false: bool
    as_expected: bool
    """Not failed (for a known-false claim: not holding); the run fails when this is False.
    An inconclusive claim is as expected either way."""
    inconclusive: bool = False
    """No group failed, but a timing comparison could not decide."""
    note: str
    values: list[GroupVerdict]
    predicted_failure: str | None
    """The variant this claim says fails to build (`V.status == failed`), if any."""
    predicted_start_failure: str | None = None
    """The variant this claim says fails to start (`V.start_status == failed`), if any."""
    skipped: str | None = None
    """Why no group could judge the claim: a variant it names was skipped in every group
    (e.g. legacy --squash on an engine without experimental mode); fails nothing."""


# ---------------------------------------------------------------------------- scenarios


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """How a container of the image is started to time it."""

    command: tuple[str, ...] | None = None
    """None: the image's own CMD/ENTRYPOINT."""
    ready_log: str | None = None
    """Regex: the container is "ready" when a log line matches; None: when it exits."""
    expect_exit: int = 0
    timeout_s: float = 30.0
    start_repeat: int = 5


@dataclass(frozen=True, kw_only=True)
class Variant:
    name: str
    dockerfile: str
    dockerfile_origin: str
    """Where the Dockerfile text came from, as FILE:LINE, for error messages."""
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    run: RunSpec = RunSpec()
    bases: tuple[str, ...] = ()
    """The images its FROM lines name (not scratch, not earlier stages)."""
    base: str | None = None
    """The image the built stage (target, else the last) starts from; None for scratch."""
    squash: Squash = Squash.NONE
    squash_from: str | int = "base"
    """docker-squash: squash onto the FROM image ("base") or this many history entries."""
    restore_config: bool = True
    """export-import: put CMD, ENV, ... back through import changes."""
    builders: tuple[Builder, ...] | None = None
    """Only these of the scenario's builders build it (None: all of them), e.g. to leave
    a builder's slowest variant out."""


@dataclass(frozen=True, kw_only=True)
class Incremental:
    """The source change of the incremental cache mode: append `text` to `path`."""

    path: str
    text: str


@dataclass(frozen=True, kw_only=True)
class BaseRecipe:
    reference: str
    kind: BaseKind | None
    """None: `pull: true` alone, a base kept in a registry, pulled and never made."""
    options: dict[str, Any]
    """Checked options of the kind; paths are absolute."""
    pull: bool = False
    """Pull from a registry (when one answers) before making it by recipe: only when the
    scenario says `pull: true`, so a run measures the base its recipe makes."""
    declared_in: Path


@dataclass(frozen=True, kw_only=True)
class Quick:
    """What `--quick` runs of a scenario (one repetition, cold and warm): a representative
    subset of its variants and builders; None means all of them."""

    variants: tuple[str, ...] | None = None
    builders: tuple[Builder, ...] | None = None


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str
    path: Path
    description: str
    bases: dict[str, BaseRecipe]
    """The scenario's own bases over the shared `bases.yaml` beside it."""
    files: dict[str, str]
    context: Path | None
    baseline: str
    builders: tuple[Builder, ...]
    cache: tuple[CacheMode, ...]
    repeat: int
    incremental: Incremental | None
    run: RunSpec
    variants: dict[str, Variant]
    expect: tuple[Expectation, ...]
    secret_build_args: frozenset[str] = frozenset()
    quick: Quick = Quick()
    registry: bool = False
    """Measures push and pull (harness.distribute): needs a registry, which `harness run`
    starts (`harness registry up`) when none is given."""


# ---------------------------------------------------------------------------- measurements


@dataclass(frozen=True, kw_only=True)
class HistoryEntry:
    created_by: str
    size_bytes: int


@dataclass(frozen=True, kw_only=True)
class LayerRow:
    index: int
    diff_id: str
    tar_bytes: int
    compressed_bytes: int
    compressed_stored: bool
    """compressed_bytes is the size of the blob the store holds, not the gzip -6 estimate."""
    added_bytes: int
    unpacked_bytes: int
    wasted_bytes: int
    """Bytes this layer added that a later layer deleted or replaced."""


@dataclass(frozen=True, kw_only=True)
class Waste:
    path: str
    size_bytes: int
    added_in: int
    removed_in: int
    how: str
    """deleted or replaced."""


@dataclass(frozen=True, kw_only=True)
class ImageLayers:
    image_id: str
    unpacked_bytes: int
    """The sum of the layers' unpacked sizes (see harness.layers): the sample's size_bytes."""
    compressed_bytes: int
    compressed_stored: bool
    """Every layer's compressed size is a stored blob's (containerd store), none estimated."""
    wasted_bytes: int
    layers: list[LayerRow]
    top_waste: list[Waste]


# ------------------------------------------------------------------ any image (analyse, diff)

ANALYSIS_FORMAT = "harness-analysis/1"
DIFF_FORMAT = "harness-diff/1"


@dataclass(frozen=True, kw_only=True)
class AnalysedLayer:
    index: int
    created_by: str
    """The history's instruction for this layer (secret-looking build args as ***)."""
    diff_id: str
    size_bytes: int
    """Unpacked: file bytes (hard links once) plus symlink target lengths, as overlay2 counts."""
    compressed_bytes: int
    compressed_stored: bool
    """The blob's own size; else the gzip -6 estimate, shown with ≈."""
    files_added: int
    files_changed: int
    files_removed: int
    wasted_bytes: int
    """Bytes this layer wrote that a later layer deleted or replaced."""


@dataclass(frozen=True, kw_only=True)
class WastedFile:
    path: str
    size_bytes: int
    written_in: int
    hidden_in: int
    how: str
    """deleted or replaced."""


@dataclass(frozen=True, kw_only=True)
class ImageAnalysis:
    format: str = ANALYSIS_FORMAT
    reference: str
    source: str
    """engine, archive or registry."""
    platform: str
    image_id: str
    size_bytes: int
    compressed_bytes: int
    compressed_stored: bool
    file_bytes: int
    """Regular-file bytes over all layers, each copy once: what efficiency is a share of."""
    wasted_bytes: int
    efficiency: float
    """1 - wasted_bytes / file_bytes: the share of the files shipped that the image shows."""
    user_wasted_ratio: float | None
    """wasted_bytes over the bytes of every layer but the first (dive's user-wasted percent,
    from harness's waste); None for a one-layer image."""
    layers: list[AnalysedLayer]
    top_waste: list[WastedFile]


@dataclass(frozen=True, kw_only=True)
class RuleOutcome:
    rule: str
    limit: str
    value: str
    passed: bool


@dataclass(frozen=True, kw_only=True)
class FileDelta:
    path: str
    change: str
    """added, removed, changed (in the final filesystem), or wasted in A / wasted in B (a copy a
    later layer hid, still shipped)."""
    delta_bytes: int
    """How much bigger this makes B."""
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class ImageDiff:
    format: str = DIFF_FORMAT
    a: str
    b: str
    a_size_bytes: int
    b_size_bytes: int
    why: str
    """The first line: why B is bigger (or smaller)."""
    files: list[FileDelta]
    by_directory: dict[str, int]
    """Top-level directory -> its delta bytes."""
    a_only_layers: list[str]
    b_only_layers: list[str]
    """The created_by of the layers one side has and the other not (by diff ID)."""


@dataclass(frozen=True, kw_only=True)
class BaseOutcome:
    """What making (or finding) a base did, and where the base came from."""

    reference: str
    action: Action
    image_id: str
    size_bytes: int
    seconds: float
    detail: str = ""
    origin: str = "made"
    """made (by harness, from its recipe), pulled (from a registry) or local (there already,
    not made by harness)."""
    recipe_hash: str | None = None
    """The hash of the recipe and its input files the base was made from."""
    packages: list[str] = field(default_factory=list)
    """For a debootstrapped base: its Debian packages as name=version, so a size change can
    be traced to the distribution."""


NOT_READ = "not read"
"""A sample's figures_from where its image was not read (RunOptions.read_images_of)."""


@dataclass(frozen=True, kw_only=True)
class Sample:
    """One timed build of one variant with one builder in one cache mode, and its image."""

    scenario: str
    variant: str
    builder: Builder
    cache: CacheMode
    repetition: int
    status: Status
    error: str | None = None
    """Why it failed or was skipped; for a failed build, the message and the log's last lines."""
    build_s: float | None = None
    transform_s: float | None = None
    """Time of the post-build squash transform (docker-squash, export-import, save-load)."""
    image_id: str | None = None
    """The measured image: the transformed one where the variant squashes."""
    size_bytes: int | None = None
    """Unpacked size of all layers, as overlay2 counts it (harness.layers): on the classic
    store equal to `docker image inspect`'s .Size, and the same definition on containerd's."""
    layer_count: int | None = None
    steps_total: int | None = None
    steps_cached: int | None = None
    step_durations_s: list[float] = field(default_factory=list)
    base_size_bytes: int | None = None
    base_layer_count: int | None = None
    compressed_bytes: int | None = None
    """Sum of the layers' compressed sizes: with a registry, the pushed manifest's blob
    sizes; else stored blob sizes where the image store keeps layers compressed
    (containerd), else an estimate (gzip -6 of each layer tar)."""
    compressed_stored: bool | None = None
    """Whether compressed_bytes is real blob sizes (True: the registry's or the image
    store's) or the gzip -6 estimate (False)."""
    wasted_bytes: int | None = None
    """Bytes in the layers that later layers deleted or replaced (see harness.layers)."""
    figures_from: str | None = None
    """None where this sample's image was read in full (`docker save`). Else the sample of
    the same variant and builder whose full read gave size, layers, compressed and wasted
    bytes (`cold 1`): this image's layers have the same sizes, by `docker history`; or
    NOT_READ where the run reads no image of this cache mode (RunOptions.read_images_of),
    and those figures are null."""
    start_s: float | None = None
    """Median of the container starts of this image."""
    start_samples_s: list[float] = field(default_factory=list)
    start_status: Status = Status.SKIPPED
    start_error: str | None = None
    push_s: float | None = None
    """With a registry, cold builds only (harness.distribute): the `docker push` of the image
    to a repository that holds its base."""
    push_bytes: int | None = None
    """The blobs that push uploaded (layers the CLI reported Pushed, config, manifest)."""
    push_after_baseline_bytes: int | None = None
    """The bytes of the image's blobs that the scenario's baseline image does not have."""
    pull_s: float | None = None
    """The `docker pull` of the image after removing it locally (base layers kept)."""
    pull_bytes: int | None = None
    """What that pull fetched: manifest, config and the layers not already there."""
    distribution_error: str | None = None
    """Why the push or pull could not be measured (the build's own figures stand)."""
    pushed_blobs: dict[str, int] = field(default_factory=dict)
    """Every blob of the pushed image in the registry (manifests, config, layers): digest →
    bytes. Kept so push_after_baseline_bytes, which depends on the baseline's sample, can be
    computed again over a whole run (harness merge)."""
    buildah_size_bytes: int | None = None
    """buildah builds: buildah's own size of the image (what `buildah images` shows, to the
    byte): its layer tars, manifest and config; size_bytes is the engine's measure."""
    cache_warning: str | None = None
    """Set when the build hit less cache than its mode implies (a warm build not fully
    cached, an incremental one missing steps before the change): another run on the engine,
    or a cache limit. Such samples are left out of the timing statistics."""


@dataclass(frozen=True, kw_only=True)
class ImageRecord:
    """`docker history` of one variant's image per builder, kept once."""

    scenario: str
    variant: str
    builder: Builder
    image_id: str
    history: list[HistoryEntry]
    layers: ImageLayers


# ---------------------------------------------------------------------------- runs


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    builders: tuple[Builder, ...] | None = None
    """None: each scenario's own list; otherwise only these (of the scenario's)."""
    cache: tuple[CacheMode, ...] | None = None
    repeat: int | None = None
    select: str | None = None
    """Only variants whose `scenario/variant` contains this text."""
    keep_images: bool = False
    quick: bool = False
    """Each scenario's `quick:` subset of variants and builders (see matrix.options_for)."""
    buildx_builder: str | None = None
    """The buildx builder BuildKit builds run on (None: buildx's current one)."""
    shard: tuple[int, int] | None = None
    """(I, N): only the I-th of N deterministic slices of the (scenario, variant, builder)
    matrix; `harness merge` joins the shards' results files."""
    allow_concurrent: bool = False
    """Run even while another harness run holds the engine's lock."""
    order: Order = Order.INTERLEAVED
    seed: int | None = None
    """With interleaved order: shuffle each turn's order of variants with this seed."""
    machine: str | None = None
    """The machine key trends keep runs apart by, instead of the computed fingerprint."""
    registry: str | None = None
    """HOST:PORT of a plain-HTTP registry on this host (`harness registry up`): push and
    pull are measured there (harness.distribute)."""
    registry_all: bool = False
    """Push and pull every scenario's cold builds (a registry was given); else only those
    of scenarios with `registry: true`."""
    registry_incremental: bool = False
    """Push and pull the incremental builds too (advise: what a one-line source change
    pushes, the original against a flattened image)."""
    read_images_of: tuple[CacheMode, ...] | None = None
    """The cache modes whose builds' images are read for their figures (size, layers,
    compressed and wasted bytes); None: every mode. advise reads its cold builds alone: it
    measures warm and incremental builds for their build time, and takes every figure from
    the cold ones."""


@dataclass(kw_only=True)
class Run:
    """Everything one run produced so far; saved after every sample."""

    run_id: str
    started_at: str
    environment: dict[str, Any]
    options: RunOptions
    scenarios: list[Scenario]
    state: RunState = RunState.RUNNING
    ended_at: str | None = None
    samples: list[Sample] = field(default_factory=list)
    images: list[ImageRecord] = field(default_factory=list)
    bases: list[BaseOutcome] = field(default_factory=list)
    verdicts: dict[str, list[Verdict]] = field(default_factory=dict)
    """The `expect:` claims of each finished scenario that the measured samples can test."""
    untimed_s: dict[str, float] = field(default_factory=lambda: {"priming": 0.0,
                                                                 "reading": 0.0})
    """Where the run's time beyond its timed builds and starts went: the untimed priming
    builds (warm, incremental) and reading the images (layer analysis, sizes, history)."""


@dataclass(frozen=True, kw_only=True)
class Position:
    """Where the run is, for progress displays."""

    scenario: str
    variant: str
    builder: Builder
    cache: CacheMode
    repetition: int
    repeat: int


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

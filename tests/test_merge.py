"""`harness merge`: joining the files of `harness run --shard I/N` runs."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from harness import store
from harness.cli import main
from harness.errors import HarnessError
from harness.matrix import matrix
from harness.merge import judge, merge_files, push_after_baseline
from harness.model import Builder, CacheMode, Run, RunOptions, RunState, Sample, Status
from harness.scenario import load_scenario

from .helpers import REAL_RESULTS

SCENARIO = """\
variants:
  small: {dockerfile: FROM scratch}
  big: {dockerfile: FROM scratch}
  other: {dockerfile: FROM scratch}
expect:
  - small.size_bytes < big.size_bytes
  - expr: big.size_bytes < small.size_bytes
    known_false: true
"""


@pytest.fixture
def scenario(tmp_path):
    path = tmp_path / "sizes.yaml"
    path.write_text(SCENARIO)
    return load_scenario(path)


def shard_file(tmp_path, scenario, index, count, sizes, state=RunState.COMPLETE):
    options = RunOptions(shard=(index, count))
    run = Run(run_id=f"shard{index}", started_at=f"2026-11-28T0{index}:00:00+00:00",
              environment={"machine": index}, options=options, scenarios=[scenario],
              state=state, ended_at=f"2026-11-28T0{index}:30:00+00:00")
    for _, variant, builder in matrix([scenario], options):
        run.samples.append(Sample(scenario=scenario.name, variant=variant.name, builder=builder,
                                  cache=CacheMode.COLD, repetition=1, status=Status.OK,
                                  build_s=1.0, size_bytes=sizes[variant.name]))
    path = tmp_path / f"shard{index}.json"
    tmp_path.mkdir(exist_ok=True)
    store.save(run, path)
    return path


def test_merge_joins_shards_and_judges_claims_across_them(tmp_path, scenario):
    sizes = {"small": 10, "big": 20, "other": 5}
    paths = [shard_file(tmp_path, scenario, i, 3, sizes) for i in (1, 2, 3)]
    # small and big never meet in one builder within a shard: no shard can judge the claims
    for path in paths:
        document = store.load(path)
        assert judge(document["scenarios"], document["samples"], None) == []

    merged = merge_files(paths)
    assert len(merged["samples"]) == 6 and merged["state"] == "complete"
    assert merged["options"]["shard"] is None
    assert [s["run_id"] for s in merged["shards"]] == ["shard1", "shard2", "shard3"]
    assert (merged["started_at"], merged["ended_at"]) == ("2026-11-28T01:00:00+00:00",
                                                          "2026-11-28T03:30:00+00:00")
    claims = {e["expr"]: e for e in merged["expectations"]}
    assert claims["small.size_bytes < big.size_bytes"]["passed"]
    assert [v["group"] for v in claims["small.size_bytes < big.size_bytes"]["values"]] == [
        "buildkit/cold", "legacy/cold"]
    known_false = claims["big.size_bytes < small.size_bytes"]
    assert not known_false["passed"] and known_false["as_expected"]


def test_merge_command_writes_a_loadable_run_with_reports(tmp_path, scenario, capsys,
                                                          monkeypatch):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "job-summary.md"))
    paths = [shard_file(tmp_path, scenario, i, 2, {"small": 1, "big": 2, "other": 3})
             for i in (1, 2)]
    out = tmp_path / "merged" / "run.json"
    assert main(["merge", *map(str, paths), "-o", str(out)]) == 0
    assert len(store.load(out)["samples"]) == 6
    assert out.with_suffix(".md").is_file() and out.with_suffix(".html").is_file()
    assert f"merged 2 file(s), 6 sample(s) into {out}" in capsys.readouterr().out
    summary = (tmp_path / "job-summary.md").read_text()
    assert summary.startswith("### harness run ") and "| variant " in summary


def test_merge_state_is_the_worst_of_the_shards(tmp_path, scenario):
    sizes = {"small": 1, "big": 2, "other": 3}
    paths = [shard_file(tmp_path, scenario, 1, 2, sizes),
             shard_file(tmp_path, scenario, 2, 2, sizes, state=RunState.INTERRUPTED)]
    assert merge_files(paths)["state"] == "interrupted"


def test_merging_a_shard_twice_is_refused(tmp_path, scenario):
    path = shard_file(tmp_path, scenario, 1, 2, {"small": 1, "big": 2, "other": 3})
    copy = tmp_path / "copy.json"
    copy.write_text(path.read_text())
    with pytest.raises(HarnessError, match=r"copy\.json: shard 1/2 again \(also .*shard1\.json\)"):
        merge_files([path, copy])


def test_shards_of_different_scenario_definitions_are_refused(tmp_path, scenario):
    first = shard_file(tmp_path, scenario, 1, 2, {"small": 1, "big": 2, "other": 3})
    changed = tmp_path / "changed.yaml"
    changed.write_text(SCENARIO.replace("small: {dockerfile: FROM scratch}",
                                        "small: {dockerfile: FROM busybox}"))
    other = replace(load_scenario(changed), name="sizes")
    second = shard_file(tmp_path, other, 2, 2, {"small": 1, "big": 2, "other": 3})
    with pytest.raises(HarnessError, match=r"shard2\.json: scenario `sizes` differs from its "
                                           r"definition in .*shard1\.json"):
        merge_files([first, second])


def test_merge_of_a_non_results_file_names_it(tmp_path, scenario, capsys):
    good = shard_file(tmp_path, scenario, 1, 2, {"small": 1, "big": 2, "other": 3})
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hello": 1}))
    assert main(["merge", str(good), str(bad), "-o", str(tmp_path / "out.json")]) == 2
    assert "bad.json: results schema version None" in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_bad_shard_arguments_are_refused(text, capsys):
    with pytest.raises(SystemExit):
        main(["run", "--shard", text])
    assert f"expected I/N with 1 ≤ I ≤ N (e.g. 2/4), got '{text}'" in capsys.readouterr().err


def test_a_real_run_split_in_two_and_merged_judges_its_claims_the_same(tmp_path):
    real = store.load(REAL_RESULTS)
    paths = []
    for index, variants in enumerate((("two-runs",), ("one-run", "broken")), start=1):
        shard = {**real, "run_id": f"part{index}",
                 "options": {**real["options"], "shard": [index, 2]},
                 "samples": [s for s in real["samples"] if s["variant"] in variants]}
        paths.append(tmp_path / f"part{index}.json")
        store.write_document(shard, paths[-1])
    merged = merge_files(paths)
    assert len(merged["samples"]) == len(real["samples"])
    assert [(e["expr"], e["passed"], e["as_expected"]) for e in merged["expectations"]] == [
        (e["expr"], e["passed"], e["as_expected"]) for e in real["expectations"]]


def test_merge_exits_1_when_a_claim_across_shards_is_false(tmp_path, scenario, capsys):
    holds = [shard_file(tmp_path / "holds", scenario, i, 3, {"small": 10, "big": 20, "other": 5})
             for i in (1, 2, 3)]
    false = [shard_file(tmp_path / "false", scenario, i, 3, {"small": 30, "big": 20, "other": 5})
             for i in (1, 2, 3)]
    assert main(["merge", *map(str, holds), "-o", str(tmp_path / "a.json")]) == 0
    assert main(["merge", *map(str, false), "-o", str(tmp_path / "b.json")]) == 1
    assert "✗ FAILED sizes: small.size_bytes < big.size_bytes" in capsys.readouterr().out


def test_a_timing_claim_whose_sides_ran_on_different_machines_is_inconclusive(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("variants:\n  fast: {dockerfile: FROM scratch}\n"
                    "  slow: {dockerfile: FROM scratch}\nbuilders: [legacy]\n"
                    "expect:\n  - fast.build_s < slow.build_s\n")
    timed = load_scenario(path)
    paths = []
    for index, (variant, seconds) in enumerate((("fast", 1.0), ("slow", 9.0)), start=1):
        run = Run(run_id=f"s{index}", started_at="2026-11-28T00:00:00+00:00",
                  environment={"fingerprint": f"machine-{index}"},
                  options=RunOptions(shard=(index, 2)), scenarios=[timed])
        run.samples += [Sample(scenario=timed.name, variant=variant, builder=Builder.LEGACY,
                               cache=CacheMode.COLD, repetition=r, status=Status.OK,
                               build_s=seconds + r / 100) for r in range(1, 6)]
        paths.append(tmp_path / f"s{index}.json")
        store.save(run, paths[-1])
    (claim,) = merge_files(paths)["expectations"]
    assert claim["inconclusive"] and claim["as_expected"] and not claim["passed"]


DISTRIBUTION = Path(__file__).parent.parent / "scenarios" / "distribution.yaml"
BASE_LAYER = {"sha256:base": 1_000_000}


def pushed(builder, variant):
    """The blobs each image of distribution.yaml pushes, as the registry stores them: the
    base's layer shared by all but export-import; a config and a manifest each their own."""
    own = {"layered": {"toolchain": 3_146_000, "app": 2_098_000, "rm": 100},
           "export-import": {"all": 3_200_000},
           "docker-squash": {"app-squashed": 2_098_000},
           "multi-stage": {"app-copied": 2_098_000}}[variant]
    config = {("legacy", "multi-stage"): 1_500, ("legacy", "docker-squash"): 1_300,
              ("buildkit", "multi-stage"): 1_000}.get((builder, variant), 1_200)
    blobs = {f"sha256:{builder}-{variant}-{name}": size for name, size in own.items()}
    blobs |= {f"sha256:{builder}-{variant}-config": config,
              f"sha256:{builder}-{variant}-manifest": 700}
    return blobs if variant == "export-import" else {**BASE_LAYER, **blobs}


def distribution_shard(tmp_path, scenario, index, count):
    """One shard of distribution.yaml as the runner leaves it: push_after_baseline_bytes from
    the shard's own samples (merge.push_after_baseline, as Runner.judge computes it)."""
    options = RunOptions(shard=(index, count), registry="127.0.0.1:5055")
    run = Run(run_id=f"d{index}", started_at="2026-11-28T00:00:00+00:00",
              environment={"fingerprint": "m"}, options=options, scenarios=[scenario])
    for _, variant, builder in matrix([scenario], options):
        blobs = pushed(str(builder), variant.name)
        sent = sum(size for digest, size in blobs.items() if digest not in BASE_LAYER)
        run.samples.append(Sample(
            scenario=scenario.name, variant=variant.name, builder=builder, cache=CacheMode.COLD,
            repetition=1, status=Status.OK, build_s=1.0, push_bytes=sent, pull_bytes=sent,
            pushed_blobs=blobs))
        if builder is Builder.BUILDKIT:
            run.samples.append(Sample(
                scenario=scenario.name, variant=variant.name, builder=builder,
                cache=CacheMode.REMOTE, repetition=1, status=Status.OK, build_s=1.0,
                steps_total=3, steps_cached=3))
    figures = push_after_baseline(run.samples, scenario.name, scenario.baseline)
    run.samples = [replace(s, push_after_baseline_bytes=figures.get(
        (s.variant, str(s.builder), s.repetition))) for s in run.samples]
    path = tmp_path / f"shard{index}.json"
    store.save(run, path)
    return path


@pytest.mark.parametrize("count", [2, 3, 4])
def test_the_bundled_distribution_scenario_split_any_way_merges_to_the_same_verdicts(
        tmp_path, count):
    """2d: merge never recomputed push_after_baseline_bytes: from 3 shards on, export-import's
    claim on it failed, as the shard without the baseline's image had none."""
    scenario = load_scenario(DISTRIBUTION)
    merged = merge_files([distribution_shard(tmp_path, scenario, i, count)
                          for i in range(1, count + 1)])
    claims = {e["expr"]: e for e in merged["expectations"]}
    after = "export-import.push_after_baseline_bytes > 0.99 * export-import.push_bytes"
    assert claims[after]["passed"], claims[after]["values"]
    assert all(e["as_expected"] and not e["inconclusive"] for e in claims.values()), [
        e["expr"] for e in claims.values() if not e["as_expected"]]
    samples = {(s["variant"], s["builder"]): s for s in merged["samples"]
               if s["cache"] == "cold"}
    for builder in ("legacy", "buildkit"):
        assert samples[("export-import", builder)]["push_after_baseline_bytes"] == \
            samples[("export-import", builder)]["push_bytes"]
        assert samples[("layered", builder)]["push_after_baseline_bytes"] == 0


def test_an_incomplete_set_of_shards_is_refused_naming_the_missing_one(tmp_path):
    scenario = load_scenario(DISTRIBUTION)
    paths = [distribution_shard(tmp_path, scenario, i, 3) for i in (1, 3)]
    with pytest.raises(HarnessError, match=r"shard\(s\) 2/3 missing: got 1/3, 3/3"):
        merge_files(paths)


def test_shards_split_different_ways_or_with_other_options_are_refused(tmp_path, scenario):
    sizes = {"small": 1, "big": 2, "other": 3}
    halves = [shard_file(tmp_path / "a", scenario, 1, 2, sizes),
              shard_file(tmp_path / "b", scenario, 2, 3, sizes)]
    with pytest.raises(HarnessError, match=r"split the run different ways: .* is 1/2, .* is "
                                           r"2/3"):
        merge_files(halves)
    other = tmp_path / "c" / "shard2.json"
    document = store.load(shard_file(tmp_path / "c", scenario, 2, 2, sizes))
    store.write_document({**document, "options": {**document["options"], "repeat": 5}}, other)
    with pytest.raises(HarnessError, match=r"shard2\.json: run with other options than .*"
                                           r"shard1\.json: repeat 5 vs None"):
        merge_files([shard_file(tmp_path / "c", scenario, 1, 2, sizes), other])


def test_a_file_that_is_not_a_shard_is_refused(tmp_path):
    real = REAL_RESULTS
    with pytest.raises(HarnessError, match="not a shard"):
        merge_files([real, real])


def test_shards_of_engines_with_different_image_stores_are_refused(tmp_path, scenario):
    sizes = {"small": 1, "big": 2, "other": 3}
    paths = []
    for index, image_store in ((1, "classic"), (2, "containerd")):
        path = shard_file(tmp_path, scenario, index, 2, sizes)
        document = store.load(path)
        document["environment"] = {"engine": {"image_store": image_store}}
        store.write_document(document, path)
        paths.append(path)
    with pytest.raises(HarnessError, match="engines with different image stores"):
        merge_files(paths)


def test_merge_judges_a_claim_only_on_the_image_store_it_names(tmp_path):
    path = tmp_path / "scoped.yaml"
    path.write_text("variants:\n  small: {dockerfile: FROM scratch}\n"
                    "  big: {dockerfile: FROM scratch}\n"
                    "expect:\n  - {expr: small.size_bytes < big.size_bytes, "
                    "image_stores: [containerd]}\n")
    scoped = load_scenario(path)
    paths = []
    for index in (1, 2):
        path = shard_file(tmp_path, scoped, index, 2, {"small": 1, "big": 2})
        document = store.load(path)
        document["environment"] = {"engine": {"image_store": "classic"}}
        store.write_document(document, path)
        paths.append(path)
    assert merge_files(paths)["expectations"] == []

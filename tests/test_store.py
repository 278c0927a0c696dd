import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from harness import store
from harness.errors import HarnessError
from harness.model import Builder, CacheMode, Run, RunOptions, Sample, Status
from harness.runner import unique_change
from harness.scenario import load_scenario

from .helpers import REAL_RESULTS, REAL_RESULTS_V2


@pytest.fixture
def scenario(tmp_path):
    path = tmp_path / "secret.yaml"
    path.write_text(textwrap.dedent("""\
        secret_build_args: [TOKEN]
        variants:
          v:
            dockerfile: FROM scratch
            build_args: {TOKEN: hunter2, MODE: fast}
        expect: [v.size_bytes < 10]
        """))
    return load_scenario(path)


def make_run(scenario) -> Run:
    run = Run(run_id="r1", started_at="2026-11-28T00:00:00+00:00", environment={"x": 1},
              options=RunOptions(builders=(Builder.LEGACY,)), scenarios=[scenario])
    run.samples.append(Sample(scenario="secret", variant="v", builder=Builder.LEGACY,
                              cache=CacheMode.COLD, repetition=1, status=Status.OK,
                              build_s=1.5, size_bytes=3, start_samples_s=[0.1, 0.2]))
    return run


def test_saved_run_loads_back_with_raw_samples_and_no_temporary_files(tmp_path, scenario):
    path = tmp_path / "out" / "r1.json"
    store.save(make_run(scenario), path)
    document = store.load(path)
    assert document["schema_version"] == store.SCHEMA_VERSION
    assert document["samples"][0]["start_samples_s"] == [0.1, 0.2]
    assert document["samples"][0]["builder"] == "legacy"
    assert document["options"]["builders"] == ["legacy"]
    assert document["scenarios"][0]["expect"] == [
        {"expr": "v.size_bytes < 10", "known_false": False, "note": "", "cache": [],
         "builders": [], "image_stores": []}]
    assert [p.name for p in path.parent.iterdir()] == ["r1.json"]


def test_secret_build_args_keep_only_their_names(tmp_path, scenario):
    path = tmp_path / "r1.json"
    store.save(make_run(scenario), path)
    assert "hunter2" not in path.read_text()
    variant = store.load(path)["scenarios"][0]["variants"]["v"]
    assert variant["build_args"] == {"TOKEN": None, "MODE": "fast"}


def test_a_failed_write_leaves_the_previous_file_intact(tmp_path, scenario):
    path = tmp_path / "r1.json"
    run = make_run(scenario)
    store.save(run, path)
    before = path.read_text()
    run.environment["unstorable"] = object()
    with pytest.raises(TypeError):
        store.save(run, path)
    assert path.read_text() == before
    assert not list(tmp_path.glob("*.tmp"))


def test_unknown_schema_version_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "future.json"
    path.write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(HarnessError, match=r"schema version 99, but this harness reads version 3"):
        store.load(path)


def test_a_file_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "junk.json"
    path.write_text("{nope")
    with pytest.raises(HarnessError, match=r"junk\.json: not a harness results file"):
        store.load(path)


@pytest.mark.parametrize(("text", "expected"), [
    ("# changed\n", "# changed N1\n"),
    ("# changed {nonce}\n", "# changed N1\n"),
    ("x = 1", "x = 1 N1"),
])
def test_incremental_changes_are_made_unique(text, expected):
    assert unique_change(text, "N1") == expected


def test_a_version_2_file_is_migrated_on_load():
    old = store.load(REAL_RESULTS_V2)
    assert old["schema_version"] == store.SCHEMA_VERSION == 3
    assert old["environment"]["engine"]["image_store"] == "classic"
    ok = [s for s in old["samples"] if s["status"] == "ok"]
    assert ok and all(s["compressed_stored"] is False for s in ok)
    assert all(row["compressed_stored"] is False
               for image in old["images"] for row in image["layers"]["layers"])


def test_the_current_fixture_records_the_store_and_estimates():
    new = store.load(REAL_RESULTS)
    assert new["environment"]["engine"]["image_store"] == "classic"
    assert {s["compressed_stored"] for s in new["samples"] if s["status"] == "ok"} == {False}
    image = new["images"][0]["layers"]
    assert image["unpacked_bytes"] == sum(row["unpacked_bytes"] for row in image["layers"])


def test_the_results_file_is_readable_like_the_reports_beside_it(tmp_path):
    path = tmp_path / "r.json"
    store.write_document({"schema_version": store.SCHEMA_VERSION}, path)
    assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("where", ["file/below", "/proc/harness-results"])
def test_an_unwritable_results_folder_is_named_before_anything_is_built(tmp_path, where):
    (tmp_path / "file").write_text("x")
    target = Path(where) if where.startswith("/") else tmp_path / where
    with pytest.raises(HarnessError, match="cannot write results there"):
        store.check_writable(target)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a read-only tmpfs")
def test_a_read_only_filesystem_is_named_too(tmp_path):
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=16k", "tmpfs", str(tmp_path)],
                   check=True)
    try:
        with pytest.raises(HarnessError, match=r"Read-only file system\); expected a folder"):
            store.check_writable(tmp_path / "results")
    finally:
        subprocess.run(["umount", str(tmp_path)], check=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tiny tmpfs")
def test_a_full_disk_keeps_the_previous_results_file_and_says_so(tmp_path):
    disk = tmp_path / "tiny"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], check=True)
    try:
        path = disk / "run.json"
        store.write_document({"schema_version": 3, "samples": []}, path)
        with pytest.raises(HarnessError, match=r"No space left on device.*previous version is "
                                               r"intact"):
            store.write_document({"schema_version": 3, "samples": ["x" * 1000] * 100}, path)
        assert json.loads(path.read_text()) == {"schema_version": 3, "samples": []}
        assert [p.name for p in disk.iterdir()] == ["run.json"]  # no temporary left
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_the_published_schema_has_every_sample_field_and_metric_as_the_table_says():
    """The schema lists the sample's fields a second time: tied here to the records and the
    metric table, so neither can gain or change a field alone."""
    import dataclasses

    from harness.model import METRICS, Sample

    schema = json.loads(store.SCHEMA_PATH.read_text())
    properties = schema["$defs"]["sample"]["properties"] if "sample" in schema["$defs"] else \
        schema["properties"]["samples"]["items"]["properties"]
    assert set(properties) == {f.name for f in dataclasses.fields(Sample)}
    for metric in METRICS:
        expected = "#/$defs/seconds" if metric.timing else "#/$defs/count"
        assert properties[metric.name] == {"$ref": expected}, metric.name
    assert schema["$defs"]["seconds"]["exclusiveMinimum"] == 0
    assert schema["$defs"]["count"]["type"] == ["integer", "null"]

"""`cache: remote`'s pure parts; the CI runner itself is tested in test_integ_distribute.py."""

from harness.model import Run, RunOptions
from harness.remote import remote_cache_reference, runner_for_run
from harness.scenario import load_scenario


def test_the_cache_image_lives_in_the_runs_repository_named_for_the_variant(tmp_path):
    path = tmp_path / "remote-cache.yaml"
    path.write_text("cache: [remote]\nvariants:\n  with-deps: {dockerfile: FROM scratch}\n")
    scenario = load_scenario(path)
    run = Run(run_id="20261130T000000Z-ABC123", started_at="t", environment={},
              options=RunOptions(registry="127.0.0.1:5055"), scenarios=[scenario])
    reference = remote_cache_reference(run, scenario, scenario.variants["with-deps"])
    assert reference.startswith("127.0.0.1:5055/harness-run/20261130t000000z-abc123/")
    assert reference.endswith("/remote-cache/with-deps-cache:latest")
    assert reference == reference.lower()  # the run id's T and Z: a repository has no capitals


def test_no_runner_is_started_when_no_scenario_asks_for_one():
    with runner_for_run(False) as (runner, missing):
        assert (runner, missing) == (None, None)

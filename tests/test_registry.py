"""The local registry's pure parts; starting and stopping it is tested in
test_integ_distribute.py."""

from harness import registry
from harness.model import RunOptions


def test_its_state_lives_under_xdg_state_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert registry.registry_home() == tmp_path / "harness" / "registry"
    assert registry.local_registry() is None  # none was started there


def test_a_pid_file_of_another_program_is_not_taken_for_the_registry(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    home = registry.registry_home()
    home.mkdir(parents=True)
    (home / "registry.pid").write_text("1")  # init: alive, but not our registry
    assert registry._pid(home) is None


def test_nothing_answers_on_a_closed_port():
    assert not registry.answers("127.0.0.1:1", timeout_s=1)


def test_a_given_registry_is_used_for_every_scenario_and_none_is_started(monkeypatch):
    monkeypatch.delenv("HARNESS_REGISTRY", raising=False)
    with registry.for_run(RunOptions(registry="127.0.0.1:5999"), []) as (options, missing):
        assert (options.registry, options.registry_all, missing) == ("127.0.0.1:5999", True,
                                                                      None)
    monkeypatch.setenv("HARNESS_REGISTRY", "127.0.0.1:6000")
    with registry.for_run(RunOptions(), []) as (options, missing):
        assert (options.registry, options.registry_all) == ("127.0.0.1:6000", True)


def test_no_registry_when_none_is_given_and_no_scenario_needs_one(monkeypatch):
    monkeypatch.delenv("HARNESS_REGISTRY", raising=False)
    with registry.for_run(RunOptions(), []) as (options, missing):
        assert (options.registry, options.registry_all, missing) == (None, False, None)

"""Engine access: where the engine is, labels, the run lock, and removing only what a run made."""

import subprocess
import sys
import uuid

import pytest

from harness import engine

from .helpers import write_busybox_context


def test_docker_host_defaults_to_the_local_socket(monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert engine.docker_host() == "unix:///var/run/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
    assert engine.docker_host() == "tcp://127.0.0.1:2375"


def test_no_engine_at_the_socket_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    with pytest.raises(engine.EngineUnavailable, match=r"No Docker engine answers at unix://"
                                                       r".*absent.sock.*Start a Docker engine"):
        engine.connect(timeout_s=1)
    assert engine.engine_answers(timeout_s=1) is False


def test_run_labels_mark_the_run_and_harness():
    assert engine.run_labels("r1") == {"harness.managed": "true", "harness.run": "r1"}


@pytest.mark.docker
def test_remove_labelled_removes_the_run_and_nothing_else(docker_client, tmp_path):
    run_id, other = f"test-{uuid.uuid4().hex[:10]}", f"test-{uuid.uuid4().hex[:10]}"
    context = write_busybox_context(tmp_path, "FROM scratch\nCOPY busybox /busybox\n")
    mine, _ = docker_client.images.build(path=str(context), labels=engine.run_labels(run_id),
                                         rm=True)
    docker_client.containers.create(mine.id, command=["/busybox", "true"],
                                    labels=engine.run_labels(run_id))
    kept, _ = docker_client.images.build(path=str(context), labels=engine.run_labels(other),
                                         rm=True, nocache=True)
    try:
        assert engine.remove_labelled(docker_client, f"{engine.RUN_LABEL}={run_id}") >= 2
        assert docker_client.images.list(filters={"label": f"harness.run={run_id}"}) == []
        assert docker_client.containers.list(all=True,
                                             filters={"label": f"harness.run={run_id}"}) == []
        assert docker_client.images.get(kept.id).id == kept.id
    finally:
        engine.remove_labelled(docker_client, f"{engine.RUN_LABEL}={other}")


def test_a_second_run_on_the_same_engine_is_refused_naming_the_first(monkeypatch, tmp_path):
    monkeypatch.setattr(engine, "LOCK_DIR", tmp_path)
    with engine.engine_lock("run A", host="unix:///x.sock"):
        holder = subprocess.run(
            [sys.executable, "-c", "import sys; from harness import engine; "
             f"engine.LOCK_DIR = __import__('pathlib').Path({str(tmp_path)!r}); "
             "engine.engine_lock('run B', host='unix:///x.sock').__enter__()"],
            capture_output=True, text=True)
        assert holder.returncode != 0
        assert "another harness run (run A, pid" in holder.stderr
        with engine.engine_lock("run C", host="unix:///other.sock"):
            pass  # another engine has its own lock
    with engine.engine_lock("run D", host="unix:///x.sock"):  # released with the first
        pass


def test_the_ledger_notes_containers_and_images(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    ledger = engine.ledger_path("r1")
    engine.note_leftovers(ledger, ["aaa", "bbb"])
    engine.note_leftovers(ledger, [])
    engine.note_leftovers(ledger, ["ccc"], ["c1"])
    engine.note_leftovers(ledger, [], tags=["127.0.0.1:5055/harness-run/r1/s/v:image"])
    assert ledger == tmp_path / "harness" / "runs" / "r1.ids"
    assert ledger.read_text().splitlines() == [
        "image aaa", "image bbb", "container c1", "image ccc",
        "tag 127.0.0.1:5055/harness-run/r1/s/v:image"]


def test_a_container_the_engine_is_already_removing_is_no_error(monkeypatch, tmp_path):
    """Interrupted, the legacy builder removes its step container itself: Docker 26 answers
    harness's removal with 409 "removal of container ... is already in progress"."""
    import docker.errors

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    engine.note_leftovers(engine.ledger_path("r1"), [], ["c1"])

    class Engine:
        def __init__(self, explanation):
            self.explanation = explanation
            self.api = self
            self.images = self
            self.containers = self

        def list(self, **filters):
            return []

        def remove_container(self, container_id, force, v):
            raise docker.errors.APIError("409 Client Error", explanation=self.explanation)

    engine.remove_run(Engine("removal of container c1 is already in progress"), "r1")
    assert not engine.ledger_path("r1").exists()
    engine.note_leftovers(engine.ledger_path("r1"), [], ["c1"])
    with pytest.raises(docker.errors.APIError):
        engine.remove_run(Engine("something else"), "r1")

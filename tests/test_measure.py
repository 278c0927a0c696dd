"""Start timing and image history against the real engine: what `docker run` and `docker
history` would say, and nothing left behind."""

import pytest

from harness.build import BuildRequest, build
from harness.measure import image_history, time_starts
from harness.model import Builder

from .helpers import write_busybox_context

pytestmark = pytest.mark.docker
DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["/bin/sh", "-c", "echo ready; sleep 0.2"]
"""


@pytest.fixture
def image(docker_client, test_labels, tmp_path):
    context = write_busybox_context(tmp_path, DOCKERFILE)
    request = BuildRequest(context=context, tag=f"harness-test/measure:{id(tmp_path)}",
                           labels=test_labels, no_cache=True)
    outcome = build(Builder.LEGACY, request, docker_client)
    assert outcome.ok, outcome.log_tail
    return outcome.image_id


def test_each_start_is_its_own_sample(docker_client, test_labels, image):
    timing = time_starts(docker_client, image, repeat=3, labels=test_labels)
    assert timing.ok and len(timing.samples_s) == 3
    assert all(0 < s < 30 for s in timing.samples_s)
    assert timing.start_s == sorted(timing.samples_s)[1]
    label = f"harness.run={test_labels['harness.run']}"
    assert docker_client.containers.list(all=True, filters={"label": label}) == []


def test_ready_line_ends_the_timing_before_the_process_exits(docker_client, test_labels, image):
    ready = time_starts(docker_client, image, repeat=1, labels=test_labels, ready_log="^ready$")
    whole = time_starts(docker_client, image, repeat=1, labels=test_labels)
    assert ready.ok and whole.ok
    assert ready.start_s < whole.start_s  # the 0.2 s sleep after the line is not counted


def test_a_start_that_never_ends_times_out_as_a_failure(docker_client, test_labels, image):
    timing = time_starts(docker_client, image, repeat=2, labels=test_labels,
                         command=["sleep", "30"], timeout_s=1)
    assert not timing.ok and timing.samples_s == []
    assert "did not exit within 1 s" in (timing.error or "")


def test_history_is_what_docker_history_says(docker_client, image):
    history = image_history(docker_client, image)
    assert "COPY" in history[0].created_by and history[0].size_bytes > 500_000  # oldest first
    assert "--install" in history[1].created_by
    assert [h.size_bytes for h in history] == [
        entry["Size"] for entry in reversed(docker_client.api.history(image))]

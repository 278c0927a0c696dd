"""advise on the typical app against an expert's Dockerfile: the best combination within 2 %
of the expert's size. A benchmark (advise's wall time, pytest-benchmark) with its assertion,
run by `nox -s bench` and so by the nightly, in its first shard on the default engine: an
apt app's advise takes minutes, too long for `nox -s tests`, whose advise tests use busybox."""

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from harness import engine
from harness.bases import ensure_bases
from harness.build import BuildRequest, build
from harness.images import analyse_engine_image
from harness.model import Builder
from harness.scenario import all_bases

TYPICAL_APP = Path(__file__).parent / "typical-app"
"""A typical app's Dockerfile (the advise benchmark's): update and install in separate RUNs,
no cleanup, recommends installed, a compiler installed, used and purged in later RUNs (tcc,
not gcc, to stay quick; docs/your-own-dockerfile.md has the gcc one)."""

EXPERT_APP = """\
FROM debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends tcc libc6-dev \\
    && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY hello.c /src/hello.c
RUN tcc -o /hello /src/hello.c

FROM debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends curl ca-certificates \\
    && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY --from=build /hello /usr/local/bin/hello
CMD ["hello"]
"""
"""What an expert writes by hand for the same app: a build stage with the compiler, a runtime
stage with curl and its certificates, lists and cache cleaned."""


@pytest.fixture
def client(request):
    shard = request.config.getoption("shard", None)
    if shard is not None and shard[0] != 1:
        pytest.skip("runs in the first shard of the bench only")
    client = engine.connect()
    if engine.image_store(client.info()) != "classic":
        client.close()  # advise's choices, which the image store does not change
        pytest.skip("runs on the classic image store's bench only")
    scenarios = Path(__file__).parent.parent / "scenarios"
    ensure_bases(client, all_bases([scenarios]), ["debian:bookworm"], lambda message: None)
    yield client
    client.close()


def every_image(client) -> set[str]:
    return {image.id for image in client.images.list(all=True)}


def test_a_typical_app_is_advised_within_two_percent_of_an_experts_dockerfile(
        benchmark, client, tmp_path):
    app = tmp_path / "app"
    shutil.copytree(TYPICAL_APP, app)
    before = every_image(client)

    def advise() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "harness", "advise", "--check", "hello", "--check",
             "curl --version", "--only", "chain,cache,recommends,nodocs,move-deletion,flatten",
             "--json", "--out", str(tmp_path / "out")],
            capture_output=True, text=True, cwd=app, timeout=1800)
    result = benchmark.pedantic(advise, rounds=1, iterations=1)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    rows = {row["variant"] or row["key"]: row for row in report["rows"]}
    best = rows[report["best"]]
    assert best["checks_passed"] is True and best["verdict"] == "saves"
    (app / "Dockerfile.expert").write_text(EXPERT_APP)
    tag = f"harness-test/expert:{uuid.uuid4().hex[:12]}"
    # BuildKit, as advise's builds: the legacy builder would leave the build stage's image
    expert = build(Builder.BUILDKIT, BuildRequest(context=app, dockerfile="Dockerfile.expert",
                                                  tag=tag, labels={}, no_cache=False))
    assert expert.ok, expert.log_tail
    try:
        expert_bytes = analyse_engine_image(client, tag).unpacked_bytes
        assert client.containers.run(tag, ["hello"], remove=True) == b"hello\n"
    finally:
        client.images.remove(tag, force=True)
    # advise's images (squashed ones too) and the expert's are gone, dangling ones included
    assert every_image(client) <= before
    assert best["size_bytes"] <= 1.02 * expert_bytes, (best["size_bytes"], expert_bytes)
    # the diff a reviewer accepts: the user's own commands kept, one a line, cleanup added
    diff = report["best_diff"]
    assert "+RUN apt-get update \\\n+    && apt-get install --no-install-recommends" in diff
    assert "tcc -o /usr/local/bin/hello /src/hello.c" in report["best_dockerfile"]
    assert "apt-get purge -y tcc libc6-dev && apt-get autoremove -y" in report["best_dockerfile"]
    assert report["best_dockerfile"].rstrip().endswith('CMD ["hello"]')
    benchmark.extra_info.update(best=report["best"], best_bytes=best["size_bytes"],
                                expert_bytes=expert_bytes)

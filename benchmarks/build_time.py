"""harness's build_s against the wall time of the user's own command for the same build.

For each builder, interleaved run by run: harness's timed build (harness.build, as the runner
calls it), then `DOCKER_BUILDKIT=0 docker build --no-cache` or `docker buildx build --load
--no-cache`, timed around the whole command (so the CLI's own start-up is in its figure).
Cold builds of busybox plus `RUN dd` of 20 MB. Run:

    python benchmarks/build_time.py [RUNS]

It prints both medians and their ratio per builder (the target: 0.85 to 1.05). Each image is
removed after its build (untimed), so a run leaves nothing in the engine: the builds share one
tag, and each would otherwise leave the one before it dangling.
"""

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import docker.errors

from harness import engine
from harness.bases import ensure_bases
from harness.build import BuildRequest, build
from harness.context import DOCKERFILE_NAME, materialize
from harness.model import Builder
from harness.scenario import all_bases

SCENARIOS = Path(__file__).parent.parent / "scenarios"

DOCKERFILE = "FROM busybox:latest\nRUN dd if=/dev/zero of=/blob bs=1M count=20\n"
COMMANDS = {
    Builder.LEGACY: (["docker", "build", "-q", "--no-cache"], {"DOCKER_BUILDKIT": "0"}),
    Builder.BUILDKIT: (["docker", "buildx", "build", "--load", "-q", "--no-cache"], {}),
}


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    client = engine.connect()
    # made by its recipe in scenarios/bases.yaml where the engine lacks it
    ensure_bases(client, all_bases([SCENARIOS]), ["busybox:latest"], lambda message: None)
    tag = f"harness-bench/build-time:{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        context = materialize(Path(tmp) / "ctx", files={}, dockerfile=DOCKERFILE)
        try:
            for builder, (command, env) in COMMANDS.items():
                ours, theirs = [], []
                for _ in range(runs):
                    outcome = build(builder, BuildRequest(
                        context=context, dockerfile=DOCKERFILE_NAME, tag=tag, labels={},
                        no_cache=True), client)
                    if not outcome.ok:
                        print(outcome.log_tail, file=sys.stderr)
                        return 1
                    ours.append(outcome.build_s)
                    remove(client, outcome.image_id)
                    started = time.perf_counter()
                    made = subprocess.run([*command, "-f", str(context / DOCKERFILE_NAME), "-t",
                                           tag, str(context)], check=True, capture_output=True,
                                          text=True, env={**os.environ, **env})
                    theirs.append(time.perf_counter() - started)
                    remove(client, made.stdout.strip().splitlines()[-1])
                print(f"{builder}: harness build_s {statistics.median(ours):.3f} s, "
                      f"{' '.join(command[:2])} wall {statistics.median(theirs):.3f} s, "
                      f"ratio {statistics.median(ours) / statistics.median(theirs):.2f} "
                      f"(medians of {runs}, interleaved)")
        finally:
            remove(client, tag)
    return 0


def remove(client: docker.DockerClient, image: str | None) -> None:
    """The image a build made (by id, or the shared tag at the end), if it is still there."""
    if image:
        with contextlib.suppress(docker.errors.NotFound):
            client.images.remove(image, force=True)


if __name__ == "__main__":
    raise SystemExit(main())

"""The placeholder bench: one tiny busybox image, one cold build per builder, one timed start.

It exists so `nox -s bench` exercises the engine end to end before the scenario runner
lands. It measures exactly that and nothing more.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from harness import engine
from harness.build import Builder, BuildRequest, build
from harness.errors import HarnessError
from harness.measure import image_facts, time_start

BUSYBOX = Path("/bin/busybox")
TINY_DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["/bin/sh", "-c", "true"]
"""


@dataclass(frozen=True, kw_only=True)
class SmokeResult:
    builder: Builder
    ok: bool
    build_s: float
    size_bytes: int | None
    layer_count: int | None
    start_s: float | None
    error: str | None


def write_busybox_context(directory: Path, dockerfile: str = TINY_DOCKERFILE) -> Path:
    """A build context holding the host's static busybox and the given Dockerfile."""
    if not BUSYBOX.exists():
        raise HarnessError(f"{BUSYBOX} is missing: install Debian's busybox-static "
                           "(`harness engine up` does)")
    shutil.copy2(BUSYBOX, directory / "busybox")
    (directory / "Dockerfile").write_text(dockerfile)
    return directory


def run_smoke() -> list[SmokeResult]:
    client = engine.connect()
    run_id = uuid.uuid4().hex[:12]
    labels = engine.run_labels(run_id)
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="harness-smoke-") as tmp:
            context = write_busybox_context(Path(tmp))
            for builder in Builder:
                request = BuildRequest(context=context, tag=f"harness-smoke:{run_id}-{builder}",
                                       labels=labels, no_cache=True)
                outcome = build(builder, request, client)
                if not outcome.ok or outcome.image_id is None:
                    results.append(SmokeResult(builder=builder, ok=False, build_s=outcome.build_s,
                                               size_bytes=None, layer_count=None, start_s=None,
                                               error=outcome.error))
                    continue
                facts = image_facts(client, outcome.image_id)
                start = time_start(client, outcome.image_id, labels=labels)
                results.append(SmokeResult(builder=builder, ok=start.ok, build_s=outcome.build_s,
                                           size_bytes=facts.size_bytes,
                                           layer_count=facts.layer_count, start_s=start.start_s,
                                           error=start.error))
    finally:
        engine.remove_labelled(client, f"{engine.RUN_LABEL}={run_id}")
        client.close()
    return results


def render(results: list[SmokeResult]) -> str:
    rows = [[r.builder, "ok" if r.ok else f"failed: {r.error}", f"{r.build_s:.2f}",
             r.size_bytes, r.layer_count, f"{r.start_s:.3f}" if r.start_s is not None else "-"]
            for r in results]
    return ("Placeholder bench: one tiny busybox image, one cold build per builder "
            "(the scenario runner is not built yet).\n"
            + tabulate(rows, headers=["builder", "status", "build_s", "size_bytes", "layers",
                                      "start_s"], tablefmt="github"))

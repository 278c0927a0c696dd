"""Helpers shared by test modules."""

import shutil
import subprocess
from pathlib import Path

import docker
import pytest

from harness import buildah
from harness.build import BuildOutcome, BuildRequest, build, loaded_into_engine
from harness.model import Builder

ARTIFACTS = Path(__file__).parent / "artifacts"
REAL_RESULTS = Path(__file__).parent / "data" / "results-v3.json"
"""A real results file of the current schema (see tests/data/README.md)."""
REAL_RESULTS_V2 = Path(__file__).parent / "data" / "results-v2.json"
"""The same scenario's results file of schema 2, which `store.load` migrates."""


def image_ids(client: docker.DockerClient) -> set[str]:
    """Every image on the engine, untagged step images too: what a test compares before and
    after to see that nothing was left behind."""
    return {image.id for image in client.images.list(all=True)}


def write_busybox_context(directory: Path, dockerfile: str) -> Path:
    """A build context holding the host's static busybox and the given Dockerfile."""
    shutil.copy2("/bin/busybox", directory / "busybox")
    (directory / "Dockerfile").write_text(dockerfile)
    return directory


def built_in_engine(client: docker.DockerClient, builder: Builder, request: BuildRequest,
                    bases: tuple[str, ...] = ()) -> BuildOutcome:
    """A build whose image is in the engine, as the runner makes it: for buildah, the bases
    copied into its storage first and its image loaded afterwards."""
    if builder is Builder.BUILDAH:
        for base in bases:
            buildah.copy_base(client, base)
    return loaded_into_engine(client, build(builder, request, client))


def render_in_chromium(page: Path, tmp_path: Path, artifact: str) -> None:
    """Render a page in headless Chromium: no console errors, a screenshot with content,
    kept as tests/artifacts/<artifact>."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Chromium is missing: `apt-get install chromium` (nox -s tests does)")
    screenshot = tmp_path / artifact
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
         "--v=0", "--window-size=1200,1600", f"--screenshot={screenshot}", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert result.returncode == 0, result.stderr[-2000:]
    assert console == []
    assert screenshot.stat().st_size > 20_000  # a page with charts, not a blank one
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(screenshot, ARTIFACTS / artifact)

"""Every bundled scenario in its quick form on the real engine: it builds, and each claim the
quick subset can test comes out as the scenario states it (known-false ones included).
distribution.yaml has no quick form (it needs a registry and the CI runner): it runs whole,
one build per variant, builder and cache mode (about 30 s)."""

import subprocess
import sys
from pathlib import Path

import pytest

from harness import store
from harness.scenario import SHARED_BASES_FILE, scenario_files

pytestmark = pytest.mark.docker
SCENARIOS = Path(__file__).parent.parent / "scenarios"


ONE_STORE = {"autoremove", "nodocs", "package-cache"}
"""Scenarios whose claims are sizes and waste only, which harness defines alike on both stores:
their quick forms run on the default engine only, to keep CI's engines session short (the
nightly runs every scenario in full on both). The others judge the cache, squash methods, a
registry or start times, which the stores do differently, and run on both."""


@pytest.mark.parametrize("path", [
    pytest.param(p, marks=[pytest.mark.one_store] if p.stem in ONE_STORE else [])
    for p in scenario_files([SCENARIOS]) if p.name != SHARED_BASES_FILE],
    ids=lambda path: path.stem)
def test_bundled_scenario_quick_form(path: Path, tmp_path: Path) -> None:
    quick = [] if path.stem == "distribution" else ["--quick"]
    done = subprocess.run([sys.executable, "-m", "harness", "run", *quick, str(path),
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (results,) = tmp_path.glob("*.json")
    document = store.load(results)
    assert document["state"] == "complete"
    claims = document["expectations"]
    assert claims, "the quick subset tests none of the scenario's claims"
    assert all(c["as_expected"] for c in claims)

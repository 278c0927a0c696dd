"""The bench's pytest-benchmark side without an engine: `pytest-benchmark compare` from the repo
root, in an interpreter without the test extras (as in `nox -s bench`'s virtualenv)."""

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).parent.parent

WITHOUT_TEST_EXTRAS = """
import importlib.abc, sys

class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "hypothesis":
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, Missing())
from pytest_benchmark.cli import main
sys.argv = ["pytest-benchmark", *sys.argv[1:]]
main()
"""


def test_pytest_benchmark_compare_works_from_the_repo_root(tmp_path: Path) -> None:
    store = tmp_path / "store"
    (tmp_path / "test_tiny.py").write_text(
        "def test_tiny(benchmark):\n    benchmark(sum, range(10))\n")
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    "--rootdir", str(tmp_path), "--benchmark-autosave",
                    f"--benchmark-storage={store}", str(tmp_path / "test_tiny.py")],
                   cwd=tmp_path, check=True, capture_output=True)
    result = subprocess.run([sys.executable, "-c", WITHOUT_TEST_EXTRAS, "--storage", str(store),
                             "compare"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "test_tiny" in result.stdout

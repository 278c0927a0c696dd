"""The runner's pure decisions; its builds are tested in test_integ_runner.py."""

import pytest

from harness.model import CacheMode, Variant
from harness.runner import cache_warning, unique_change

VARIANT = Variant(name="v", dockerfile="FROM a\nRUN deps\nCOPY . .\nRUN build\n",
                  dockerfile_origin="x:1")


@pytest.mark.parametrize(("cache", "total", "cached", "warning"), [
    (CacheMode.WARM, 3, 3, None),
    (CacheMode.WARM, 3, 0, "warm build not fully cached: 0/3 steps"),
    (CacheMode.INCREMENTAL, 3, 1, None),
    (CacheMode.INCREMENTAL, 3, 0, "incremental build cached 0 step(s); the 1 before the "
                                  "first COPY/ADD of the context should be"),
    (CacheMode.COLD, 3, 0, None),
])
def test_a_build_that_missed_the_cache_its_mode_implies_is_flagged(cache, total, cached,
                                                                   warning):
    assert cache_warning(cache, VARIANT, total, cached) == warning


def test_each_incremental_change_is_new():
    assert unique_change("# edit {nonce}\n", "r1-3") == "# edit r1-3\n"
    assert unique_change("# edit\n", "r1-3") == "# edit r1-3\n"

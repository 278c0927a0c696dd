"""The matrix stage: selection, quick subsets, shards, repetitions."""

import argparse

import pytest

from harness.matrix import matrix, options_for, parse_shard, planned_samples
from harness.model import Builder, CacheMode, RunOptions
from harness.scenario import load_scenario

from .test_merge import SCENARIO


@pytest.fixture
def scenario(tmp_path):
    path = tmp_path / "sizes.yaml"
    path.write_text(SCENARIO + "quick: {variants: [small], builders: [buildkit]}\n")
    return load_scenario(path)


def test_shards_are_disjoint_deterministic_and_cover_the_matrix(scenario):
    full = [(s.name, v.name, b) for s, v, b in matrix([scenario], RunOptions())]
    assert len(full) == 6  # 3 variants × 2 builders
    shards = [[(s.name, v.name, b) for s, v, b in matrix([scenario], RunOptions(shard=(i, 4)))]
              for i in range(1, 5)]
    assert sorted(t for shard in shards for t in shard) == sorted(full)
    assert sum(len(shard) for shard in shards) == len(full)
    assert shards[0] == [full[0], full[4]]
    assert [len(shard) for shard in shards] == [2, 2, 1, 1]
    assert shards == [[(s.name, v.name, b) for s, v, b in
                       matrix([scenario], RunOptions(shard=(i, 4)))] for i in range(1, 5)]



def test_quick_means_its_subset_one_repetition_cold_and_warm(scenario):
    quick = options_for(quick=True)
    assert (quick.cache, quick.repeat) == ((CacheMode.COLD, CacheMode.WARM), 1)
    assert [(v.name, b) for _, v, b in matrix([scenario], quick)] == [("small", Builder.BUILDKIT)]
    assert planned_samples([scenario], quick) == 2
    assert options_for(quick=True, repeat=3, cache=(CacheMode.COLD,)).repeat == 3


def test_selection_by_text_and_builder(scenario):
    options = RunOptions(select="sizes/b", builders=(Builder.LEGACY,))
    assert [(v.name, b) for _, v, b in matrix([scenario], options)] == [("big", Builder.LEGACY)]
    assert planned_samples([scenario], options) == 2 * 3  # cold and warm, repeat 3


@pytest.mark.parametrize(("text", "shard"), [("1/1", (1, 1)), ("2/4", (2, 4))])
def test_shard_arguments(text, shard):
    assert parse_shard(text) == shard


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0", "-1/2"])
def test_bad_shard_arguments_say_what_is_expected(text):
    with pytest.raises(argparse.ArgumentTypeError, match="expected I/N"):
        parse_shard(text)


def test_an_empty_quick_list_leaves_the_scenario_out_of_quick(tmp_path):
    (tmp_path / "s.yaml").write_text(
        'quick: {variants: []}\nvariants:\n  a: {dockerfile: "FROM scratch\\n"}\n')
    scenario = load_scenario(tmp_path / "s.yaml")
    assert matrix([scenario], options_for(quick=True)) == []
    assert len(matrix([scenario], options_for())) == 2  # both builders

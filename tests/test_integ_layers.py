"""Layer analysis against independent ground truth, on the real engine."""

from pathlib import Path

import pytest

from harness import engine
from harness import layers as layers_module
from harness.bases import ensure_bases
from harness.build import BuildRequest
from harness.context import DOCKERFILE_NAME, materialize
from harness.dockerfile import base_images
from harness.images import analyse_engine_image
from harness.model import Builder
from harness.scenario import all_bases

from .helpers import built_in_engine

pytestmark = pytest.mark.docker
SCENARIOS = Path(__file__).parent.parent / "scenarios"


def built(client, dockerfile: str, builder: Builder, labels, tmp_path: Path) -> str:
    context = materialize(tmp_path / f"ctx-{builder}", dockerfile=dockerfile, files={})
    outcome = built_in_engine(client, builder, BuildRequest(
        context=context, dockerfile=DOCKERFILE_NAME,
        tag=f"harness-test:{labels['harness.run']}-{builder}", labels=labels, no_cache=True),
        bases=tuple(base_images(dockerfile, {})))
    assert outcome.ok, outcome.log_tail
    assert outcome.image_id
    return outcome.image_id


@pytest.fixture(scope="module")
def bases(docker_client):
    ensure_bases(docker_client, all_bases([SCENARIOS]), ["busybox:latest", "debian:bookworm"],
                 lambda message: None)


@pytest.mark.parametrize("builder", list(Builder))
def test_a_file_written_then_deleted_is_exactly_the_waste(docker_client, bases, test_labels,
                                                          tmp_path, builder):
    image = built(docker_client, (
        "FROM busybox:latest\n"
        "RUN dd if=/dev/zero of=/junk bs=1000 count=1234\n"
        "RUN head -c 777 /dev/zero > /kept && head -c 4321 /dev/zero > /replaced\n"
        "RUN rm /junk && head -c 10 /dev/zero > /replaced\n"), builder, test_labels, tmp_path)
    result = analyse_engine_image(docker_client, image, cache_dir=tmp_path / "cache")
    assert result.wasted_bytes == 1_234_000 + 4321
    assert {(w.path, w.size_bytes, w.how) for w in result.top_waste} == {
        ("junk", 1_234_000, "deleted"), ("replaced", 4321, "replaced")}
    assert [r.wasted_bytes for r in result.layers][-3:] == [1_234_000, 4321, 0]
    assert 0 < result.compressed_bytes < docker_client.api.inspect_image(image)["Size"]


def test_each_layer_is_analysed_once_across_images(docker_client, bases, test_labels, tmp_path,
                                                   monkeypatch):
    analysed = []
    real = layers_module.analyse_layer
    monkeypatch.setattr(layers_module, "analyse_layer",
                        lambda *args: analysed.append(1) or real(*args))
    cache = tmp_path / "cache"
    first = built(docker_client, "FROM busybox:latest\nRUN echo one > /one\n", Builder.LEGACY,
                  test_labels, tmp_path / "a")
    second = built(docker_client, "FROM busybox:latest\nRUN echo two > /two\n", Builder.BUILDKIT,
                   test_labels, tmp_path / "b")
    analyse_engine_image(docker_client, first, cache_dir=cache)
    assert len(analysed) == 3  # busybox's two layers and the variant's own
    analyse_engine_image(docker_client, second, cache_dir=cache)
    assert len(analysed) == 4  # only the new top layer
    analyse_engine_image(docker_client, second, cache_dir=cache)
    assert len(analysed) == 4  # nothing new: not even a docker save


def test_apt_waste_matches_what_squashing_removes(docker_client, bases, test_labels, tmp_path):
    """Independent truth: the bytes squashing over the base removes are the wasted bytes."""
    if engine.image_store(docker_client.info()) == "containerd":
        pytest.skip("legacy --squash, the truth here, is not implemented on the containerd "
                    "image store (and its .Size is compressed)")
    dockerfile = ("FROM debian:bookworm\nRUN apt-get update\n"
                  "RUN apt-get install -y --no-install-recommends curl\n"
                  "RUN apt-get clean && rm -rf /var/lib/apt/lists/*\n")
    context = materialize(tmp_path / "ctx", dockerfile=dockerfile, files={})
    images = {}
    for squash in (False, True):
        tag = f"harness-test:{test_labels['harness.run']}-{'squashed' if squash else 'plain'}"
        for chunk in docker_client.api.build(path=str(context), dockerfile=DOCKERFILE_NAME,
                                             tag=tag, labels=test_labels, squash=squash,
                                             rm=True, forcerm=True, decode=True):
            assert "error" not in chunk, chunk
        images[squash] = docker_client.api.inspect_image(tag)
    base_layers = len(docker_client.api.inspect_image("debian:bookworm")["RootFS"]["Layers"])
    assert len(images[False]["RootFS"]["Layers"]) == base_layers + 3
    assert len(images[True]["RootFS"]["Layers"]) == base_layers + 1
    squashed = analyse_engine_image(docker_client, images[True]["Id"],
                                    cache_dir=tmp_path / "cache")
    assert squashed.wasted_bytes < 2_000_000  # only base files apt replaced remain
    result = analyse_engine_image(docker_client, images[False]["Id"],
                                  cache_dir=tmp_path / "cache")
    truth = images[False]["Size"] - images[True]["Size"]
    print(f"wasted {result.wasted_bytes} vs size - squashed size {truth}")
    assert truth > 50_000_000  # the apt lists and the .deb cache
    assert abs(result.wasted_bytes - truth) <= 0.02 * truth

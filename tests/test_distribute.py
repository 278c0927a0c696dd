"""Reading what `docker push` uploaded and `docker pull` fetched (recorded output of Docker
20.10 against distribution 2.8), and what an image adds to its scenario's baseline."""

import json
from pathlib import Path

from harness.distribute import Pushed, fetched_bytes, uploaded_bytes

DATA = Path(__file__).parent / "data"
MANIFEST = json.loads((DATA / "registry-manifest.json").read_text())
MANIFEST_DIGEST, MANIFEST_SIZE = "sha256:bf95ec85ad26", 946
BASE_LAYERS = [layer["digest"] for layer in MANIFEST["layers"][:2]]
DIFF_IDS = ["sha256:2650ea7c65821944a2cec41ba7ec2374a738f2d4c72d2d1ee7c971675c7fe35d",
            "sha256:6dd14091a12ea6aef30be9b0803a5fd1002cbe2ecae338e9fd0fc8f548beef67",
            "sha256:931ab28515b5fe8a686c7fdce21eba5fec8c92af64e2756a0256510e9be8ced2"]
PUSHED = Pushed(
    blobs={MANIFEST_DIGEST: MANIFEST_SIZE, MANIFEST["config"]["digest"]: 2416,
           **{layer["digest"]: layer["size"] for layer in MANIFEST["layers"]}},
    manifests=[MANIFEST_DIGEST], fetched=(MANIFEST_DIGEST, MANIFEST["config"]["digest"]),
    layers=[(layer["digest"], layer["size"]) for layer in MANIFEST["layers"]])
BASE = {digest: 1 for digest in BASE_LAYERS}


def test_push_counts_the_layers_docker_pushed_and_the_new_config_and_manifest():
    output = (DATA / "docker-push.txt").read_text()
    # 931ab28515b5 (diff ID) Pushed: its blob 100,234 bytes; config 2,416; manifest 946
    assert uploaded_bytes(output, PUSHED, DIFF_IDS, BASE) == 100_234 + 2_416 + 946


def test_push_of_nothing_new_uploads_only_what_the_registry_lacks():
    everything_there = "\n".join(f"{d[7:19]}: Layer already exists" for d in DIFF_IDS)
    assert uploaded_bytes(everything_there, PUSHED, DIFF_IDS, PUSHED.blobs) == 0


def test_pull_counts_what_was_not_already_there():
    output = (DATA / "docker-pull.txt").read_text()
    assert fetched_bytes(output, PUSHED, BASE) == (100_234 + 2_416 + 946, [])


def test_a_base_layer_fetched_again_is_not_the_images_cost():
    output = (DATA / "docker-pull.txt").read_text().replace(
        "f46816bb4c57: Already exists", "f46816bb4c57: Pull complete")
    assert fetched_bytes(output, PUSHED, BASE) == (100_234 + 2_416 + 946, [])


def test_a_pull_that_found_the_images_own_layer_is_not_cold():
    output = (DATA / "docker-pull.txt").read_text().replace(
        "f437fc7d3eef: Pull complete", "f437fc7d3eef: Already exists")
    assert fetched_bytes(output, PUSHED, BASE)[1] == [MANIFEST["layers"][2]["digest"]]


def test_a_pull_fetches_no_attestation_buildx_lists_in_the_index():
    """BuildKit on Docker 26 pushes an index with a provenance attestation manifest (its own
    config and in-toto layer); `docker pull` fetches the index, the image's manifest, its
    config and layers, never the attestation (measured: 1,819 bytes over the registry's own
    log otherwise)."""
    from dataclasses import replace

    attested = replace(PUSHED, blobs={**PUSHED.blobs, "sha256:index": 856,
                                      "sha256:attestation": 566, "sha256:att-config": 167,
                                      "sha256:in-toto": 1086},
                       fetched=("sha256:index", MANIFEST_DIGEST, MANIFEST["config"]["digest"]))
    output = (DATA / "docker-pull.txt").read_text()
    assert fetched_bytes(output, attested, BASE) == (856 + 100_234 + 2_416 + 946, [])

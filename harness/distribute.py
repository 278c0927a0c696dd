"""Distribution cost on a real registry: what `docker push` sends and `docker pull` fetches.

One measurement, for a cold build's image (warm and incremental builds need the image kept
as cache, and push the same content):

- the image is pushed with the docker CLI into a repository of its own in the registry,
  which already holds the variant's base (pushed untimed first: a real registry has the
  base, as a real host does). `push_s` is that `docker push`; `push_bytes` the blobs it
  uploaded: the layers the CLI reports `Pushed`, with their sizes from the pushed manifest,
  plus the config and the manifest when the base did not have them;
- then the image is pulled where none of its own layers is: on the run's throwaway
  `ci-runner` engine (harness.remote), emptied first and given the variant's base (as a
  host has the base), so every builder's image gets a cold pull. `pull_s` is that
  `docker pull`; `pull_bytes` the manifest, the config and the layers the CLI did not
  report `Already exists`. Where no throwaway engine can be started (it needs root), the
  image is removed locally instead, with the layers only it holds, and pulled back; when
  one of its own layers was there already the pull was not cold and is not recorded:
  BuildKit's build cache keeps the layers of what it built (on the classic store,
  measured: 2,850 of 6,297,406 bytes fetched), and pruning it would delete the user's
  cache too;
- `compressed_bytes` is then the manifest's layer sizes: real blobs, not an estimate;
- every blob of the image (digest and size) is kept for `push_after_baseline_bytes`, the
  bytes of the variant's blobs the baseline's image does not have: the registry stores a
  blob once per digest, so that is what a push after the baseline uploads.

The repository is deleted afterwards through the registry's API (manifests, then blob
links): a later push of the same blobs uploads them again instead of mounting them from it.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import docker
import requests

from harness import engine
from harness.model import Run, Sample

MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json"])
INDEX_TYPES = ("application/vnd.docker.distribution.manifest.list.v2+json",
               "application/vnd.oci.image.index.v1+json")
TIMEOUT_S = 600
_STATUS = re.compile(r"^([0-9a-f]{12}): (.+)$", re.MULTILINE)


class DistributionError(Exception):
    pass


@dataclass(frozen=True, kw_only=True)
class Distribution:
    push_s: float
    push_bytes: int
    pull_s: float | None
    """None when the pull was not cold (pull_not_cold says why)."""
    pull_bytes: int | None
    compressed_bytes: int
    """The layers' blob sizes in the pushed manifest."""
    blobs: dict[str, int] = field(default_factory=dict)
    """Every blob of the image in the registry (manifests, config, layers): digest → bytes."""
    pull_not_cold: str | None = None
    """Why the pull was not recorded: some of the image's own layers were still there."""


@dataclass(frozen=True, kw_only=True)
class Pushed:
    """What the registry holds of one pushed tag."""

    blobs: dict[str, int]
    manifests: list[str]
    """The manifest digests (an index and the manifests it lists)."""
    layers: list[tuple[str, int]]
    """(blob digest, size) of the image's layers, in order."""
    fetched: tuple[str, ...]
    """What a pull fetches besides layers: the index (if any), the image's manifest and its
    config; not the attestation manifests buildx lists in the index, nor their blobs."""


class ColdEngine(Protocol):
    """An engine of harness's own to pull on (harness.remote.RemoteRunner)."""

    host: str
    client: docker.DockerClient

    def make_cold(self, source: docker.DockerClient, bases: list[str]) -> None: ...


def distribute(client: docker.DockerClient, registry: str, repository: str, image_id: str,
               base: str | None, note_tag: Callable[[str], None],
               puller: ColdEngine | None = None) -> Distribution:
    """Push (timed) into `registry`/`repository`, which holds `base` first; pull it (timed) on
    `puller`, emptied but for the base, or else remove the image locally and pull it back.
    `note_tag` records each tag made, so cleanup finds it whatever stops the run."""
    name = f"{registry}/{repository}"
    try:
        base_blobs: dict[str, int] = {}
        if base:
            _tag(client, base, f"{name}:base", note_tag)
            docker_cli_call("push", f"{name}:base")
            base_blobs = registry_image(registry, repository, "base").blobs
        _tag(client, image_id, f"{name}:image", note_tag)
        diff_ids = client.api.inspect_image(image_id)["RootFS"]["Layers"]
        push_s, output = docker_cli_call("push", f"{name}:image")
        pushed = registry_image(registry, repository, "image")
        push_bytes = uploaded_bytes(output, pushed, diff_ids, base_blobs)
        if puller is not None:
            puller.make_cold(client, [base] if base else [])
        else:
            with contextlib.suppress(docker.errors.NotFound):
                client.images.remove(image_id, force=True)
        pull_s, output = docker_cli_call("pull", f"{name}:image",
                                         host=puller.host if puller else None)
        pull_bytes, held = fetched_bytes(output, pushed, base_blobs)
        return Distribution(
            push_s=push_s, push_bytes=push_bytes, pull_s=None if held else pull_s,
            pull_bytes=None if held else pull_bytes,
            compressed_bytes=sum(size for _, size in pushed.layers), blobs=pushed.blobs,
            pull_not_cold=f"pull not measured: {len(held)} of the image's own layers stayed "
                          "on the engine after removing it (BuildKit's build cache holds "
                          "them; harness never prunes your build cache)" if held else None)
    finally:
        delete_repository(registry, repository)
        if puller is not None:
            with contextlib.suppress(docker.errors.APIError):
                puller.client.images.remove(f"{name}:image", force=True)
        for tag in (f"{name}:image", f"{name}:base"):
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(tag)


def sample_fields(client: docker.DockerClient, run: Run, sample: Sample, image_id: str,
                  base: str | None, puller: ColdEngine | None) -> dict[str, Any]:
    """A cold sample's distribution fields, its image's blobs among them: in a repository of
    the run's, named after the sample; its tags noted in the run's ledger."""
    assert run.options.registry is not None
    ledger = engine.ledger_path(run.run_id)
    repository = run_registry_repository(
        run.run_id, f"{sample.scenario}/{sample.variant}-{sample.builder}-{sample.repetition}")
    try:
        shipped = distribute(client, run.options.registry, repository, image_id, base,
                             note_tag=lambda tag: engine.note_leftovers(ledger, [], tags=[tag]),
                             puller=puller)
    except (DistributionError, docker.errors.APIError) as error:
        return {"distribution_error": str(error)}
    return {"push_s": shipped.push_s, "push_bytes": shipped.push_bytes,
            "pull_s": shipped.pull_s, "pull_bytes": shipped.pull_bytes,
            "compressed_bytes": shipped.compressed_bytes, "compressed_stored": True,
            "distribution_error": shipped.pull_not_cold, "pushed_blobs": shipped.blobs}


def run_registry_repository(run_id: str, path: str) -> str:
    """A repository of the run's in a registry: its run repository, then `path`, in the
    characters a repository name allows."""
    return re.sub(r"[^a-z0-9._/-]+", "-", f"{engine.run_repository(run_id)}/{path}".lower())


def uploaded_bytes(push_output: str, pushed: Pushed, diff_ids: list[str],
                   base_blobs: dict[str, int]) -> int:
    """The layers `docker push` reported Pushed (it names them by diff ID on the classic
    store, by blob digest on containerd's), and the manifests and config the base lacks."""
    uploaded = {short for short, status in _STATUS.findall(push_output) if status == "Pushed"}
    layers = sum(size for (digest, size), diff_id in zip(pushed.layers, diff_ids, strict=False)
                 if _short(digest) in uploaded or _short(diff_id) in uploaded)
    return layers + sum(size for digest, size in pushed.blobs.items()
                        if digest not in base_blobs and not _is_layer(digest, pushed))


def fetched_bytes(pull_output: str, pushed: Pushed,
                  base_blobs: dict[str, int]) -> tuple[int, list[str]]:
    """What `docker pull` fetched of the image's own: the manifests, the config and the layers
    it did not report `Already exists`, not counting the base's (on the containerd store an
    imported base keeps no compressed blob, so its layer is fetched again: an artefact of
    harness's bases, not a cost of the image); and the image's own layers that were there
    already."""
    present = {short for short, status in _STATUS.findall(pull_output)
               if status == "Already exists"}
    own = [(digest, size) for digest, size in pushed.layers if digest not in base_blobs]
    held = [digest for digest, _ in own if _short(digest) in present]
    return sum(pushed.blobs[digest] for digest in pushed.fetched) \
        + sum(size for digest, size in own if _short(digest) not in present), held


def registry_image(registry: str, repository: str, tag: str) -> Pushed:
    """The blobs the registry holds for repository:tag, from its manifests."""
    manifest, digest, size = _manifest(registry, repository, tag)
    blobs = {digest: size}
    manifests = [digest]
    fetched = [digest]
    if manifest.get("mediaType") in INDEX_TYPES or "manifests" in manifest:
        chosen = None
        for entry in manifest["manifests"]:  # the image, and attestations buildx adds
            child, child_digest, child_size = _manifest(registry, repository, entry["digest"])
            blobs[child_digest] = child_size
            manifests.append(child_digest)
            blobs |= _blob_sizes(child)
            if entry.get("platform", {}).get("os") not in (None, "unknown") and chosen is None:
                chosen = child
                fetched.append(child_digest)
        manifest = chosen or manifest
    blobs |= _blob_sizes(manifest)
    if "config" in manifest:
        fetched.append(manifest["config"]["digest"])
    return Pushed(blobs=blobs, manifests=manifests, fetched=tuple(fetched),
                  layers=[(layer["digest"], layer["size"]) for layer in manifest["layers"]])


def delete_repository(registry: str, repository: str,
                      tags: tuple[str, ...] = ("image", "base")) -> None:
    """Delete what harness pushed there: the tags' manifests, then the blob links."""
    base_url = f"http://{registry}/v2/{repository}"
    for tag in tags:
        try:
            pushed = registry_image(registry, repository, tag)
        except DistributionError:
            continue
        with contextlib.suppress(requests.RequestException):  # a registry gone: nothing left
            for digest in pushed.manifests:
                requests.delete(f"{base_url}/manifests/{digest}", timeout=30)
            for digest in pushed.blobs:
                if digest not in pushed.manifests:
                    requests.delete(f"{base_url}/blobs/{digest}", timeout=30)


def _manifest(registry: str, repository: str, reference: str) -> tuple[dict, str, int]:
    try:
        answer = requests.get(f"http://{registry}/v2/{repository}/manifests/{reference}",
                              headers={"Accept": MANIFEST_TYPES}, timeout=30)
    except requests.RequestException as error:
        raise DistributionError(f"the registry at {registry} does not answer: {error}") \
            from None
    if answer.status_code != 200:
        raise DistributionError(f"the registry has no manifest {repository}:{reference} "
                                f"(HTTP {answer.status_code})")
    return answer.json(), answer.headers["Docker-Content-Digest"], len(answer.content)


def _blob_sizes(manifest: dict) -> dict[str, int]:
    entries = [manifest["config"], *manifest.get("layers", [])] if "config" in manifest else []
    return {entry["digest"]: entry["size"] for entry in entries}


def _is_layer(digest: str, pushed: Pushed) -> bool:
    return any(digest == layer for layer, _ in pushed.layers)


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def _tag(client: docker.DockerClient, image: str, reference: str,
         note_tag: Callable[[str], None]) -> None:
    repository, _, tag = reference.rpartition(":")
    note_tag(reference)
    client.api.tag(image, repository, tag)


def docker_cli_call(command: str, reference: str, host: str | None = None
                    ) -> tuple[float, str]:
    """The docker CLI's push or pull, as a user runs it, timed; nothing else in the window.
    `host`: another engine than DOCKER_HOST's."""
    cli = engine.docker_cli()
    environment = {**os.environ, "DOCKER_HOST": host} if host else None
    started = time.perf_counter()
    result = subprocess.run([cli, command, reference], capture_output=True, text=True,
                            timeout=TIMEOUT_S, check=False, env=environment)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise DistributionError(f"docker {command} {reference} failed: "
                                f"{(result.stderr or result.stdout).strip()[-2000:]}")
    return elapsed, result.stdout

"""Image transforms applied after a build: the squash methods the seed asks about.

`legacy` squash happens inside the legacy build (`--squash`), so it is not here. The others
take a built image and return a new one; the time they take is `transform_s`, never part of
`build_s`.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import docker
import docker.errors
from docker_squash.errors import Error as SquashError
from docker_squash.squash import Squash as DockerSquash

from harness import engine
from harness.build import BuildOutcome
from harness.dockerfile import split_reference
from harness.model import Squash


@dataclass(frozen=True, kw_only=True)
class TransformOutcome:
    ok: bool
    image_id: str | None
    transform_s: float
    error: str | None = None


def transform(client: docker.DockerClient, method: Squash, image_id: str, *, tag: str,
              labels: Mapping[str, str], squash_from: str | None,
              restore_config: bool) -> TransformOutcome:
    """Apply `method` to the image; the result is tagged `tag` and carries `labels`."""
    started = time.perf_counter()
    try:
        if method is Squash.DOCKER_SQUASH:
            new_id = docker_squash(client, image_id, tag, squash_from)
        elif method is Squash.EXPORT_IMPORT:
            new_id = export_import(client, image_id, tag, labels, restore_config)
        elif method is Squash.SAVE_LOAD:
            new_id = save_load(client, image_id, tag)
        else:
            raise ValueError(f"{method} is not a post-build transform")
    except (docker.errors.APIError, SquashError) as error:
        return TransformOutcome(ok=False, image_id=None, error=f"{method} failed: {error}",
                                transform_s=time.perf_counter() - started)
    return TransformOutcome(ok=True, image_id=new_id, transform_s=time.perf_counter() - started)


def docker_squash(client: docker.DockerClient, image_id: str, tag: str,
                  squash_from: str | None) -> str:
    """goldmann's docker-squash as a library: squash onto `squash_from`.

    `squash_from` is a base image (its history entries are kept), a number of history
    entries to squash, or None for all. A base is turned into a count, because BuildKit
    images have no parent chain in which docker-squash could find the base by id.
    """
    count = squash_from
    if squash_from is not None and not squash_from.isdigit():
        count = str(len(client.api.history(image_id)) - len(client.api.history(squash_from)))
    squasher = DockerSquash(log=logging.getLogger("harness.docker-squash"), image=image_id,
                            docker=client.api, from_layer=count, tag=tag, cleanup=False)
    return str(client.images.get(squasher.run() or tag).id)


def export_import(client: docker.DockerClient, image_id: str, tag: str,
                  labels: Mapping[str, str], restore_config: bool) -> str:
    """`docker export` of a container, `docker import` of the tarball.

    Import drops the image config; with `restore_config` it is put back through import
    changes (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, labels). Without it only harness's
    own labels are set, and the image has no command: the seed's "cannot start".
    """
    config = client.api.inspect_image(image_id)["Config"]
    changes = [label_change({**(config.get("Labels") or {}), **labels} if restore_config
                             else dict(labels))]
    if restore_config:
        changes += restored_config(config)
    container = client.api.create_container(image_id, command=["harness-export"],
                                            labels=dict(labels))
    try:
        repository, name = split_reference(tag)
        result = client.api.import_image(src=_export(client, container["Id"]),
                                         repository=repository, tag=name, changes=changes)
    finally:
        engine.remove_container(client, container["Id"])
    status = json.loads(result.strip().splitlines()[-1])["status"] if isinstance(result, str) \
        else result["status"]
    return str(client.images.get(status.strip()).id)


def restored_config(config: Mapping[str, object]) -> list[str]:
    """Dockerfile instructions that give an imported image its original config back."""
    changes = []
    for key, instruction in (("Cmd", "CMD"), ("Entrypoint", "ENTRYPOINT")):
        if config.get(key):
            changes.append(f"{instruction} {json.dumps(config[key])}")
    for variable in config.get("Env") or []:  # type: ignore[attr-defined]
        name, _, value = str(variable).partition("=")
        changes.append(f"ENV {name}={json.dumps(value)}")
    if config.get("WorkingDir"):
        changes.append(f"WORKDIR {config['WorkingDir']}")
    if config.get("User"):
        changes.append(f"USER {config['User']}")
    for port in config.get("ExposedPorts") or {}:  # type: ignore[attr-defined]
        changes.append(f"EXPOSE {port}")
    return changes


def save_load(client: docker.DockerClient, image_id: str, tag: str) -> str:
    """`docker save`, remove the image, `docker load`: what survives the round trip.

    The image (and the step images behind it) are removed before loading, so the loaded
    copy is all the engine has: a following legacy build shows whether it serves as cache.
    """
    with tempfile.TemporaryFile(prefix="harness-save-") as archive:
        for chunk in client.api.get_image(image_id):
            archive.write(chunk)
        client.images.remove(image_id, force=True)
        archive.seek(0)
        for _ in client.api.load_image(archive):
            pass
    client.api.tag(image_id, *split_reference(tag))
    return str(client.images.get(image_id).id)


def _export(client: docker.DockerClient, container_id: str) -> Iterator[bytes]:
    yield from client.api.export(container_id)


def label_change(labels: Mapping[str, str]) -> str:
    return "LABEL " + " ".join(f"{json.dumps(k)}={json.dumps(v)}" for k, v in labels.items())


@dataclass(frozen=True, kw_only=True)
class Made:
    """A build, and the variant's post-build transform of its image when it has one."""

    build: BuildOutcome
    transform: TransformOutcome | None = None

    @property
    def image_id(self) -> str | None:
        return self.transform.image_id if self.transform else self.build.image_id

    @property
    def error(self) -> str | None:
        if not self.build.ok:
            return f"{self.build.error}\n{self.build.log_tail}"
        return self.transform.error if self.transform and not self.transform.ok else None

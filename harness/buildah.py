"""Buildah's side of the buildah builder: harness's own containers-storage, and moving images
between it and the Docker engine, so buildah's images are measured by the same code as the
other builders' (harness.build drives the build itself).

The storage is harness's alone (`--root` under harness's state directory, `--runroot` in a
temporary folder of its own), so nothing in it is the user's: `harness clean` may empty it,
and the user's own `buildah images` never shows harness's. buildah runs as the calling user
(rootless on a CI runner), never through sudo.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

from harness import engine, state_home
from harness.errors import HarnessError
from harness.provision import Log, apt_install, dpkg_installed, last_lines, why_cannot_provision

DRIVERS = ("overlay", "vfs")
RUNTIMES = ("runc", "crun")
MISSING = "buildah is not installed: `harness engine up --buildah` installs Debian's buildah"
IMAGE_FORMAT = "docker"
"""`buildah build --format`: Docker's image format, which keeps SHELL, HEALTHCHECK, ONBUILD and
STOPSIGNAL. In buildah's default, OCI, they are dropped with a warning ("SHELL is not
supported for OCI image format"), so the same Dockerfile would mean something else to
buildah than to Docker's builders; the images are loaded into Docker anyway."""


class BuildahError(HarnessError):
    pass


@dataclass(frozen=True, kw_only=True)
class Storage:
    root: Path
    runroot: Path
    driver: str
    why: str
    """Why this driver: overlay where buildah can mount it here, else vfs and overlay's error."""

    def command(self, *args: str) -> list[str]:
        return ["buildah", "--root", str(self.root), "--runroot", str(self.runroot),
                "--storage-driver", self.driver, *args]


def version() -> str | None:
    """`buildah --version`'s number, None when buildah is not installed."""
    if not shutil.which("buildah"):
        return None
    result = subprocess.run(["buildah", "--version"], capture_output=True, text=True,
                            check=False)
    words = result.stdout.split()
    return words[2] if result.returncode == 0 and len(words) > 2 else None


def storage_dir() -> Path:
    return state_home() / "buildah"


def storage() -> Storage:
    """harness's containers-storage. The driver is chosen the first time and kept beside it
    (a store cannot change driver): overlay when `buildah info` can set it up here, else vfs,
    which copies every layer whole (slower commits, more disk, same images)."""
    directory = storage_dir()
    runroot = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / \
        f"harness-buildah-{os.getuid()}"
    chosen = directory / "driver.json"
    if chosen.exists():
        kept = json.loads(chosen.read_text())
        return Storage(root=directory / "root", runroot=runroot, driver=kept["driver"],
                       why=kept["why"])
    directory.mkdir(parents=True, exist_ok=True)
    probe = Storage(root=directory / "root", runroot=runroot, driver="overlay", why="")
    tried = subprocess.run(probe.command("info"), capture_output=True, text=True, check=False)
    if tried.returncode == 0:
        why = "overlay: buildah's overlay driver works on this host"
    else:
        shutil.rmtree(probe.root, ignore_errors=True)
        why = f"vfs: the overlay driver failed here ({last_lines(tried.stderr, 1).strip()})"
    driver = why.split(":")[0]
    chosen.write_text(json.dumps({"driver": driver, "why": why}) + "\n")
    return Storage(root=directory / "root", runroot=runroot, driver=driver, why=why)


def install(log: Log) -> None:
    """Debian's buildah (with crun when the host has no OCI runtime: Docker's runc serves
    otherwise), as root or through passwordless sudo."""
    if version():
        log(f"buildah {version()}")
        return
    why_not = why_cannot_provision()
    if why_not:
        raise BuildahError(f"cannot install buildah: {why_not}")
    runtime = [] if any(shutil.which(r) for r in RUNTIMES) else ["crun"]
    apt_install([p for p in ["buildah", *runtime] if not dpkg_installed(p)], log)
    log(f"buildah {version()}")


def _run(store: Storage, *args: str) -> str:
    result = subprocess.run(store.command(*args), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildahError(f"`buildah {' '.join(args)}` failed: "
                           f"{last_lines(result.stderr, 5).strip()}")
    return result.stdout


def copy_base(client: docker.DockerClient, reference: str) -> None:
    """Give buildah the engine's copy of a base, under the same name, so `FROM` builds on the
    very image the other builders use (`docker save`, then `buildah pull docker-archive:`;
    buildah's docker-daemon: transport would ignore DOCKER_HOST)."""
    store = storage()
    with tempfile.TemporaryDirectory(prefix="harness-buildah-") as tmp:
        archive = Path(tmp) / "base.tar"
        with archive.open("wb") as file:
            for chunk in client.api.get_image(reference):  # named as given, not first tag
                file.write(chunk)
        _run(store, "pull", "--quiet", f"docker-archive:{archive}")


def copy_into_engine(client: docker.DockerClient, image_id: str, tag: str) -> str:
    """Load buildah's image into the engine as `tag`; the engine's id of it. Pushed by id, so
    the archive names only `tag` (by name it would also carry buildah's localhost/ name).
    An image the engine has already (a warm rebuild's, on the classic store, where ids are
    config digests as buildah's are) is only tagged."""
    with contextlib.suppress(docker.errors.ImageNotFound):
        present = client.images.get(f"sha256:{image_id}")
        present.tag(tag)
        return str(present.id)
    store = storage()
    with tempfile.TemporaryDirectory(prefix="harness-buildah-") as tmp:
        archive = Path(tmp) / "image.tar"
        _run(store, "push", "--quiet", image_id, f"docker-archive:{archive}:{tag}")
        with archive.open("rb") as file:
            (loaded, *_) = client.images.load(file)
    return str(loaded.id)


def size_bytes(image_id: str) -> int | None:
    """buildah's own size of an image (what `buildah images` rounds): its layers' tar sizes
    and its manifest and config, read from the store's records."""
    store = storage()
    images = _records(store, "images")
    layers = {layer["id"]: layer for layer in _records(store, "layers")}
    image = next((i for i in images if i["id"] == image_id.removeprefix("sha256:")), None)
    if image is None:
        return None
    total = sum(size for key, size in (image.get("big-data-sizes") or {}).items())
    layer_id = image.get("layer")
    while layer_id:
        layer = layers[layer_id]
        total += int(layer.get("diff-size", 0))
        layer_id = layer.get("parent")
    return total


def _records(store: Storage, kind: str) -> list[dict[str, Any]]:
    path = store.root / f"{store.driver}-{kind}" / f"{kind}.json"
    return json.loads(path.read_text()) if path.exists() else []


def remove_run(run_id: str) -> int:
    """The images one run built with buildah (tagged in its repository) and their step
    images."""
    return remove_images(f"localhost/{engine.run_repository(run_id)}:")


def remove_images(names_starting: str) -> int:
    """Remove buildah's images named under a prefix and the untagged step images only they
    used (buildah rmi removes those with them)."""
    if not storage_dir().exists() or not version():
        return 0
    store = storage()
    doomed = [image["id"] for image in _records(store, "images")
              if any(name.startswith(names_starting) for name in image.get("names") or [])]
    if doomed:
        _run(store, "rmi", "--force", *doomed)
    return len(doomed)


def remove_step_images(image_ids: list[str]) -> None:
    """After a failed build, the step images it made (no tag keeps them)."""
    if image_ids:
        subprocess.run(storage().command("rmi", *reversed(image_ids)), capture_output=True,
                       check=False)


def clean() -> int:
    """Everything in harness's buildah storage: build containers a killed build left, images,
    step images (buildah's cache) and copies of bases. How many were removed."""
    if not storage_dir().exists() or not version():
        return 0
    store = storage()
    containers = _records(store, "containers")
    images = _records(store, "images")
    if containers:
        _run(store, "rm", "--all")
    if images:
        _run(store, "rmi", "--all", "--force")
    return len(containers) + len(images)

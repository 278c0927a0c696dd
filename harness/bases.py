"""Base images: make sure every image a Dockerfile names in FROM exists locally.

In order: an image already present is used (unless harness made it from a different
recipe); else it is pulled where a registry answers and the recipe allows it; else it is
made by its recipe (debootstrap, scratch + host binaries, a rootfs tarball, a Dockerfile).
Bases carry `harness.base` labels and are kept between runs; only `harness clean --bases`
removes them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path, PurePosixPath

import docker
import docker.errors
from docker.models.images import Image

from harness import dockerfile, engine, provision
from harness.build import BuildRequest, build_legacy
from harness.context import DOCKERFILE_NAME, materialize
from harness.dockerfile import split_reference
from harness.doctor import REGISTRY_URL, probe_registry
from harness.errors import HarnessError
from harness.model import Action, BaseKind, BaseOutcome, BaseRecipe
from harness.transform import label_change

BASE_LABEL = "harness.base"
RECIPE_LABEL = "harness.base.recipe"
RECIPE_FORMAT = 2
"""2: debootstrapped bases carry their package list (remade once for it)."""
PACKAGES_LABEL = "harness.base.packages"
"""A debootstrapped base's packages, name=version, comma-separated."""
"""Bumped when the way harness makes bases changes, so existing bases are remade."""
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ROOTFS_PARENT = Path("/var/tmp")

Progress = Callable[[str], None]


class BaseError(HarnessError):
    """A base that cannot be made; the message names it and shows the tool's output tail."""


def ensure_bases(client: docker.DockerClient, recipes: Mapping[str, BaseRecipe],
                 references: Iterable[str], progress: Progress) -> list[BaseOutcome]:
    """Make each referenced base available, bases that other bases build FROM first."""
    outcomes: dict[str, BaseOutcome] = {}
    registry_ok: dict[str, bool] = {}  # probed once each, and only if a pull is worth trying

    def registry_answers(reference: str) -> bool:
        url = registry_url(reference)
        if url not in registry_ok:
            registry_ok[url] = probe_registry(url).ok
        return registry_ok[url]

    def ensure(reference: str, visiting: tuple[str, ...]) -> None:
        if reference in outcomes:
            return
        if reference in visiting:
            raise BaseError(f"bases build from each other in a cycle: "
                            f"{' → '.join([*visiting, reference])}")
        recipe = recipes.get(reference)
        if recipe is None:
            outcomes[reference] = _undeclared(client, reference, registry_answers)
            return
        if recipe.kind is BaseKind.BUILD:
            for parent in dockerfile.base_images(recipe.options["dockerfile"],
                                                 recipe.options["build_args"]):
                ensure(parent, (*visiting, reference))
        outcomes[reference] = ensure_base(client, recipe, progress, registry_answers)

    for reference in references:
        ensure(reference, ())
    return list(outcomes.values())


def registry_url(reference: str) -> str:
    """The /v2/ endpoint of the registry a reference names: Docker Hub's without a host part;
    plain HTTP on this host (as the engine talks to 127.0.0.1 and localhost), else HTTPS."""
    first, slash, _ = reference.partition("/")
    if not slash or not ("." in first or ":" in first or first == "localhost"):
        return REGISTRY_URL
    local = first.split(":")[0] in ("localhost", "127.0.0.1")
    return f"{'http' if local else 'https'}://{first}/v2/"


def ensure_base(client: docker.DockerClient, recipe: BaseRecipe, progress: Progress,
                registry_answers: Callable[[str], bool]) -> BaseOutcome:
    started = time.monotonic()
    digest = recipe_hash(recipe)
    existing = _local_image(client, recipe.reference)
    if recipe.kind is None:  # `pull: true` alone: kept in a registry, pulled, never made
        if existing is not None:
            return _found(existing, recipe.reference, time.monotonic() - started)
        progress(f"{recipe.reference}: pulling (declared `pull: true` with no recipe)")
        return _pulled(client, recipe.reference, started,
                       "is declared `pull: true` with no recipe, and its pull failed")
    if existing is not None:
        made_by = existing.labels.get(BASE_LABEL)
        if made_by != recipe.reference or existing.labels.get(RECIPE_LABEL) == digest:
            return _found(existing, recipe.reference, time.monotonic() - started)
        progress(f"{recipe.reference}: its recipe changed; rebuilding")
    elif recipe.pull and registry_answers(recipe.reference):
        progress(f"{recipe.reference}: pulling (the scenario says pull: true)")
        try:
            return _pulled(client, recipe.reference, started, "could not be pulled")
        except BaseError as error:
            progress(f"{error}; building it")
    labels = {engine.MANAGED_LABEL: "true", BASE_LABEL: recipe.reference, RECIPE_LABEL: digest}
    progress(f"{recipe.reference}: making it by {recipe.kind} recipe")
    detail = MAKERS[recipe.kind](client, recipe, labels, progress)
    image = client.images.get(recipe.reference)
    if existing is not None and existing.id != image.id:
        _remove_if_unused(client, str(existing.id))
    outcome = BaseOutcome(
        reference=recipe.reference, action=Action.REBUILT if existing else Action.BUILT,
        image_id=str(image.id), size_bytes=_size(image), seconds=time.monotonic() - started,
        detail=detail, recipe_hash=digest, packages=_packages(image),
    )
    progress(f"{recipe.reference}: {outcome.action} in {outcome.seconds:.1f} s, "
             f"{outcome.size_bytes / 1e6:.1f} MB" + (f" ({detail})" if detail else ""))
    return outcome


def recipe_hash(recipe: BaseRecipe) -> str:
    """What the base is made from: the recipe plus the content of every input file."""
    inputs: dict[str, str] = {}
    if recipe.kind is BaseKind.SCRATCH:
        for image_path, host_path in recipe.options["files"].items():
            inputs[image_path] = _file_digest(Path(host_path), recipe)
    elif recipe.kind is BaseKind.TAR:
        inputs["tar"] = _file_digest(Path(recipe.options["path"]), recipe)
    elif recipe.kind is BaseKind.BUILD and recipe.options["context"]:
        root = Path(recipe.options["context"])
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            inputs[str(path.relative_to(root))] = _file_digest(path, recipe)
    document = {"format": RECIPE_FORMAT, "kind": str(recipe.kind), "options": recipe.options,
                "inputs": inputs}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


def remove_bases(client: docker.DockerClient, only: Collection[str] | None = None,
                 ) -> tuple[list[str], list[tuple[str, str]]]:
    """Untag and remove every base harness made; (removed, [(kept, why)]).

    A base is an image whose `harness.base` label names one of its own tags: images built
    FROM a base inherit the label but not the tag, so they are never mistaken for one.
    Removing a base another image builds on only removes its tag: the engine keeps the
    layers while that image exists. A base a container still uses is kept (the engine
    refuses), and said so. `only` limits removal to those references.
    """
    removed: list[str] = []
    kept: list[tuple[str, str]] = []
    for image in client.images.list(filters={"label": BASE_LABEL}):
        reference = image.labels.get(BASE_LABEL, "")
        if reference not in image.tags or (only is not None and reference not in only):
            continue
        try:
            client.images.remove(reference)
            removed.append(reference)
        except docker.errors.APIError as error:
            if error.status_code != 409:
                raise
            kept.append((reference, str(error.explanation)))
    return removed, kept


def make_debootstrap(client: docker.DockerClient, recipe: BaseRecipe, labels: dict[str, str],
                     progress: Progress) -> str:
    """The seed's method: debootstrap a rootfs, drop apt caches, `docker import` it."""
    options = recipe.options
    if not shutil.which("debootstrap"):
        raise BaseError(f"base {recipe.reference}: debootstrap is not installed "
                        "(`apt-get install debootstrap`, or `harness engine up` as root)")
    mirror = options["mirror"] or provision.debian_mirror(provision.read_apt_sources())
    with tempfile.TemporaryDirectory(prefix="harness-rootfs-", dir=ROOTFS_PARENT) as tmp:
        root = Path(tmp) / "rootfs"
        command = ["debootstrap"]
        if options["variant"] != "default":
            command.append(f"--variant={options['variant']}")
        if options["include"]:
            command.append(f"--include={','.join(options['include'])}")
        command += [options["suite"], str(root), mirror]
        _stream(command, recipe.reference, progress)
        before = _tree_bytes(root)
        _drop_apt_caches(root)
        if options.get("slim"):
            _slimmed(root)
        after = _tree_bytes(root)
        changes = [f"CMD {json.dumps(options['cmd'])}", f"ENV PATH={DEFAULT_PATH}"]
        labels = {**labels, PACKAGES_LABEL: ",".join(_installed_packages(root))}
        _import_tree(client, root, recipe.reference, labels, changes)
    return f"rootfs {before / 1e6:.1f} MB before clean-up, {after / 1e6:.1f} MB after"


def make_scratch(client: docker.DockerClient, recipe: BaseRecipe, labels: dict[str, str],
                 progress: Progress) -> str:
    """FROM scratch, the host's (static) binaries copied in, optional setup RUNs."""
    lines = ["FROM scratch"]
    with tempfile.TemporaryDirectory(prefix="harness-scratch-") as tmp:
        context = Path(tmp)
        for index, (image_path, host_path) in enumerate(recipe.options["files"].items()):
            shutil.copy2(host_path, context / f"file{index}")
            lines.append(f"COPY file{index} {image_path}")
        for command in recipe.options["run"]:
            lines.append(f"RUN {json.dumps(command) if isinstance(command, list) else command}")
        if recipe.options["cmd"]:
            lines.append(f"CMD {json.dumps(recipe.options['cmd'])}")
        materialize(context, dockerfile="\n".join(lines) + "\n", files={})
        _build(client, recipe, context, labels, {})
    return ""


def make_tar(client: docker.DockerClient, recipe: BaseRecipe, labels: dict[str, str],
             progress: Progress) -> str:
    repository, tag = split_reference(recipe.reference)
    with open(recipe.options["path"], "rb") as tarball:
        _import(client, tarball, repository, tag, labels, [])
    return ""


def make_build(client: docker.DockerClient, recipe: BaseRecipe, labels: dict[str, str],
               progress: Progress) -> str:
    source = Path(recipe.options["context"]) if recipe.options["context"] else None
    with tempfile.TemporaryDirectory(prefix="harness-base-") as tmp:
        context = materialize(Path(tmp) / "context", dockerfile=recipe.options["dockerfile"],
                              files={}, source_dir=source)
        _build(client, recipe, context, labels, recipe.options["build_args"])
    return ""


MAKERS = {BaseKind.DEBOOTSTRAP: make_debootstrap, BaseKind.SCRATCH: make_scratch,
          BaseKind.TAR: make_tar, BaseKind.BUILD: make_build}


def _build(client: docker.DockerClient, recipe: BaseRecipe, context: Path,
           labels: dict[str, str], build_args: dict[str, str]) -> None:
    outcome = build_legacy(client, BuildRequest(
        context=context, dockerfile=DOCKERFILE_NAME, tag=recipe.reference, labels=labels,
        no_cache=False, build_args=build_args))
    if not outcome.ok:
        raise BaseError(f"base {recipe.reference}: the {recipe.kind} build failed: "
                        f"{outcome.error}\n{outcome.log_tail}")


def _import_tree(client: docker.DockerClient, root: Path, reference: str,
                 labels: dict[str, str], changes: list[str]) -> None:
    repository, tag = split_reference(reference)
    tar = subprocess.Popen(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-c", "."],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert tar.stdout is not None
    try:
        _import(client, tar.stdout, repository, tag, labels, changes)
    finally:
        tar.stdout.close()
        _, stderr = tar.communicate()
    if tar.returncode != 0:
        raise BaseError(f"base {reference}: tar of {root} failed: {stderr.decode()[-2000:]}")


def _import(client: docker.DockerClient, source: object, repository: str, tag: str,
            labels: dict[str, str], changes: list[str]) -> None:
    try:
        client.api.import_image(src=source, repository=repository, tag=tag,
                                changes=[*changes, label_change(labels)])
    except docker.errors.APIError as error:
        raise BaseError(f"base {repository}:{tag}: docker import failed: "
                        f"{error.explanation or error}") from None


def _stream(command: list[str], reference: str, progress: Progress) -> None:
    """Run a slow tool, passing each output line to progress; keep the tail for errors."""
    lines: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, text=True, errors="replace") as process:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip())
            progress(f"{reference}: {line.strip()}")
    if process.returncode != 0:
        tail = "\n".join(lines[-30:])
        raise BaseError(f"base {reference}: `{' '.join(command)}` failed with exit code "
                        f"{process.returncode}:\n{tail}")


def _drop_apt_caches(root: Path) -> None:
    """What an official Debian image does not ship: downloaded .debs and apt lists."""
    for pattern in ("var/cache/apt/archives/*.deb", "var/cache/apt/*.bin",
                    "var/lib/apt/lists/*"):
        for path in root.glob(pattern):
            if path.is_file() and path.name != "lock":
                path.unlink()


SLIM_EXCLUDES = ("usr/share/doc", "usr/share/info", "usr/share/linda",
                 "usr/share/lintian/overrides", "usr/share/locale", "usr/share/man",
                 "usr/share/gnome/help", "usr/share/omf", "usr/share/doc/kde/HTML")
SLIM_INCLUDES = ("usr/share/doc/*/copyright", "usr/share/doc/kde/HTML/C/*",
                 "usr/share/gnome/help/*/C/*", "usr/share/locale/all_languages",
                 "usr/share/locale/currency/*", "usr/share/locale/l10n/*",
                 "usr/share/locale/languages", "usr/share/locale/locale.alias",
                 "usr/share/omf/*/*-C.emf")
"""debuerreotype's slimify lists (.slimify-excludes, .slimify-includes), by which Debian
makes its official `-slim` images."""


def _slimmed(root: Path) -> None:
    """debuerreotype-slimify on a rootfs, as Debian makes `debian:SUITE-slim`: dpkg's
    path-excludes in /etc/dpkg/dpkg.cfg.d/docker (so later installs leave them out too), and
    the excluded files deleted now, then dangling links and empty folders; man's section
    folders stay (some maintainer scripts write there)."""
    config = root / "etc/dpkg/dpkg.cfg.d/docker"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('# This is the "slim" variant of the Debian base image.\n\n'
                      + "".join(f"path-exclude /{p}/*\n" for p in SLIM_EXCLUDES)
                      + "".join(f"path-include /{p}\n" for p in SLIM_INCLUDES))
    config.chmod(0o644)
    sections = [p.relative_to(root) for p in root.glob("usr/share/man/man[0-9]")]

    def kept(path: Path) -> bool:
        relative = PurePosixPath(path.relative_to(root).as_posix())
        return any(relative.match(p) for p in SLIM_INCLUDES)

    for top in SLIM_EXCLUDES:
        folder = root / top
        if not folder.is_dir() or folder.is_symlink():
            continue
        for path in folder.rglob("*"):  # files only: links and folders go when left empty
            if path.is_file() and not path.is_symlink() and not kept(path):
                path.unlink()
    removed = True
    while removed:  # a dangling link may empty a folder, and a link may point at that one
        removed = False
        for top in SLIM_EXCLUDES:
            for path in sorted((root / top).rglob("*"), key=lambda p: -len(p.parts)):
                if path.is_symlink() and not path.exists():
                    path.unlink()
                    removed = True
                elif path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
                    path.rmdir()
                    removed = True
    for section in sections:
        (root / section).mkdir(parents=True, exist_ok=True)


def _tree_bytes(root: Path) -> int:
    """Apparent size of a directory tree, hard links counted once (as `du -sb`)."""
    result = subprocess.run(["du", "-sb", str(root)], capture_output=True, text=True,
                            check=True)
    return int(result.stdout.split()[0])


def _undeclared(client: docker.DockerClient, reference: str,
                registry_answers: Callable[[str], bool]) -> BaseOutcome:
    """A base with no recipe: the local image, else pulled where a registry answers."""
    image = _local_image(client, reference)
    if image is not None:
        return _found(image, reference, 0.0)
    if registry_answers(reference):
        return _pulled(client, reference, time.monotonic(),
                       "has no recipe and could not be pulled")
    raise BaseError(f"base image {reference} is not present locally, has no recipe and no "
                    "registry answers: declare it under `bases:` in the scenario or in "
                    f"scenarios/bases.yaml (e.g. `{reference}: {{debootstrap: {{suite: "
                    "bookworm}}}`)")


def _pulled(client: docker.DockerClient, reference: str, started: float,
            failed: str) -> BaseOutcome:
    """The base pulled; BaseError with the registry's own answer when the pull fails."""
    try:
        image = client.images.pull(reference)
    except docker.errors.APIError as error:
        raise BaseError(f"base image {reference} {failed}: the registry answered: "
                        f"{error.explanation}") from None
    return BaseOutcome(reference=reference, action=Action.PULLED, image_id=str(image.id),
                       size_bytes=_size(image), seconds=time.monotonic() - started,
                       origin="pulled")


def _found(image: Image, reference: str, seconds: float) -> BaseOutcome:
    """A base that is there already, with the provenance its labels keep."""
    made = image.labels.get(BASE_LABEL) == reference
    return BaseOutcome(reference=reference, action=Action.PRESENT, image_id=str(image.id),
                       size_bytes=_size(image), seconds=seconds,
                       origin="made" if made else "local",
                       recipe_hash=image.labels.get(RECIPE_LABEL) if made else None,
                       packages=_packages(image) if made else [])


def _packages(image: Image) -> list[str]:
    text = image.labels.get(PACKAGES_LABEL, "")
    return text.split(",") if text else []


def _installed_packages(root: Path) -> list[str]:
    """name=version of every package dpkg lists as installed in a rootfs."""
    status = root / "var" / "lib" / "dpkg" / "status"
    packages = []
    for stanza in status.read_text(errors="replace").split("\n\n") if status.exists() else []:
        fields = dict(line.split(": ", 1) for line in stanza.splitlines()
                      if ": " in line and not line.startswith(" "))
        if fields.get("Status", "").endswith(" installed"):
            packages.append(f"{fields.get('Package')}={fields.get('Version')}")
    return sorted(packages)


def _local_image(client: docker.DockerClient, reference: str) -> Image | None:
    try:
        return client.images.get(reference)
    except docker.errors.ImageNotFound:
        return None


def _remove_if_unused(client: docker.DockerClient, image_id: str) -> None:
    """Drop a superseded base unless images or containers still use it (then `clean` will).
    On the containerd image store an image that lost its last tag is gone already."""
    try:
        client.images.remove(image_id)
    except docker.errors.APIError as error:
        if error.status_code not in (404, 409):  # 409: still in use
            raise


def _size(image: Image) -> int:
    return int(image.attrs["Size"])


def _file_digest(path: Path, recipe: BaseRecipe) -> str:
    try:
        with path.open("rb") as file:
            return hashlib.file_digest(file, "sha256").hexdigest()
    except OSError as error:
        hint = " (install Debian's busybox-static)" if path.name == "busybox" else ""
        raise BaseError(f"base {recipe.reference}: cannot read its input file {path}: "
                        f"{error.strerror or error}{hint}") from None

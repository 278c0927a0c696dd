"""Build contexts: temporary copies, so the user's files are never modified.

A variant's context is the scenario's `context:` directory, plus its inline `files:`, plus
the variant's Dockerfile as `Dockerfile.harness` (listed in `.dockerignore`, so `COPY . .`
does not pick it up and variants with different Dockerfiles copy the same sources).

Symlinks are copied as symlinks, as Docker's own context tar keeps them, and nothing is ever
written through one: a `files:` entry, the Dockerfile or `.dockerignore` at a link's path
replaces the link in the copy; appending to a link, or writing below a directory that is a
link, is refused with the path named.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from harness.errors import HarnessError

DOCKERFILE_NAME = "Dockerfile.harness"


class LinkInTheWay(HarnessError):
    pass


def materialize(destination: Path, *, dockerfile: str, files: Mapping[str, str],
                source_dir: Path | None = None) -> Path:
    """Write a complete build context into `destination` (created) and return it."""
    if source_dir is not None:
        shutil.copytree(source_dir, destination, symlinks=True, dirs_exist_ok=True)
    destination.mkdir(parents=True, exist_ok=True)
    for relative, content in files.items():
        _replace(destination, relative, content)
    _replace(destination, DOCKERFILE_NAME, dockerfile)
    ignore = destination / ".dockerignore"
    existing = ignore.read_text() if ignore.is_file() and not ignore.is_symlink() else None
    if existing is not None:
        _replace(destination, ".dockerignore", existing + (
            "" if existing.endswith("\n") or not existing else "\n") + f"{DOCKERFILE_NAME}\n")
    else:
        _replace(destination, ".dockerignore", f"{DOCKERFILE_NAME}\n.dockerignore\n")
    return destination


def append_to(context: Path, relative: str, text: str) -> None:
    """The incremental mode's source change, applied to a context copy."""
    target = path_without_links(context, relative)
    if target.is_symlink():
        raise LinkInTheWay(f"incremental.append.path: `{relative}` is a symlink in the build "
                           "context; harness never writes through links (append to a "
                           "regular file)")
    with target.open("a") as file:
        file.write(text)


def _replace(context: Path, relative: str, content: str) -> None:
    """Write a regular file at `relative`, replacing a link there rather than following it."""
    target = path_without_links(context, relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        target.unlink()
    target.write_text(content)


def path_without_links(context: Path, relative: str) -> Path:
    """context/relative, refused (LinkInTheWay) when one of its directories is a link: a
    write there would land wherever the link points."""
    current = context
    for part in Path(relative).parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise LinkInTheWay(f"`{relative}`: `{current.relative_to(context)}` is a symlink "
                               "in the build context; harness never writes through links")
    return current / Path(relative).name

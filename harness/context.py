"""Build contexts: temporary copies, so the user's files are never modified.

A variant's context is the scenario's `context:` directory, plus its inline `files:`, plus
the variant's Dockerfile as `Dockerfile.harness` (listed in `.dockerignore`, so `COPY . .`
does not pick it up and variants with different Dockerfiles copy the same sources).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

DOCKERFILE_NAME = "Dockerfile.harness"


def materialize(destination: Path, *, dockerfile: str, files: Mapping[str, str],
                source_dir: Path | None = None) -> Path:
    """Write a complete build context into `destination` (created) and return it."""
    if source_dir is not None:
        shutil.copytree(source_dir, destination, symlinks=True, dirs_exist_ok=True)
    destination.mkdir(parents=True, exist_ok=True)
    for relative, content in files.items():
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    (destination / DOCKERFILE_NAME).write_text(dockerfile)
    ignore = destination / ".dockerignore"
    if ignore.exists():
        existing = ignore.read_text()
        ignore.write_text(existing + ("" if existing.endswith("\n") or not existing else "\n")
                          + f"{DOCKERFILE_NAME}\n")
    else:
        ignore.write_text(f"{DOCKERFILE_NAME}\n.dockerignore\n")
    return destination


def append_to(context: Path, relative: str, text: str) -> None:
    """The incremental mode's source change, applied to a context copy."""
    with (context / relative).open("a") as file:
        file.write(text)

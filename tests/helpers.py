"""Helpers shared by test modules."""

import shutil
from pathlib import Path


def write_busybox_context(directory: Path, dockerfile: str) -> Path:
    """A build context holding the host's static busybox and the given Dockerfile."""
    shutil.copy2("/bin/busybox", directory / "busybox")
    (directory / "Dockerfile").write_text(dockerfile)
    return directory

"""harness: Docker image-building advice as measured, repeatable experiments."""

import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    __version__ = version("harness")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"


def cache_home() -> Path:
    """Where harness keeps what outlives a run (layer facts, run ledgers, a user's dockerd
    log): $XDG_CACHE_HOME/harness, else ~/.cache/harness."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "harness"


def state_home() -> Path:
    """Where harness keeps state of what it started (a local registry): $XDG_STATE_HOME/harness,
    else ~/.local/state/harness."""
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "harness"

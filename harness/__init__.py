"""harness: Docker image-building advice as measured, repeatable experiments."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("harness")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

"""BuildKit's cache mounts (`RUN --mount=type=cache`) that a run's builds made, removed when
the run ends. Between its builds they stay as BuildKit keeps them: a `--no-cache` (cold) build
gets a fresh mount (measured on Docker 20.10 and 26), and a warm or incremental build finds
what the run's earlier builds of the Dockerfile left, as the user's rebuild finds what their
last build left.

Only what the run made is touched: cache-mount records that were not there before its first
build that mounts a cache, whose description names a folder one of its Dockerfiles mounts.
"""

from __future__ import annotations

import re
from typing import Any

CACHE_MOUNT = re.compile(r"--mount=(?=\S*\btype=cache\b)\S*?\btarget=([^,\s]+)")
RECORD_TYPE = "exec.cachemount"


def mounted_targets(dockerfile: str) -> set[str]:
    """The folders a Dockerfile's RUNs mount a cache over."""
    return set(CACHE_MOUNT.findall(dockerfile))


class CacheMounts:
    """The engine's cache-mount records a run made (BuildKit on the engine itself; buildah's
    and a remote builder's caches are not the engine's)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.found_before: set[str] | None = None
        self.targets: set[str] = set()

    def _records(self) -> list[dict[str, Any]]:
        return [r for r in self.client.df().get("BuildCache") or []
                if r.get("Type") == RECORD_TYPE]

    def note(self, dockerfile: str) -> None:
        """Before the builds of a Dockerfile: the first that mounts a cache notes which
        records are someone else's."""
        targets = mounted_targets(dockerfile)
        if targets and self.found_before is None:
            self.found_before = {r["ID"] for r in self._records()}
        self.targets |= targets

    def remove(self) -> None:
        """Every cache-mount record the run made."""
        if self.found_before is None:
            return
        made = [r["ID"] for r in self._records() if r["ID"] not in self.found_before and any(
            (r.get("Description") or "").startswith(f"cached mount {target} from ")
            for target in self.targets)]
        for record in made:
            self.client.api.prune_builds(filters={"id": [f"^{re.escape(record)}$"]})

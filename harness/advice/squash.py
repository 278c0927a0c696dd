"""The post-build squashes `harness run` measures, as alternatives to flatten: the same
Dockerfile, its image exported and imported with its config restored (every layer, the
base's too, into one), or its own layers squashed onto its base by docker-squash (classic
image store only), which keeps the base's layers shared. docker-squash changes no file;
`docker export` writes a container's filesystem, so the files `docker run` puts in every
container (/.dockerenv, /dev's mount points, the empty /etc/hostname, hosts and resolv.conf
it mounts over) come along."""

from __future__ import annotations

from harness.advice.edit import CONTAINER_FILES, NotApplicable, Rewrite
from harness.advice.parse import Parsed
from harness.model import Squash


def squash_after_build(parsed: Parsed, target: str | None = None
                       ) -> list[Rewrite | NotApplicable]:
    exported = Rewrite(advice="squash after the build: docker export and import, the config "
                              "restored (a CI step, not a Dockerfile change)",
                       key=str(Squash.EXPORT_IMPORT), hadolint="", lines=(),
                       dockerfile=parsed.source, squash=Squash.EXPORT_IMPORT,
                       may_change=CONTAINER_FILES)
    title = ("squash after the build: docker-squash of the Dockerfile's layers onto its base "
             "(a CI step, not a Dockerfile change)")
    own = [i for i in parsed.stage(parsed.built_stage(target)) if i.cmd in ("RUN", "COPY", "ADD")]
    if len(own) < 2:
        return [exported, NotApplicable(advice=title, key=str(Squash.DOCKER_SQUASH), hadolint="",
                                        reason="the Dockerfile makes one layer over its base: "
                                               "nothing to squash")]
    return [exported, Rewrite(advice=title, key=str(Squash.DOCKER_SQUASH), hadolint="",
                              lines=(), dockerfile=parsed.source, squash=Squash.DOCKER_SQUASH)]

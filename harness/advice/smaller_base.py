"""A smaller base (the guide's "distro against minimal"): the final image's base replaced by
its slim form, `debian:SUITE` → `debian:SUITE-slim`, `python:X` → `python:X-slim`,
`node:X` → `node:X-slim`. Only the base the final stage stands on; a build stage's base
leaves the image as it is. The files it may change are what the two bases differ in (advise
compares the two images, where both are on the engine), and what a slim base's dpkg
path-excludes leave out of the Dockerfile's own installs (docs, man pages, translations);
whether the app still works on it is for the checks to say. ubuntu has no smaller official
form (its image is already the minimal one), so it is left as it is."""

from __future__ import annotations

import re

from harness.advice.edit import Edit, MayChange, Piece
from harness.advice.parse import Parsed

KEY = "smaller-base"
SLIM_LEAVES_OUT = ("usr/share/doc/*", "usr/share/man/*", "usr/share/info/*",
                   "usr/share/locale/*", "usr/share/lintian/overrides/*", "usr/share/linda/*",
                   "usr/share/gnome/help/*", "usr/share/omf/*")
"""What Debian's slim images' dpkg path-excludes (debuerreotype's) leave out of any later
install; a COPY to those folders is the user's own, and the guard still sees it."""


def smaller(reference: str) -> str | None:
    """The slim form of an official image reference, None where there is none to try."""
    if "@" in reference:
        return None  # pinned by digest: a tag of another image is no slim form of it
    name, _, tag = reference.rpartition(":") if ":" in reference.rsplit("/", 1)[-1] else \
        (reference, "", "latest")
    # the official image, on Docker Hub or a registry that mirrors it (a host:port first)
    repository = re.sub(r"^([^/]*[.:][^/]*/|localhost/)?(library/)?", "", name)
    if "slim" in tag or "alpine" in tag or "windows" in tag:
        return None
    if repository == "debian":
        return None if tag == "latest" else f"{name}:{tag}-slim"  # latest: no latest-slim
    if repository == "python":
        if not tag[:1].isdigit():  # latest, bookworm: slim, slim-bookworm
            return f"{name}:slim" if tag == "latest" else f"{name}:slim-{tag}"
        version, _, distribution = tag.partition("-")
        return f"{name}:{version}-slim" + (f"-{distribution}" if distribution else "")
    if repository == "node":
        return f"{name}:slim" if tag == "latest" else f"{name}:{tag}-slim"
    return None


def final_base(parsed: Parsed) -> tuple[int, str] | None:
    """The FROM line and image the final stage stands on (through the stages it is built
    FROM), None where that is scratch."""
    stage = parsed.final_stage
    while stage in parsed.stage_bases:
        stage = parsed.stage_bases[stage]
    line = next(i for i in parsed.instructions if i.cmd == "FROM" and i.stage == stage)
    return None if line.value[0].lower() == "scratch" else (line.start, line.value[0])


def smaller_base(edit: Edit) -> str:
    found = final_base(edit.parsed)
    if found is None:
        return "the final image stands on scratch"
    start, reference = found
    if "$" in reference:
        return f"the base {reference} is known only when the build runs"
    slim = smaller(reference)
    if slim is None:
        return f"no smaller official form of {reference} to try (debian, python and node " \
               "have one; ubuntu's image is its minimal one)"
    line = next(i for i in edit.parsed.instructions if i.start == start)
    at = line.text.index(reference)
    edit.replace(line, line.text[:at] + slim + line.text[at + len(reference):])
    edit.notes.append(f"{reference} → {slim}: advise needs {slim} on the engine (pull it, or "
                      "`harness bases build` makes debian:bookworm-slim from its recipe)")
    return ""


PIECE = Piece(key=KEY, title="a smaller base (its slim form)", hadolint="", edit=smaller_base,
              may_change=MayChange(paths=SLIM_LEAVES_OUT))

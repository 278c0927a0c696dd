"""Just enough of a Dockerfile to know which images a build starts from or copies from.

BuildKit's parser (the `dockerfile` package) reads the instructions; this module resolves
`ARG` defaults before `FROM`, `--platform=`, stage names (`AS name`), `FROM <earlier stage>`
and `COPY --from=IMAGE`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import dockerfile as _parser

_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::?-([^}]*))?\}|(\w+))")
_REFERENCE = re.compile(
    r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*(?::\d+)?/)?"  # registry or namespace
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)


class DockerfileError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True, kw_only=True)
class FromLine:
    line: int
    """1-based line of the FROM instruction within the Dockerfile."""
    image: str
    """The image reference after ARG substitution, or the name of an earlier stage."""
    stage: str | None
    """The name this stage is given with `AS`, if any."""
    from_stage: bool
    """True when `image` names an earlier stage rather than an image."""


def instructions(text: str) -> list[tuple[int, str, str]]:
    """(line, INSTRUCTION, arguments) for each instruction, as BuildKit's own parser reads
    them (the `dockerfile` package: continuations, heredocs, comments, the escape
    directive); a flag such as `--from=` or `--platform=` leads the arguments."""
    try:
        commands = _parser.parse_string(text)
    except _parser.GoParseError as error:
        line = re.search(r"line (\d+)", str(error))
        raise DockerfileError(int(line.group(1)) if line else 1, str(error)) from None
    return [(c.start_line, c.cmd.upper(), " ".join([*c.flags, *c.value])) for c in commands]


SNAPSHOT_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD", "WORKDIR"})
"""The instructions that make a snapshot: what both builders' step counts count."""


def steps_before_the_context(text: str) -> int | None:
    """How many snapshot steps come before the first COPY/ADD from the build context: those
    an incremental source change must leave cached. None for a multi-stage Dockerfile, where
    the stages' order of steps is the builder's own."""
    found = instructions(text)
    if sum(1 for _, keyword, _ in found if keyword == "FROM") != 1:
        return None
    steps = 0
    for _, keyword, arguments in found:
        if keyword in ("COPY", "ADD") and "--from=" not in arguments:
            return steps
        steps += keyword in SNAPSHOT_INSTRUCTIONS
    return steps


def from_lines(text: str, build_args: Mapping[str, str] | None = None) -> list[FromLine]:
    """Every FROM of a Dockerfile; raises DockerfileError for a FROM that cannot be used."""
    arg_values: dict[str, str] = {}
    stages: set[str] = set()
    froms: list[FromLine] = []
    overrides = dict(build_args or {})
    for line, keyword, arguments in instructions(text):
        if keyword == "ARG" and not froms:
            for declaration in arguments.split():
                name, has_default, default = declaration.partition("=")
                arg_values[name] = overrides.get(name, default.strip("\"'") if has_default else "")
        elif keyword == "FROM":
            froms.append(_parse_from(line, arguments, arg_values, stages))
            if froms[-1].stage:
                stages.add(froms[-1].stage)
        elif not froms:
            raise DockerfileError(line, f"{keyword} before the first FROM "
                                        "(only ARG may come first)")
    if not froms:
        raise DockerfileError(1, "no FROM instruction: a Dockerfile must start from an image "
                                 "(`FROM scratch` for an empty one)")
    return froms


def base_images(text: str, build_args: Mapping[str, str] | None = None) -> list[str]:
    """The images (not stages, not scratch) the Dockerfile builds from or copies from
    (`COPY --from=IMAGE`), in order, once each."""
    froms = from_lines(text, build_args)
    stages = {f.stage for f in froms if f.stage}
    images = [f.image for f in froms if not f.from_stage and f.image != "scratch"]
    for _, keyword, arguments in instructions(text):
        source = re.match(r"--from=(\S+)", arguments) if keyword in ("COPY", "ADD") else None
        if source and source.group(1) not in stages and not source.group(1).isdigit():
            images.append(source.group(1))
    return list(dict.fromkeys(images))


def final_base(text: str, build_args: Mapping[str, str] | None = None,
               target: str | None = None) -> str | None:
    """The image the built stage (target, else the last) starts from; None for scratch."""
    froms = from_lines(text, build_args)
    by_stage = {f.stage: f for f in froms if f.stage}
    current = by_stage[target] if target in by_stage else froms[-1]
    while current.from_stage:
        current = by_stage[current.image]
    return None if current.image == "scratch" else current.image


def split_reference(reference: str) -> tuple[str, str]:
    """(repository, tag) of NAME[:TAG]; a colon before the last / is a registry port."""
    name, colon, tag = reference.rpartition(":")
    if colon and "/" not in tag:
        return name, tag
    return reference, "latest"


def is_image_reference(text: str) -> bool:
    return bool(_REFERENCE.match(text))


def _parse_from(line: int, arguments: str, arg_values: Mapping[str, str],
                stages: set[str]) -> FromLine:
    words = [w for w in arguments.split() if not w.startswith("--")]
    if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
        raise DockerfileError(line, f"cannot read `FROM {arguments}`: expected "
                                    "`FROM [--platform=...] IMAGE [AS NAME]`")
    image = _substitute(words[0], arg_values, line)
    stage = words[2] if len(words) == 3 else None
    if stage is not None and not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9_.-]*", stage):
        raise DockerfileError(line, f"`{stage}` is not a valid stage name")
    if image in stages:
        return FromLine(line=line, image=image, stage=stage, from_stage=True)
    if not is_image_reference(image):
        raise DockerfileError(line, f"`{image}` is not a valid image reference "
                                    "(expected NAME[:TAG][@DIGEST], lowercase name)")
    return FromLine(line=line, image=image, stage=stage, from_stage=False)


def _substitute(word: str, arg_values: Mapping[str, str], line: int) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        value = arg_values.get(name)
        if value:
            return value
        if match.group(2) is not None:
            return match.group(2)
        raise DockerfileError(line, f"`${name}` in FROM has no value: declare "
                                    f"`ARG {name}=...` before FROM or pass it in build_args")

    return _VARIABLE.sub(replace, word)

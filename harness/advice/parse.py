"""A Dockerfile as advise reads and rewrites it: BuildKit's nodes (the `dockerfile` package,
BuildKit's own parser) with the original text of each, and each RUN's shell tree.

Lines are split as BuildKit's scanner splits them: on `\\n` alone (a `\\r` before it is part
of the line ending), never on form feed or U+2028 as `str.splitlines` does. A RUN's body is
joined from its lines the way BuildKit joins them (the escape directive's character before
the line end, comment lines and empty lines inside a continuation dropped), keeping for each
character where it stands in the file, so a rewrite edits the user's own text and every byte
around the edit stays as it was. Where that join is not exactly the body BuildKit reads, the
RUN is left alone.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

import dockerfile

from harness.advice.shell import Script, read_script
from harness.errors import HarnessError

DIRECTIVE = re.compile(r"^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$")
PLAIN_SHELLS = {"sh", "bash", "dash", "ash"}
SHELL_OPTIONS = {"pipefail", "errexit", "nounset", "xtrace"}


class DockerfileError(HarnessError):
    pass


@dataclass(frozen=True, kw_only=True)
class Instruction:
    cmd: str
    """FROM, RUN, COPY... upper case."""
    text: str
    """The instruction's own lines, as written (joined by \\n, a \\r kept where it was)."""
    start: int
    end: int
    """Its first and last line, counted from 1."""
    stage: int = 0
    value: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    body: str = ""
    """A RUN's shell command, as BuildKit joins its lines."""
    origin: tuple[int, ...] = ()
    """Where each character of `body` stands in `text`."""
    script: Script | None = None
    """The body's shell tree (None where it could not be read)."""
    unsafe: str = ""
    """Why this RUN is not rewritten ("" where it may be)."""

    def written(self, start: int, end: int) -> str:
        """The user's own text of the body's characters start..end, continuations and comment
        lines between them kept."""
        return self.text[self.origin[start]:self.origin[end - 1] + 1]

    @property
    def code(self) -> str:
        """The body's commands as written, without a trailing comment."""
        assert self.script is not None
        return self.written(self.script.start, self.script.end)

    @property
    def trailing_comment(self) -> str:
        """A `# comment` that ends the body (and swallows what follows it on the line)."""
        assert self.script is not None
        return self.body[self.script.end:].strip()


@dataclass(frozen=True, kw_only=True)
class Parsed:
    path: Path
    context: Path
    lines: list[str]
    """The file's lines, split on \\n only (a \\r ending a line kept on it)."""
    instructions: list[Instruction]
    escape: str = "\\"
    newline: str = "\n"
    stage_bases: dict[int, int] = field(default_factory=dict)
    """Stage -> the earlier stage it is built FROM, where it is."""

    def stage(self, index: int) -> list[Instruction]:
        return [i for i in self.instructions if i.stage == index]

    @property
    def final_stage(self) -> int:
        return max((i.stage for i in self.instructions), default=0)

    def built_stage(self, target: str | None) -> int:
        """The stage a build makes: the one named `target` (FROM ... AS target), else the
        last."""
        for instruction in self.instructions:
            value = [v.lower() for v in instruction.value]
            if instruction.cmd == "FROM" and target and value[1:] == ["as", target.lower()]:
                return instruction.stage
        return self.final_stage

    def workdirs(self) -> dict[int, str | None]:
        """Each instruction's working folder (by its first line), where the Dockerfile says
        it: None where it is the base image's (known only from the image) or names a
        variable."""
        folders: dict[int, str | None] = {}
        by_stage: dict[int, str | None] = {}
        current: str | None = None
        for instruction in self.instructions:
            if instruction.cmd == "FROM":
                base = self.stage_bases.get(instruction.stage)
                current = "/" if instruction.value[0].lower() == "scratch" else \
                    by_stage.get(base) if base is not None else None
            elif instruction.cmd == "WORKDIR":
                current = absolute(instruction.value[0], current)
            folders[instruction.start] = current
            by_stage[instruction.stage] = current
        return folders

    def descendants(self, stage: int) -> set[int]:
        """The stage and every stage built FROM it, directly or through another."""
        found = {stage}
        for later in sorted(self.stage_bases):
            if self.stage_bases[later] in found:
                found.add(later)
        return found

    @property
    def source(self) -> str:
        return "\n".join(self.lines) + "\n"


def absolute(path: str, cwd: str | None) -> str | None:
    """`path` from the folder `cwd` (None: unknown), or None where it is known only when the
    build runs (a variable, `~`, relative to an unknown folder)."""
    if "$" in path or "`" in path or path.startswith("~"):
        return None
    if path.startswith("/"):
        return posixpath.normpath(path)
    return None if cwd is None else posixpath.normpath(posixpath.join(cwd, path))


def parse(path: Path, context: Path | None = None) -> Parsed:
    """The Dockerfile's instructions; its build context defaults to its folder."""
    try:
        text = path.read_bytes().decode()
    except OSError as error:
        raise DockerfileError(f"{path}: cannot be read ({error.strerror})") from None
    except UnicodeDecodeError:
        raise DockerfileError(f"{path}:1: not a Dockerfile (not UTF-8 text)") from None
    return parse_text(text, path, context or path.parent)


def parse_text(text: str, path: Path, context: Path) -> Parsed:
    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as error:
        line = re.search(r"line (\d+)", str(error))
        raise DockerfileError(f"{path}:{line.group(1) if line else 1}: {error}") from None
    if not commands or commands[0].cmd.upper() not in ("FROM", "ARG"):
        first = commands[0].start_line if commands else 1
        raise DockerfileError(f"{path}:{first}: not a Dockerfile: expected FROM (or ARG) first")
    if not any(c.cmd.upper() == "FROM" for c in commands):
        raise DockerfileError(f"{path}:1: not a Dockerfile: no FROM")
    for command in commands:
        _check_arguments(command, path)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    escape = escape_character(lines)
    crlf = sum(line.endswith("\r") for line in lines)
    stage, plain_shell = -1, True
    stage_names: dict[str, int] = {}
    shell_at_end: dict[int, bool] = {}
    stage_bases: dict[int, int] = {}
    instructions = []
    for command in commands:
        cmd = command.cmd.upper()
        if cmd == "FROM":
            stage += 1
            base = command.value[0].lower() if command.value else ""
            if base in stage_names:
                stage_bases[stage] = stage_names[base]
            plain_shell = shell_at_end.get(stage_names.get(base, -1), True)
            if len(command.value) >= 3 and command.value[1].lower() == "as":
                stage_names[command.value[2].lower()] = stage
        if cmd == "SHELL":
            plain_shell = is_plain_shell(command.value)
        shell_at_end[max(stage, 0)] = plain_shell
        end = command.end_line
        if command.heredocs:
            end = max(end, command.start_line + command.original.count("\n") - 1)
        own = "\n".join(lines[command.start_line - 1:end])
        instructions.append(_instruction(command, cmd, own, end, max(stage, 0), escape,
                                         plain_shell))
    return Parsed(path=path, context=context, lines=lines, instructions=instructions,
                  escape=escape, newline="\r\n" if crlf > len(lines) / 2 else "\n",
                  stage_bases=stage_bases)


AT_LEAST_ONE, EXACTLY_ONE = (1, None, "at least one argument"), (1, 1, "exactly one argument")
TWO = (2, None, "at least two arguments")
ARGUMENTS = {"COPY": TWO, "ADD": TWO,
             "FROM": (1, 3, "one or three arguments"), "WORKDIR": EXACTLY_ONE,
             "USER": EXACTLY_ONE, "STOPSIGNAL": EXACTLY_ONE, "EXPOSE": AT_LEAST_ONE,
             "VOLUME": AT_LEAST_ONE, "ENV": AT_LEAST_ONE, "LABEL": AT_LEAST_ONE,
             "ARG": AT_LEAST_ONE, "RUN": AT_LEAST_ONE, "ONBUILD": AT_LEAST_ONE,
             "HEALTHCHECK": AT_LEAST_ONE, "MAINTAINER": AT_LEAST_ONE,
             "SHELL": (1, None, "a JSON list"), "CMD": (0, None, ""), "ENTRYPOINT": (0, None, "")}
"""What BuildKit's frontend checks of each instruction's arguments before it builds anything
(the `dockerfile` package only parses): a file it would refuse is named with its line here."""


def _check_arguments(command: dockerfile.Command, path: Path) -> None:
    cmd = command.cmd.upper()
    if cmd not in ARGUMENTS:
        raise DockerfileError(f"{path}:{command.start_line}: unknown instruction: {cmd}")
    least, most, expected = ARGUMENTS[cmd]
    count = len(command.value) + len(command.heredocs)
    if (cmd == "FROM" and count == 2) or count < least or (most is not None and count > most) \
            or (cmd == "SHELL" and not command.json):
        raise DockerfileError(f"{path}:{command.start_line}: {cmd} requires {expected}, "
                              f"but has {count}: {command.original.strip()[:80]}")


def _instruction(command: dockerfile.Command, cmd: str, text: str, end: int, stage: int,
                 escape: str, plain_shell: bool) -> Instruction:
    common = dict(cmd=cmd, text=text, start=command.start_line, end=end, stage=stage,
                  value=tuple(command.value), flags=tuple(command.flags))
    if cmd == "ONBUILD":
        return Instruction(**common, unsafe="ONBUILD")
    if cmd != "RUN":
        return Instruction(**common)
    unsafe = ("an exec-form RUN (no shell to chain in)" if command.json
              else "a heredoc RUN" if command.heredocs
              else f"a RUN with {' '.join(command.flags)}" if command.flags
              else "" if plain_shell
              else "a SHELL other than plain sh -c or bash -c (a login shell, pwsh, cmd)")
    if unsafe:
        return Instruction(**common, unsafe=unsafe)
    body, origin = join_body(text, escape)
    if body != " ".join(command.value).strip():
        return Instruction(**common, unsafe="harness cannot match this RUN's text "
                           "to the command BuildKit reads")
    script = read_script(body)
    if isinstance(script, str):
        return Instruction(**common, body=body, origin=origin,
                           unsafe=f"harness cannot read this RUN ({script})")
    return Instruction(**common, body=body, origin=origin, script=script)


def join_body(text: str, escape: str) -> tuple[str, tuple[int, ...]]:
    """A RUN's shell command as BuildKit joins its lines (the instruction word dropped,
    continuations removed, comment and empty lines inside them skipped), and where each of
    its characters stands in `text`."""
    continuation = re.compile(re.escape(escape) + r"[ \t]*$")
    chars: list[str] = []
    origin: list[int] = []
    offset = 0
    for number, line in enumerate(text.split("\n")):
        at = offset
        offset += len(line) + 1
        content = line.removesuffix("\r")
        begin = 0
        if number == 0:
            word = re.match(r"\s*\S+\s*", content)
            begin = word.end() if word else 0
        elif not content.strip() or content.lstrip().startswith("#"):
            continue
        match = continuation.search(content, begin)
        stop = match.start() if match else len(content)
        chars.extend(content[begin:stop])
        origin.extend(range(at + begin, at + stop))
        if match is None:
            break
    body = "".join(chars)
    left = len(body) - len(body.lstrip())
    right = len(body.rstrip())
    return body[left:right], tuple(origin[left:right])


def escape_character(lines: list[str]) -> str:
    """The `# escape=` parser directive's character (a backslash by default): directives are
    read only in the comment lines that open the file."""
    for line in lines:
        match = DIRECTIVE.match(line.removesuffix("\r").lstrip("\ufeff"))
        if match is None:
            break
        if match.group(1).lower() == "escape" and match.group(2) in ("`", "\\"):
            return match.group(2)
    return "\\"


def is_plain_shell(value: tuple[str, ...] | list[str]) -> bool:
    """SHELL is sh or bash run with -c, options that only make it stricter allowed (-e, -u,
    -x, -o pipefail): no login or interactive shell, which reads a profile at every RUN."""
    if len(value) < 2 or Path(value[0]).name not in PLAIN_SHELLS or value[-1] != "-c":
        return False
    options = list(value[1:-1])
    while options:
        option = options.pop(0)
        if not re.fullmatch(r"-[euxo]+", option):
            return False
        if "o" in option and (not option.endswith("o") or not options
                              or options.pop(0) not in SHELL_OPTIONS):
            return False
    return True

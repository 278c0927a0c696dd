"""`COPY --chown`/`--chmod` instead of a RUN right after it that only runs `chown -R` or
`chmod -R` over what the COPY brought (a size smell docker-parfum repaired in real files):
changing a file's owner or mode in a later layer stores the whole file again, so every
copied byte is in the image twice. The flags set them in the COPY's own layer. The flags
leave the destination folder itself as it was (BuildKit applies --chmod only to what it
copies, and --chown not to a folder that was there), so where the destination is a folder
the RUN stays, without -R: it changes that one folder, a layer of no file bytes. What it
may change is nothing: the files, owners and modes come out the same, which the image guard
checks path by path. --chmod needs BuildKit (Docker 20.10's legacy builder refuses it)."""

from __future__ import annotations

import re
from pathlib import Path

from harness.advice.edit import NOTHING, Edit, Piece
from harness.advice.parse import Instruction, absolute
from harness.advice.shell import ShellCommand, run_words

PASSIVE = ("ENV", "LABEL", "ARG", "EXPOSE", "STOPSIGNAL", "HEALTHCHECK", "CMD", "ENTRYPOINT",
           "MAINTAINER")
"""Instructions that write no file: the RUN may stand after them and still be 'right after'."""
RECURSIVE = {"-R", "--recursive"}


def _ownership(command: ShellCommand, cwd: str | None) -> tuple[str, str, str | None] | str:
    """("chown" or "chmod", the COPY flag's value, the path) of a plain recursive chown or
    chmod, else why not."""
    words = run_words(command)
    program = words[0] if words else ""
    options = [w for w in words[1:] if w.startswith("-")]
    rest = [w for w in words[1:] if not w.startswith("-")]
    if program not in ("chown", "chmod") or set(options) != RECURSIVE & set(options) or \
            not options or len(rest) != 2:
        return f"`{' '.join(words[:4])}` is not a plain chown -R or chmod -R of one path"
    value, path = rest
    if program == "chmod" and not re.fullmatch(r"[0-7]{3,4}", value):
        return f"chmod's mode {value} is not octal (--chmod takes octal)"
    if program == "chown":
        user, _, group = value.partition(":")
        if value.endswith(":") or "$" in value or not (user or group):
            return f"chown's owner {value} names no user and group --chown can take alike"
        value = f"{user or 0}:{group or 0}"  # chown keeps what it is not given: COPY's root
    return program, value, absolute(path, cwd)


def _flags(copy: Instruction, run: Instruction, workdir: str | None) -> dict[str, str] | str:
    assert run.script is not None
    destination = absolute(copy.value[-1], workdir)
    flags: dict[str, str] = {}
    for command in run.script.commands:
        found = _ownership(command, workdir)
        if isinstance(found, str):
            return found
        program, value, path = found
        if destination is None or path != destination.rstrip("/") or program in flags:
            return f"line {run.start} changes {path or 'a path known when it runs'}, not " \
                   f"exactly what line {copy.start} copied ({copy.value[-1]})"
        flags[program] = value
    return flags


def copy_ownership(edit: Edit) -> str:
    instructions = edit.parsed.instructions
    folders = edit.parsed.workdirs()
    changed = False
    for index, copy in enumerate(instructions):
        if copy.cmd not in ("COPY", "ADD") or len(copy.value) < 2:
            continue
        run = next((i for i in instructions[index + 1:] if i.cmd not in PASSIVE), None)
        if run is None or run.cmd != "RUN" or run.stage != copy.stage or run.unsafe or \
                run.script is None or not run.script.plain_and_list:
            continue
        if not any(run_words(c)[:1] in (("chown",), ("chmod",)) for c in run.script.commands):
            continue
        flags = _flags(copy, run, folders[run.start])
        if isinstance(flags, str):
            edit.notes.append(flags)
            continue
        if any(f.startswith(f"--{program}") for f in copy.flags for program in flags):
            edit.notes.append(f"line {copy.start} has its own --chown or --chmod")
            continue
        added = "".join(f" --{program}={flags[program]}" for program in ("chown", "chmod")
                        if program in flags)
        kind = _destination(copy, edit.parsed.context)
        if not kind:
            edit.notes.append(f"whether line {copy.start}'s destination is a folder is known "
                              "only from the built image")
            continue
        keyword_end = len(copy.text) - len(copy.text.lstrip()) + len(copy.text.split()[0])
        edit.replace(copy, copy.text[:keyword_end] + added + copy.text[keyword_end:])
        if kind == "file":
            edit.delete(run)
        else:  # the folder itself, as the -R left it
            folder = absolute(copy.value[-1], folders[copy.start]) or ""
            edit.replace(run, "RUN " + " && ".join(
                f"{program} {flags[program]} {folder.rstrip('/') or '/'}"
                for program in ("chown", "chmod") if program in flags))
        changed = True
    return "" if changed else "no RUN right after a COPY that only chowns or chmods what it copied"


def _destination(copy: Instruction, context: Path) -> str:
    """"dir" or "file": what the COPY's destination is; "" where only the image knows."""
    sources, destination = copy.value[:-1], copy.value[-1]
    if len(sources) > 1 or destination.endswith("/") or destination in (".", ".."):
        return "dir"
    if any(f.startswith("--from") for f in copy.flags) or copy.cmd == "ADD" or \
            any(c in sources[0] for c in "*?[$"):
        return ""
    source = context / sources[0]
    return "dir" if source.is_dir() else "file" if source.is_file() else ""


PIECE = Piece(key="copy-owner", title="COPY --chown/--chmod instead of a RUN chown -R/chmod -R "
              "of what it copied", hadolint="", edit=copy_ownership, may_change=NOTHING)

"""What a piece of advice is and what it makes: a rewrite (the new Dockerfile, the lines it
touched, and what it may change in the image), or the reason it does not apply.

An edit replaces whole instructions by their lines; every other line of the file is written
back as it was, in the file's own line endings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from harness.advice.parse import Instruction, Parsed
from harness.advice.shell import ShellCommand
from harness.model import Squash


@dataclass(frozen=True, kw_only=True)
class MayChange:
    """What a piece's image may differ in from the original's (the image guard's allowance).
    Layers and wasted bytes may always differ; the config never."""

    paths: tuple[str, ...] = ()
    """Glob patterns (fnmatch, relative to the root: `var/lib/apt/lists/*`) of paths the
    piece may remove, add or change."""
    dropped_packages: bool = False
    """The files of the Debian packages the rewrite's image no longer lists as installed
    (from the original's var/lib/dpkg/info/PKG.list), and dpkg's and apt's records."""
    exact_paths: frozenset[str] = frozenset()
    """Paths, not patterns: what two base images differ in (thousands, looked up at once)."""

    def union(self, other: MayChange) -> MayChange:
        return MayChange(paths=tuple(dict.fromkeys(self.paths + other.paths)),
                         dropped_packages=self.dropped_packages or other.dropped_packages,
                         exact_paths=self.exact_paths | other.exact_paths)

    def describe(self) -> str:
        parts = [*self.paths]
        if self.exact_paths:
            parts.append(f"the {len(self.exact_paths)} paths the two bases differ in")
        if self.dropped_packages:
            parts.append("the files of packages no longer installed, and dpkg's records")
        return ", ".join(parts) or "nothing in the final filesystem (only layers and waste)"


NOTHING = MayChange()
CONTAINER_FILES = MayChange(paths=(".dockerenv", "dev", "etc/hostname", "etc/hosts",
                                   "etc/resolv.conf", "etc/mtab", "proc", "sys"))
"""The files `docker run` puts in every container, or mounts over (/dev, the empty
/etc/hostname, hosts and resolv.conf): what a container's filesystem holds that its image did
not, which no one running the image sees differ."""


@dataclass(frozen=True, kw_only=True)
class Rewrite:
    """One piece of advice applied: the rewritten Dockerfile and what it touched."""

    advice: str
    key: str
    hadolint: str
    lines: tuple[int, ...]
    dockerfile: str
    may_change: MayChange = NOTHING
    squash: Squash | None = None
    """A squash harness run makes after the build (the Dockerfile unchanged): measured as an
    alternative, never recommended as a rewrite."""
    rebuilds_from_the_source: bool = False
    """A COPY of the context moved earlier: a source change rebuilds more (measured
    incremental)."""
    note: str = ""
    """A trade-off the size does not show (a flattened image shares no layer with its base)."""


@dataclass(frozen=True, kw_only=True)
class NotApplicable:
    advice: str
    key: str
    hadolint: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class Piece:
    """One piece of advice: its key (as --only names it), title, hadolint rule, what it may
    change, and the function that edits a Dockerfile by it (returning "" where it applied,
    else why not)."""

    key: str
    title: str
    hadolint: str
    may_change: MayChange
    edit: Callable[[Edit], str]
    alternative_to: str = ""
    """The piece this one is another way of doing (a cache mount for a cleanup): measured
    beside it, never combined with it."""

    def apply(self, parsed: Parsed) -> Rewrite | NotApplicable:
        edit = Edit(parsed)
        reason = self.edit(edit)
        notes = "".join(f"; {note}" for note in edit.notes)
        if reason or not edit.replaced:
            return NotApplicable(advice=self.title, key=self.key, hadolint=self.hadolint,
                                 reason=(reason or "nothing to change") + notes
                                 + left_alone(parsed))
        return Rewrite(advice=self.title, key=self.key, hadolint=self.hadolint,
                       lines=tuple(sorted(edit.touched)), dockerfile=edit.text(),
                       may_change=self.may_change.union(MayChange(paths=tuple(edit.allowed))),
                       note=notes[2:])


@dataclass
class Edit:
    """Replacements of whole instructions by line range; a deleted one becomes nothing."""

    parsed: Parsed
    replaced: dict[int, str] = field(default_factory=dict)  # start line -> new text
    touched: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    """What the piece declined where, and why (shown with the rewrite or the reason)."""
    allowed: list[str] = field(default_factory=list)
    """Paths this rewrite may change beyond its piece's own (the archive it deletes)."""

    def replace(self, instruction: Instruction, text: str) -> None:
        self.replaced[instruction.start] = text
        self.touched.update(range(instruction.start, instruction.end + 1))

    def delete(self, instruction: Instruction) -> None:
        self.replace(instruction, "")

    def insert_before(self, instruction: Instruction, text: str) -> None:
        current = self.replaced.get(instruction.start, instruction.text)
        self.replaced[instruction.start] = f"{text}\n{current}"
        self.touched.add(instruction.start)

    def text(self) -> str:
        """The Dockerfile with the edits; new lines in the file's own line ending."""
        by_start = {i.start: i for i in self.parsed.instructions}
        newline = self.parsed.newline
        out: list[str] = []
        skip_to = 0
        for number, line in enumerate(self.parsed.lines, 1):
            if number <= skip_to:
                continue
            if number in self.replaced:
                skip_to = by_start[number].end
                if self.replaced[number]:
                    out.append(_in_line_endings(self.replaced[number], newline))
                continue
            out.append(line)
        return "\n".join(out) + "\n"


def _in_line_endings(text: str, newline: str) -> str:
    """`text` (lines joined by \\n, the user's own ones ending in \\r where the file's do)
    with every line ending as the file's lines do."""
    if newline == "\n":
        return text
    return "\n".join(line if line.endswith("\r") else line + "\r" for line in text.split("\n"))


def left_alone(parsed: Parsed) -> str:
    """The RUNs no piece rewrites, each with its line and why: never a silent skip (a piece
    that does not apply says it; the report says it once above the table)."""
    skipped = [f"line {i.start}: {i.unsafe}" for i in parsed.instructions if i.unsafe]
    return f"; left alone: {'; '.join(skipped)}" if skipped else ""


def rewritten_run(run: Instruction, escape: str, *, options: dict[int, str] | None = None,
                  before: str = "", after: tuple[str, ...] = (), flags: str = "") -> str:
    """A RUN as the user wrote it, with `options` inserted (body offset -> text put right
    after it, e.g. after a command's `install`), `flags` put in front of its body (`--mount=`),
    `before` put in front of its commands and each of `after` chained behind them. Where
    anything is put around the commands and they are not a plain && list that leaves no state,
    they go in a subshell; a trailing comment moves to a line of its own above the RUN, where
    it swallows nothing."""
    assert run.script is not None
    start, end = run.origin[run.script.start], run.origin[run.script.end - 1] + 1
    code = run.text[start:end]
    head = run.text[:run.origin[0]] + flags + run.text[run.origin[0]:start]
    for offset, text in sorted((options or {}).items(), reverse=True):
        at = run.origin[offset - 1] + 1 - start
        code = code[:at] + text + code[at:]
    if not before and not after:
        return head + code + run.text[end:]
    if not run.script.standalone:
        code = f"( {code} )"
    comment = f"{run.trailing_comment}\n" if run.trailing_comment else ""
    return comment + head + before + code + "".join(
        f" {escape}\n    && {command}" for command in after)


def chains_right_after(run: Instruction, command: ShellCommand) -> bool:
    """Whether `&& more` may go right after `command`, not at the RUN's end: the RUN is a
    plain && list and `&&` follows the command (a redirect or pipe after it would take the
    added command in)."""
    assert run.script is not None
    return run.script.plain_and_list and run.body[command.end:].lstrip().startswith("&&")


def runs(parsed: Parsed) -> list[Instruction]:
    """The RUNs a piece may rewrite."""
    return [i for i in parsed.instructions if i.cmd == "RUN" and not i.unsafe]

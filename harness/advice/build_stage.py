"""Build in a stage of its own, the way an expert writes it: where a RUN installs packages,
later RUNs build with them and a later RUN purges them, the install and the build move into
a build stage, and the final stage copies only the files the build RUNs wrote (`COPY
--from`), installs only the packages that were not purged, and has no purge. Where nothing
purges them, the build-only packages are the build tools (BUILD_TOOLS) and `-dev` packages
of an install whose tools a later RUN builds with; the checks say whether the app runs
without them. Which files the build wrote is read from the built original, layer by layer,
so nothing is guessed. What it may change is the files of the packages no longer installed,
and dpkg's records."""

from __future__ import annotations

from collections.abc import Sequence

from harness.advice.autoremove import removes
from harness.advice.cache import APT
from harness.advice.edit import Edit, MayChange, NotApplicable, Rewrite
from harness.advice.parse import Instruction, Parsed
from harness.advice.shell import ShellCommand, is_command, run_words
from harness.layers import LayerFacts

TITLE, KEY = "build in a stage of its own, COPY --from what it built", "build-stage"
CLEANUPS = ("clean", "autoremove", "autoclean")
"""What a purge RUN may do beside purging, all of it moot where nothing was installed."""
BUILD_TOOLS = {"gcc": ("gcc", "cc"), "g++": ("g++", "c++"), "clang": ("clang", "cc"),
               "tcc": ("tcc",), "make": ("make",), "cmake": ("cmake",),
               "build-essential": ("gcc", "g++", "cc", "c++", "make"),
               "ninja-build": ("ninja",), "meson": ("meson",), "golang-go": ("go",),
               "cargo": ("cargo",), "rustc": ("rustc",)}
"""Packages only a build needs, and the programs by which a RUN builds with them."""


def _removed(command: ShellCommand) -> list[str] | None:
    if not any(removes(command, tool) for tool in APT):
        return None
    words = run_words(command)
    at = next(i for i, w in enumerate(words) if w in ("purge", "remove"))
    return [w for w in words[at + 1:] if not w.startswith("-")]


def _purge(run: Instruction) -> list[str] | None:
    """The packages a RUN of apt purges, removes and cleanups only purges; else None."""
    if run.script is None or run.unsafe:
        return None
    packages: list[str] = []
    for command in run.script.commands:
        removed = _removed(command)
        if removed is not None:
            packages += removed
        elif not (any(is_command(command, tool, sub) for tool in APT for sub in CLEANUPS)
                  or (is_command(command, "rm") and all(
                      "/var/lib/apt/lists" in w or w.startswith("-")
                      for w in run_words(command)[1:]))):
            return None
    return packages or None


def _install_words(command: ShellCommand) -> list[int]:
    """The indexes of an apt install's package words."""
    if not any(is_command(command, tool, "install") for tool in APT):
        return []
    at = command.words.index("install")
    return [i for i in range(at + 1, len(command.words)) if not command.words[i].startswith("-")]


def build_stage(parsed: Parsed, layers: Sequence[LayerFacts], layer_line: list[int | None],
                target: str | None = None) -> Rewrite | NotApplicable:
    def declined(reason: str) -> NotApplicable:
        return NotApplicable(advice=TITLE, key=KEY, hadolint="", reason=reason)

    stage = parsed.built_stage(target)
    if stage != parsed.final_stage or stage in parsed.stage_bases:
        return declined("the image is built from a stage of this Dockerfile: it has stages "
                        "already")
    mine = parsed.stage(stage)
    purge = next((i for i in mine if i.cmd == "RUN" and _purge(i)), None)
    if purge is None:
        unpurged = _unpurged(mine)
        if unpurged is None:
            return declined("no RUN purges packages an earlier RUN installed, nor installs a "
                            "build tool (gcc, make, ...) a later RUN builds with")
        install, purged, builds = unpurged
    else:
        purged = set(_purge(purge) or [])
        found = next((i for i in reversed(mine) if i.cmd == "RUN" and i.start < purge.start
                      and purged <= _installed(i)), None)
        if found is None:
            return declined(f"no RUN installs every package line {purge.start} purges")
        install = found
        builds = [i for i in mine if i.cmd == "RUN" and install.start < i.start < purge.start]
        if not builds:
            return declined(f"no RUN between the install at line {install.start} and the "
                            f"purge at line {purge.start} builds anything")
    if any(run.start not in layer_line for run in builds):
        return declined("a build RUN made no layer harness can find in the image")
    first = layer_line.index(builds[0].start)
    before = {e.path for layer in layers[:first] for e in layer.entries}
    written: list[str] = []
    made: set[str] = set()  # the folders the build made, copied whole
    for run in builds:
        entries = layers[layer_line.index(run.start)].entries
        deleted = next((e.path for e in entries if e.kind in ("whiteout", "opaque")), None)
        if deleted is not None:
            return declined(f"line {run.start} deletes /{deleted}: a build stage would copy "
                            "what it left")
        if any(e.path.startswith("var/lib/dpkg/") for e in entries):
            return declined(f"line {run.start} installs or removes packages (it writes dpkg's "
                            "records), which a COPY from a build stage cannot bring")
        made |= {e.path for e in entries if e.kind == "dir" and e.path not in before}
        written += [e.path for e in entries if e.kind != "dir"]
    if not written:
        return declined("the build RUNs wrote no file")
    copied = list(dict.fromkeys(_topmost(path, made) for path in written))
    edit = Edit(parsed)
    start = mine[0]
    kept = [i for i in mine[1:] if i.start <= builds[-1].start]
    name = "harness-build"
    base = " ".join([*start.flags, start.value[0]])
    edit.insert_before(start, "\n".join([f"FROM {base} AS {name}", *(i.text for i in kept)])
                       + "\n")
    final_install = _without(install, purged)
    if final_install:
        edit.replace(install, final_install)
    else:
        edit.delete(install)
    copies = [f"COPY --from={name} /{path} /{path}" for path in copied]
    edit.replace(builds[0], "\n".join(copies))
    for run in builds[1:]:
        edit.delete(run)
    if purge is not None:
        edit.delete(purge)
    last = purge or builds[-1]
    return Rewrite(advice=f"{TITLE} (lines {install.start}-{last.start})", key=KEY,
                   hadolint="", lines=tuple(sorted(edit.touched)), dockerfile=edit.text(),
                   may_change=MayChange(dropped_packages=True),
                   note=f"{', '.join(sorted(purged))} only in the build stage"
                        + ("" if purge else " (never purged: build tools and headers, which "
                                            "the checks say the app runs without)")
                        + f"; the {len(written)} file(s) the build wrote copied from it")


def _installed(run: Instruction) -> set[str]:
    """The packages a RUN's apt installs name."""
    if run.cmd != "RUN" or run.script is None or run.unsafe:
        return set()
    return {command.words[w] for command in run.script.commands
            for w in _install_words(command)}


def _builds_with(run: Instruction, tools: set[str]) -> bool:
    return run.cmd == "RUN" and run.script is not None and any(
        is_command(command, program) for command in run.script.commands
        for tool in tools for program in BUILD_TOOLS.get(tool, ()))


def _unpurged(mine: list[Instruction]
              ) -> tuple[Instruction, set[str], list[Instruction]] | None:
    """Where nothing purges them: the last install of build tools a later RUN builds with,
    its build-only packages (the tools, and its -dev packages), and the RUNs from the install
    to the last that builds with them."""
    for install in reversed(mine):
        tools = {p for p in _installed(install) if p in BUILD_TOOLS or p.endswith("-dev")}
        later = [i for i in mine if i.cmd == "RUN" and i.start > install.start]
        users = [i for i in later if _builds_with(i, tools)]
        if users:
            return install, tools, [i for i in later if i.start <= users[-1].start]
    return None


def _without(install: Instruction, packages: set[str]) -> str:
    """The install RUN without `packages` among its install's words; "" where it then
    installs nothing and does nothing but apt."""
    assert install.script is not None
    cuts = []
    left = 0
    for command in install.script.commands:
        for index in _install_words(command):
            if command.words[index] in packages:
                cuts.append(command.spans[index])
            else:
                left += 1
    if not left and all(run_words(c)[:1] and run_words(c)[0] in (*APT, "rm")
                        for c in install.script.commands):
        return ""
    text = install.text
    for begin, end in sorted(cuts, reverse=True):
        first, last = install.origin[begin], install.origin[end - 1] + 1
        if text[text.rfind("\n", 0, first) + 1:first].strip():  # the space before it goes
            while first > 0 and text[first - 1] in " \t":
                first -= 1
        else:  # first on its line: the indentation stays, the space after it goes
            while last < len(text) and text[last] in " \t":
                last += 1
        text = text[:first] + text[last:]
    return text


def _topmost(path: str, made: set[str]) -> str:
    """The highest folder above `path` that the build made (copied whole), else the path."""
    parts = path.split("/")
    return next(("/".join(parts[:n]) for n in range(1, len(parts)) if "/".join(parts[:n])
                 in made), path)

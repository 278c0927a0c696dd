"""The slimming advice as Dockerfile rewrites, for `harness advise`.

The Dockerfile is read with BuildKit's own parser (the `dockerfile` package: heredocs,
continuations, the escape directive, line numbers), and each RUN body with a real shell
parser (bashlex), so `apt-get install` is found inside `&&`, `;`, `set -eux` and
continuations. Each piece of advice is one rewrite, made only where it applies; where it
does not, it says why. A rewrite replaces whole instructions (their lines) and leaves every
other line of the file as it was. A RUN harness cannot rewrite safely (exec form, a heredoc,
`--mount` and other flags, a SHELL other than sh or bash, ONBUILD) is left alone, with the
reason.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bashlex
import dockerfile

from harness.errors import HarnessError
from harness.model import Squash

MANIFESTS = (("requirements*.txt",), ("pyproject.toml", "poetry.lock", "uv.lock", "Pipfile",
             "Pipfile.lock"), ("package.json", "package-lock.json", "yarn.lock",
                               "pnpm-lock.yaml"), ("go.mod", "go.sum"),
             ("Cargo.toml", "Cargo.lock"), ("Gemfile", "Gemfile.lock"), ("pom.xml",),
             ("composer.json", "composer.lock"))
"""Dependency manifests by ecosystem: what a dependency install reads from the context."""
INSTALLERS = re.compile(r"\b(pip3? install|python3? -m pip install|npm (ci|install)|yarn "
                        r"install|pnpm install|go mod download|cargo (build|fetch)|bundle "
                        r"install|mvn|composer install|poetry install|uv sync)\b")
STATEFUL = {"cd", "export", "source", ".", "set", "umask", "shopt", "alias", "unset",
            "pushd", "popd", "trap", "ulimit"}
"""Builtins whose effect lasts past their own command: bodies with them are chained in a
subshell, so one RUN's `cd` cannot change where the next one runs."""
APT_CLEAN = "apt-get clean && rm -rf /var/lib/apt/lists/*"
NODOCS = ("printf 'path-exclude=/usr/share/doc/*\\npath-include=/usr/share/doc/*/copyright"
          "\\npath-exclude=/usr/share/man/*\\npath-exclude=/usr/share/info/*\\n"
          "path-exclude=/usr/share/locale/*\\npath-include=/usr/share/locale/locale.alias\\n' "
          "> /etc/dpkg/dpkg.cfg.d/01-nodoc")


class DockerfileError(HarnessError):
    pass


@dataclass(frozen=True, kw_only=True)
class Instruction:
    cmd: str
    """FROM, RUN, COPY... upper case."""
    text: str
    """The instruction's own lines, as written."""
    start: int
    end: int
    """Its first and last line, counted from 1."""
    body: str = ""
    """A RUN's shell command (continuations joined as BuildKit joins them)."""
    unsafe: str = ""
    """Why this RUN is not rewritten ("" where it may be)."""
    stage: int = 0
    value: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Parsed:
    path: Path
    context: Path
    lines: list[str]
    instructions: list[Instruction]

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


@dataclass(frozen=True, kw_only=True)
class Rewrite:
    """One piece of advice applied: the rewritten Dockerfile and what it touched."""

    advice: str
    key: str
    hadolint: str
    lines: tuple[int, ...]
    dockerfile: str
    squash: Squash | None = None
    """A squash harness run makes after the build (the Dockerfile unchanged): measured as an
    alternative, never recommended as a rewrite."""
    rebuilds_from_the_source: bool = False
    """A COPY of the context moved earlier: a source change rebuilds more (measured
    incremental)."""


@dataclass(frozen=True, kw_only=True)
class NotApplicable:
    advice: str
    key: str
    hadolint: str
    reason: str


@dataclass
class _Edit:
    """Replacements of whole instructions by line range; a deleted one becomes nothing."""

    parsed: Parsed
    replaced: dict[int, str] = field(default_factory=dict)  # start line -> new text
    touched: set[int] = field(default_factory=set)

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
        by_start = {i.start: i for i in self.parsed.instructions}
        out: list[str] = []
        skip_to = 0
        for number, line in enumerate(self.parsed.lines, 1):
            if number <= skip_to:
                continue
            if number in self.replaced:
                skip_to = by_start[number].end
                if self.replaced[number]:
                    out.append(self.replaced[number])
                continue
            out.append(line)
        return "\n".join(out) + "\n"


def parse(path: Path, context: Path | None = None) -> Parsed:
    """The Dockerfile's instructions; its build context defaults to its folder."""
    try:
        text = path.read_text()
    except OSError as error:
        raise DockerfileError(f"{path}: cannot be read ({error.strerror})") from None
    except UnicodeDecodeError:
        raise DockerfileError(f"{path}:1: not a Dockerfile (not text)") from None
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
    shell_ok = True
    stage = -1
    instructions = []
    lines = text.splitlines()
    for command in commands:
        cmd = command.cmd.upper()
        if cmd == "FROM":
            stage += 1
            shell_ok = True
        if cmd == "SHELL":
            shell_ok = bool(command.value) and Path(command.value[0]).name in ("sh", "bash")
        end = command.end_line
        unsafe = ""
        if cmd == "RUN":
            if command.json:
                unsafe = "an exec-form RUN (no shell to chain in)"
            elif command.heredocs:
                unsafe = "a heredoc RUN"
            elif command.flags:
                unsafe = f"a RUN with {' '.join(command.flags)}"
            elif not shell_ok:
                unsafe = "a SHELL other than sh or bash"
            if command.heredocs:
                end = max(end, command.start_line + command.original.count("\n") - 1)
        elif cmd == "ONBUILD":
            unsafe = "ONBUILD"
        instructions.append(Instruction(
            cmd=cmd, text="\n".join(lines[command.start_line - 1:end]), start=command.start_line,
            end=end, body=" ".join(command.value) if cmd == "RUN" else "",
            unsafe=unsafe, stage=max(stage, 0), value=tuple(command.value),
            flags=tuple(command.flags)))
    return Parsed(path=path, context=context or path.parent, lines=lines,
                  instructions=instructions)


# -- the shell -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ShellCommand:
    words: tuple[str, ...]
    start: int
    end: int
    """Its span in the body."""


def commands(body: str) -> list[ShellCommand]:
    """The simple commands of a RUN body, in order, wherever they sit (&&, ;, |, subshells)."""
    try:
        trees = bashlex.parse(body)
    except (bashlex.errors.ParsingError, NotImplementedError, IndexError, AttributeError):
        return []
    found: list[ShellCommand] = []

    class Visitor(bashlex.ast.nodevisitor):
        def visitcommand(self, node: Any, parts: list[Any]) -> bool:
            words = tuple(p.word for p in parts if getattr(p, "kind", "") == "word")
            if words:
                found.append(ShellCommand(words, node.pos[0], node.pos[1]))
            return True

    for tree in trees:
        Visitor().visit(tree)
    return found


def _plain_and_list(body: str) -> bool:
    """Whether the body is commands joined by && only (safe to chain without a subshell)."""
    try:
        trees = bashlex.parse(body)
    except (bashlex.errors.ParsingError, NotImplementedError, IndexError, AttributeError):
        return False
    if len(trees) != 1:
        return False
    tree = trees[0]
    if tree.kind == "command":
        return True
    return tree.kind == "list" and all(
        p.kind == "command" or (p.kind == "operator" and p.op == "&&") for p in tree.parts)


def _stateful(body: str) -> bool:
    return any(c.words[0] in STATEFUL for c in commands(body))


def _chained(runs: list[Instruction]) -> str:
    """RUNs as one, each as written (its continuations kept): in a subshell where it is more
    than an && list or changes the shell's state, so the chain means what the RUNs meant."""
    parts = []
    for run in runs:
        written = re.sub(r"^\s*RUN\s+", "", run.text, flags=re.IGNORECASE).strip()
        plain = _plain_and_list(run.body) and not _stateful(run.body)
        parts.append(written if plain else f"( {written} )")
    return "RUN " + " \\\n    && ".join(parts)


def _is(command: ShellCommand, *words: str) -> bool:
    """`command` runs `words` (a program and its subcommand), options between allowed."""
    program, arguments = Path(command.words[0]).name, list(command.words[1:])
    if words[0] == "pip" and program.startswith("python") and arguments[:2] == ["-m", "pip"]:
        program, arguments = "pip", arguments[2:]
    elif words[0] == "pip" and program == "pip3":
        program = "pip"
    if program != words[0]:
        return False
    rest = [w for w in arguments if not w.startswith("-")]
    return rest[:len(words) - 1] == list(words[1:])


def _run(body: str) -> str:
    """A RUN of a rewritten body: each `&&` that followed a continuation on a line of its own
    again (the parser joined the lines and kept their indentation)."""
    return "RUN " + re.sub(r"[ \t]{2,}&&[ \t]+", " \\\n    && ", body.strip())


def _with_option(body: str, command: ShellCommand, after: str, option: str) -> str:
    """`option` inserted into `command` right after its word `after`."""
    text = body[command.start:command.end]
    match = re.search(rf"(^|\s){re.escape(after)}(?=\s|$)", text)
    if match is None:
        return body
    at = command.start + match.end()
    return body[:at] + " " + option + body[at:]


# -- the advice ----------------------------------------------------------------------------

Advice = Callable[[Parsed], "Rewrite | NotApplicable"]
ADVICE: dict[str, tuple[str, str, Advice]] = {}


def advice(key: str, title: str, hadolint: str = "") -> Callable[[Callable[[_Edit], str]], Advice]:
    """Register a piece of advice: its function edits and returns "" (applied) or a reason."""
    def register(function: Callable[[_Edit], str]) -> Advice:
        def apply(parsed: Parsed) -> Rewrite | NotApplicable:
            edit = _Edit(parsed)
            reason = function(edit)
            if reason or not edit.replaced:
                return NotApplicable(advice=title, key=key, hadolint=hadolint,
                                     reason=reason or "nothing to change")
            return Rewrite(advice=title, key=key, hadolint=hadolint,
                           lines=tuple(sorted(edit.touched)), dockerfile=edit.text())
        ADVICE[key] = (title, hadolint, apply)
        return apply
    return register


def _runs(parsed: Parsed) -> Iterator[Instruction]:
    return (i for i in parsed.instructions if i.cmd == "RUN" and not i.unsafe)


def _unsafe_note(parsed: Parsed) -> str:
    skipped = [f"line {i.start} ({i.unsafe})" for i in parsed.instructions if i.unsafe]
    return f"; left alone: {', '.join(skipped)}" if skipped else ""


@advice("chain", "chain consecutive RUNs with &&", "DL3059")
def chain_runs(edit: _Edit) -> str:
    found = False
    for group in _consecutive_runs(edit.parsed):
        _join(edit, group)
        found = True
    return "" if found else "no two consecutive RUNs in a stage" + _unsafe_note(edit.parsed)


def _join(edit: _Edit, runs: list[Instruction]) -> None:
    """The RUNs as one, where the first stood."""
    edit.replace(runs[0], _chained(runs))
    for instruction in runs[1:]:
        edit.delete(instruction)


PACKAGE_MANAGERS = ("apt-get", "apt", "apk", "dnf", "yum", "microdnf", "pip", "npm", "gem",
                    "cpan", "cpanm")


@advice("group", "group consecutive RUNs in two by purpose: packages, then the rest",
        "DL3059")
def group_runs(edit: _Edit) -> str:
    """The guide's middle way: a layer of system packages, which changes seldom and caches,
    and a layer of the rest; only where the RUNs already come in that order."""
    found = False
    for group in _consecutive_runs(edit.parsed):
        packages = [any(_is(c, manager) for c in commands(i.body) for manager in
                        PACKAGE_MANAGERS) for i in group]
        split = packages.index(False) if False in packages else len(group)
        if len(group) > 2 and 0 < split < len(group) and not any(packages[split:]):
            _join(edit, group[:split])
            _join(edit, group[split:])
            found = True
    return "" if found else ("no three or more consecutive RUNs that are package installs, "
                             "then the rest" + _unsafe_note(edit.parsed))


def _consecutive_runs(parsed: Parsed) -> list[list[Instruction]]:
    groups: list[list[Instruction]] = []
    current: list[Instruction] = []
    for instruction in parsed.instructions:
        if instruction.cmd == "RUN" and not instruction.unsafe and (
                not current or current[-1].stage == instruction.stage):
            current.append(instruction)
            continue
        if len(current) > 1:
            groups.append(current)
        current = [instruction] if instruction.cmd == "RUN" and not instruction.unsafe else []
    if len(current) > 1:
        groups.append(current)
    return groups


GEM_CPAN_CACHES = ((("gem", "install"), '"$(gem env gemdir)"/cache/*.gem'),
                   (("cpanm",), "~/.cpanm"), (("cpan",), "~/.cpan/build ~/.cpan/sources"))
"""The guide's table: the .gem files gem keeps after installing them, and the work folders
cpanm and cpan leave behind (with docs, which `gem install --no-document` skips)."""


@advice("cache", "clean the package cache in the RUN that filled it",
        "DL3009/DL3042/DL3019/DL3032/DL3040")
def clean_cache(edit: _Edit) -> str:
    parsed = edit.parsed
    changed = False
    for instruction in _runs(parsed):
        body, found = instruction.body, commands(instruction.body)
        new = body
        for command in reversed(found):  # from the end: earlier spans stay valid
            if _is(command, "apk", "add") and "--no-cache" not in command.words:
                new = _with_option(new, command, "add", "--no-cache")
            elif _is(command, "pip", "install") and "--no-cache-dir" not in command.words:
                new = _with_option(new, command, "install", "--no-cache-dir")
            elif _is(command, "gem", "install") and not {"--no-document", "-N"} & set(
                    command.words):
                new = _with_option(new, command, "install", "--no-document")
        tail = []
        if any(_is(c, "apt-get", "install") or _is(c, "apt", "install") for c in found) and \
                "/var/lib/apt/lists" not in body:
            tail.append(APT_CLEAN)
            if not any(_is(c, "apt-get", "update") or _is(c, "apt", "update") for c in found):
                update = _separate_update(parsed, instruction)
                if update is not None:  # the lists were written there: update here instead
                    edit.delete(update)
                    new = f"apt-get update && {new.strip()}"
        for manager in ("dnf", "yum", "microdnf"):
            if any(_is(c, manager, "install") for c in found) and \
                    not any(_is(c, manager, "clean") for c in found):
                tail.append(f"{manager} clean all")
        if any(_is(c, "npm", "install") or _is(c, "npm", "ci") for c in found) and \
                not any(_is(c, "npm", "cache") for c in found):
            tail.append("npm cache clean --force")
        for words, cache in GEM_CPAN_CACHES:  # what each leaves once installed
            if any(_is(c, *words) and len(c.words) > 1 for c in found) and cache not in body:
                tail.append(f"rm -rf {cache}")
        if tail or new != body:
            text = new.strip() if _plain_and_list(new) else f"( {new.strip()} )"
            edit.replace(instruction, _run(text + "".join(f"  && {more}" for more in tail)))
            changed = True
    return "" if changed else ("no apt-get, apk, pip, dnf, yum, npm, gem or cpan install that "
                               "leaves its cache" + _unsafe_note(parsed))


def _separate_update(parsed: Parsed, install: Instruction) -> Instruction | None:
    """An earlier RUN of the stage that is only `apt-get update`."""
    for instruction in reversed([i for i in parsed.stage(install.stage)
                                 if i.cmd == "RUN" and i.start < install.start]):
        found = commands(instruction.body)
        if found and all(_is(c, "apt-get", "update") or _is(c, "apt", "update")
                         for c in found):
            return None if instruction.unsafe else instruction
    return None


@advice("recommends", "no recommended packages (apt --no-install-recommends)", "DL3015")
def no_recommends(edit: _Edit) -> str:
    changed = False
    for instruction in _runs(edit.parsed):
        new = instruction.body
        for command in reversed(commands(instruction.body)):
            if (_is(command, "apt-get", "install") or _is(command, "apt", "install")) and \
                    "--no-install-recommends" not in command.words:
                new = _with_option(new, command, "install", "--no-install-recommends")
        if new != instruction.body:
            edit.replace(instruction, _run(new))
            changed = True
    return "" if changed else "no apt-get install that installs recommends" + _unsafe_note(
        edit.parsed)


@advice("nodocs", "no docs (dpkg path-exclude; dnf/yum tsflags=nodocs)")  # no hadolint rule
def no_docs(edit: _Edit) -> str:
    changed = False
    for stage in range(edit.parsed.final_stage + 1):
        runs = [i for i in edit.parsed.stage(stage) if i.cmd == "RUN" and not i.unsafe]
        apt = [i for i in runs if any(_is(c, "apt-get", "install") or _is(c, "apt", "install")
                                      for c in commands(i.body))]
        if apt and "path-exclude" not in " ".join(i.body for i in runs):
            edit.insert_before(apt[0], f"RUN {NODOCS}")
            changed = True
        for instruction in runs:
            new = instruction.body
            for command in reversed(commands(instruction.body)):
                for manager in ("dnf", "yum", "microdnf"):
                    if _is(command, manager, "install") and "tsflags=nodocs" not in new:
                        new = _with_option(new, command, "install", "--setopt=tsflags=nodocs")
            if new != instruction.body:
                edit.replace(instruction, _run(new))
                changed = True
    return "" if changed else "no apt-get, dnf or yum install" + _unsafe_note(edit.parsed)


@advice("cache-order", "copy the dependency manifest before the source")
def cache_order(edit: _Edit) -> str:
    context = edit.parsed.context
    for stage in range(edit.parsed.final_stage + 1):
        instructions = edit.parsed.stage(stage)
        for index, copy in enumerate(instructions):
            if copy.cmd not in ("COPY", "ADD") or copy.flags or len(copy.value) != 2 \
                    or copy.value[0] not in (".", "./"):
                continue
            first_run = next((i for i in instructions[index + 1:] if i.cmd == "RUN"), None)
            if first_run is None or not INSTALLERS.search(first_run.body) or first_run.unsafe:
                continue
            install = first_run  # a RUN before the install might need the source: not moved
            manifests = _manifests(context)
            if not manifests:
                return (f"COPY . at line {copy.start} comes before the install at line "
                        f"{install.start}, but the context has no dependency manifest")
            destination = copy.value[1].rstrip("/") + "/"
            edit.replace(copy, f"COPY {' '.join(manifests)} {destination}")
            edit.replace(install, f"{install.text}\n{copy.text}")
            return ""
    return "no COPY . before a dependency install"


def _manifests(context: Path) -> list[str]:
    for group in MANIFESTS:
        found = sorted(p.name for pattern in group for p in context.glob(pattern))
        if found:
            return found
    return []


def merge_span(parsed: Parsed, writer_line: int, hider_line: int) -> Rewrite | NotApplicable:
    """The RUNs from the one that wrote files to the one that deleted them, as one RUN, so the
    files never reach a layer (used with the waste analysis of the original image). A plain
    COPY or ADD of the context between them (a build's source, between installing the
    compiler and purging it) moves up before the first RUN: the image loses the files, and a
    change to the source rebuilds from there, which is measured too (incremental)."""
    title, key = "delete files in the RUN that made them", "move-deletion"
    span = [i for i in parsed.instructions if writer_line <= i.start <= hider_line]
    if not span or span[0].start != writer_line or span[-1].start != hider_line:
        return NotApplicable(advice=title, key=key, hadolint="", reason="no such lines")
    if span[0].cmd != "RUN":
        return NotApplicable(advice=title, key=key, hadolint="", reason=(
            f"the files come from {span[0].cmd} at line {writer_line}: use a build stage"))
    copies = [i for i in span if i.cmd in ("COPY", "ADD") and not i.flags]
    blocked = [i for i in span if (i.cmd != "RUN" and i not in copies) or i.unsafe]
    if blocked:
        return NotApplicable(advice=title, key=key, hadolint="", reason=(
            f"{blocked[0].cmd} at line {blocked[0].start} sits between them"
            + (f" ({blocked[0].unsafe})" if blocked[0].unsafe else "")))
    edit = _Edit(parsed)
    _join(edit, [i for i in span if i.cmd == "RUN"])
    for copy in reversed(copies):  # each goes in front: the last first keeps their order
        edit.delete(copy)
        edit.insert_before(span[0], copy.text)
    moved = (f", the {' and '.join(f'{c.cmd} at line {c.start}' for c in copies)} moved "
             f"before it" if copies else "")
    return Rewrite(advice=f"{title} (lines {writer_line}-{hider_line}{moved})", key=key,
                   hadolint="", lines=tuple(sorted(edit.touched)), dockerfile=edit.text(),
                   rebuilds_from_the_source=bool(copies))


def flatten(parsed: Parsed, config: dict[str, object]) -> Rewrite:
    """A final stage FROM scratch that copies the built image's filesystem and declares its
    config again (ENV, WORKDIR, USER, EXPOSE, ENTRYPOINT, CMD, LABEL, HEALTHCHECK, from the
    built image, so what the base set is kept too)."""
    lines = [*parsed.lines]
    final = [i for i in parsed.instructions if i.cmd == "FROM"][-1]
    value = list(final.value)
    if len(value) >= 3 and value[1].upper() == "AS":
        name = value[2]
        original = lines
    else:
        name = "harness-original"
        original = [*lines]
        original[final.start - 1] = f"{final.text} AS {name}"
    out = [*original, "", "FROM scratch", f"COPY --from={name} / /"]
    for key, value_ in sorted((config.get("Labels") or {}).items()):  # type: ignore[attr-defined]
        if not key.startswith("harness."):  # harness's own base labels are not the image's
            out.append(f"LABEL {shlex.quote(key)}={shlex.quote(value_)}")
    for item in config.get("Env") or []:  # type: ignore[attr-defined]
        key, _, value_ = item.partition("=")
        out.append(f"ENV {key}={json_quote(value_)}")
    for port in sorted(config.get("ExposedPorts") or {}):  # type: ignore[call-overload]
        out.append(f"EXPOSE {port}")
    if config.get("WorkingDir"):
        out.append(f"WORKDIR {config['WorkingDir']}")
    if config.get("User"):
        out.append(f"USER {config['User']}")
    health = config.get("Healthcheck")
    if isinstance(health, dict) and health.get("Test"):
        test = health["Test"]
        if test[0] == "CMD-SHELL":
            out.append(f"HEALTHCHECK CMD {test[1]}")
        elif test[0] == "CMD":
            out.append(f"HEALTHCHECK CMD {json_list(test[1:])}")
    if config.get("Entrypoint"):
        out.append(f"ENTRYPOINT {json_list(config['Entrypoint'])}")  # type: ignore[arg-type]
    if config.get("Cmd"):
        out.append(f"CMD {json_list(config['Cmd'])}")  # type: ignore[arg-type]
    return Rewrite(advice="squash: a final FROM scratch stage with the image's files and config",
                   key="flatten", hadolint="", lines=(final.start,),
                   dockerfile="\n".join(out) + "\n")


def squash_after_build(parsed: Parsed, target: str | None = None
                       ) -> list[Rewrite | NotApplicable]:
    """The post-build squashes `harness run` measures, as alternatives to flatten: the same
    Dockerfile, its image exported and imported with its config restored (every layer, the
    base's too, into one), or its own layers squashed onto its base by docker-squash (classic
    image store only), which keeps the base's layers shared."""
    text = "\n".join(parsed.lines) + "\n"
    exported = Rewrite(advice="squash after the build: docker export and import, the config "
                              "restored (a CI step, not a Dockerfile change)",
                       key=str(Squash.EXPORT_IMPORT), hadolint="", lines=(), dockerfile=text,
                       squash=Squash.EXPORT_IMPORT)
    title = ("squash after the build: docker-squash of the Dockerfile's layers onto its base "
             "(a CI step, not a Dockerfile change)")
    own = [i for i in parsed.stage(parsed.built_stage(target)) if i.cmd in ("RUN", "COPY", "ADD")]
    if len(own) < 2:
        return [exported, NotApplicable(advice=title, key=str(Squash.DOCKER_SQUASH), hadolint="",
                                        reason="the Dockerfile makes one layer over its base: "
                                               "nothing to squash")]
    return [exported, Rewrite(advice=title, key=str(Squash.DOCKER_SQUASH), hadolint="",
                              lines=(), dockerfile=text, squash=Squash.DOCKER_SQUASH)]


def json_list(items: list[str]) -> str:
    import json

    return json.dumps(items)


def json_quote(text: str) -> str:
    import json

    return json.dumps(text)

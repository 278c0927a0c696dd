"""Clean the package cache in the RUN that filled it (hadolint DL3009, DL3042, DL3019, DL3032,
DL3040, DL3060's npm, the guide's gem and cpan table).

apt's lists are cleaned only where nothing later needs them: a later RUN of the stage (or of
a stage built FROM it) that installs, upgrades or asks apt-cache without its own
`apt-get update` keeps them. A separate `RUN apt-get update` moves into the install only when
no other apt or dpkg command, and no change to apt's sources, stands between them: moved past
`apt-get upgrade`, the upgrade would run without lists and silently upgrade nothing.
"""

from __future__ import annotations

from harness.advice.edit import Edit, MayChange, Piece, rewritten_run, runs
from harness.advice.parse import Instruction, Parsed
from harness.advice.shell import ShellCommand, behind_sudo, is_command, run_words, word_end

APT_CLEAN = "apt-get clean && rm -rf /var/lib/apt/lists/*"
APT = ("apt-get", "apt")
LIST_USERS = ("install", "upgrade", "dist-upgrade", "full-upgrade", "source", "build-dep",
              "download", "satisfy", "reinstall")
"""apt subcommands that read the lists `apt-get update` wrote."""
APT_PROGRAMS = {"apt-get", "apt", "apt-cache", "aptitude", "dpkg", "add-apt-repository",
                "apt-key", "apt-mark"}
OPTIONS = ((("apk", "add"), "--no-cache"), (("pip", "install"), "--no-cache-dir"),
           (("gem", "install"), "--no-document"), (("gem", "update"), "--no-document"))
"""An option that keeps a manager's cache (or docs) out of the image, and the synonyms that
mean it is there already."""
ALREADY = {"--no-cache": {"--no-cache"}, "--no-cache-dir": {"--no-cache-dir"},
           "--no-document": {"--no-document", "-N"}}
GEM_CPAN_CACHES = ((("gem", "install"), '"$(gem env gemdir)"/cache/*.gem'),
                   (("cpanm",), "~/.cpanm"), (("cpan",), "~/.cpan/build ~/.cpan/sources"))
"""The guide's table: the .gem files gem keeps after installing them, and the work folders
cpanm and cpan leave behind."""
CACHE_PATHS = ("var/lib/apt/lists", "var/cache/apt", "var/cache/apk", "etc/apk/cache",
               "var/cache/dnf", "var/cache/yum", "root/.cache/pip", "home/*/.cache/pip",
               "root/.npm", "home/*/.npm", "usr/local/share/.cache/yarn", "root/.cache/yarn",
               "home/*/.cache/yarn", "*/gems/*/cache", "*/gems/*/doc", "root/.cpanm",
               "home/*/.cpanm", "root/.cpan/build", "root/.cpan/sources", "var/log/apt")
"""The caches, and apt's own logs, which record what apt saw (a later purge plans without
the lists, and its planner's log, eipp.log.xz, says so)."""


def _uses_lists(command: ShellCommand) -> bool:
    return any(is_command(command, tool, sub) for tool in APT for sub in LIST_USERS) or \
        is_command(command, "apt-cache")


def updates(command: ShellCommand) -> bool:
    return any(is_command(command, tool, "update") for tool in APT)


def _touches_apt(instruction: Instruction) -> bool:
    """An apt or dpkg command, or a change to apt's sources (or a RUN harness cannot read)."""
    if instruction.cmd in ("COPY", "ADD"):
        return any("etc/apt" in v for v in instruction.value)
    if instruction.cmd != "RUN":
        return False
    if instruction.script is None:
        return "apt" in instruction.text or "dpkg" in instruction.text
    return "/etc/apt" in instruction.body or any(
        is_command(c, program) for c in instruction.script.commands for program in APT_PROGRAMS)


def later_list_user(parsed: Parsed, install: Instruction) -> Instruction | None:
    """A later RUN of the stage, or of a stage built FROM it, that reads apt's lists without
    updating them first."""
    stages = parsed.descendants(install.stage)
    for later in parsed.instructions:
        if later.stage not in stages or later.start <= install.start or later.cmd != "RUN":
            continue
        if later.script is None:
            if "apt" in later.text:
                return later
            continue
        for command in later.script.commands:
            if updates(command):
                break
            if _uses_lists(command):
                return later
    return None


def _separate_update(parsed: Parsed, install: Instruction) -> tuple[Instruction | None, str]:
    """The earlier RUN of the stage that is only `apt-get update`, where it may move into the
    install; else why it may not ("" where there is none)."""
    earlier = [i for i in parsed.stage(install.stage) if i.start < install.start]
    for index in range(len(earlier) - 1, -1, -1):
        update = earlier[index]
        found = update.script.commands if update.script else ()
        if update.cmd == "RUN" and found and all(updates(c) for c in found):
            between = next((i for i in earlier[index + 1:] if _touches_apt(i)), None)
            if update.unsafe:
                return None, f"the apt-get update at line {update.start} is {update.unsafe}"
            if between is not None:
                return None, (f"the apt-get update at line {update.start} stays: line "
                              f"{between.start} uses apt between it and the install at line "
                              f"{install.start}")
            return update, ""
    return None, ""


def _cleaned(edit: Edit, run: Instruction) -> bool:
    parsed, found = edit.parsed, run.script.commands  # type: ignore[union-attr]
    options: dict[int, str] = {}
    for command in found:
        for words, option in OPTIONS:
            at = word_end(command, words[-1])
            if is_command(command, *words) and at is not None and \
                    not ALREADY[option] & set(command.words):
                options[at] = f" {option}"
    before, after = "", []
    if any(_uses_lists(c) and not any(is_command(c, tool, "source") for tool in APT)
           for c in found) and \
            "/var/lib/apt/lists" not in run.body:
        user = later_list_user(parsed, run)
        if user is not None:
            edit.notes.append(f"apt's lists at line {run.start} stay: line {user.start} "
                              "still uses them")
        else:
            after.append(APT_CLEAN)
            if not any(updates(c) for c in found):
                update, why = _separate_update(parsed, run)
                if update is not None:  # the lists were written there: update here instead
                    edit.delete(update)
                    before = "apt-get update && "
                elif why:
                    edit.notes.append(why)
    for manager in ("dnf", "yum", "microdnf"):
        if any(is_command(c, manager, "install") for c in found) and \
                not any(is_command(c, manager, "clean") for c in found):
            after.append(f"{manager} clean all")
    if any(is_command(c, "npm", "install") or is_command(c, "npm", "ci") for c in found) and \
            not any(is_command(c, "npm", "cache") for c in found):
        after.append("npm cache clean --force")
    if any(is_command(c, "yarn", "install") or is_command(c, "yarn", "add")
           or is_command(c, "yarn", "global", "add") or (is_command(
            c, "yarn") and all(w.startswith("-") for w in run_words(c)[1:])) for c in found) and \
            not any(is_command(c, "yarn", "cache") for c in found):
        after.append("yarn cache clean")
    for program, cache in GEM_CPAN_CACHES:
        if any(is_command(c, *program) and len(run_words(c)) > 1 for c in found) and \
                cache not in run.body:
            after.append(f"rm -rf {cache}")
    if not options and not before and not after:
        return False
    if any(behind_sudo(c) for c in found):  # run as a user; the cleanup needs root too
        after = [" && ".join(f"sudo {part}" for part in command.split(" && "))
                 for command in after]
        before = before and "sudo apt-get update && "
    edit.replace(run, rewritten_run(run, parsed.escape, options=options, before=before,
                                    after=tuple(after)))
    return True


def clean_cache(edit: Edit) -> str:
    changed = [_cleaned(edit, run) for run in runs(edit.parsed)]
    return "" if any(changed) else ("no apt-get, apk, pip, dnf, yum, npm, yarn, gem or cpan "
                                     "install that leaves its cache")


PIECE = Piece(key="cache", title="clean the package cache in the RUN that filled it",
              hadolint="DL3009/DL3042/DL3019/DL3032/DL3040/DL3060", edit=clean_cache,
              may_change=MayChange(paths=CACHE_PATHS))

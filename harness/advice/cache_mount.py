"""A BuildKit cache mount instead of cleaning the package cache (hadolint PR #1249, issue
#1139; Docker's "Optimize cache usage in builds"): `RUN --mount=type=cache,...` keeps the
cache out of the image, like the cleanup, and warm for the next build that runs the RUN again.
An alternative to the cache piece, measured beside it and never combined with it (a cleanup
would empty the mount).

apt keeps what it downloads only once the base's docker-clean hook is gone, so the rewrite
removes it first, as Docker's documentation does; the lists move into a mount too, so the RUN
must update them itself, and no later RUN may read them. dnf and yum are told to keep their
packages (`--setopt=keepcache`); apk keeps them wherever /etc/apk/cache exists. Only root's
caches are mounted (a mount is owned by root); gem's and cpan's are left to the cache piece.

BuildKit shares a cache mount engine-wide by its id, which is its target unless named: the
measured builds name their own (`owned`), so harness never reads or fills the user's caches,
and the runner removes them when it ends (harness.cache_mounts). The Dockerfile the user
adopts has no id.
"""

from __future__ import annotations

import re

from harness.advice.cache import APT, LIST_USERS, later_list_user, updates
from harness.advice.edit import Edit, MayChange, Piece, rewritten_run, runs
from harness.advice.parse import Instruction, Parsed
from harness.advice.shell import ShellCommand, behind_sudo, is_command, run_words, word_end

KEY = "cache-mount"
MOUNT = "--mount=type=cache,target={},sharing=locked"
APT_TARGETS = ("/var/cache/apt", "/var/lib/apt/lists")
KEEP_DOWNLOADS = "rm -f /etc/apt/apt.conf.d/docker-clean && "
KEEP_DOWNLOADS_APT = (
    "echo 'Binary::apt::APT::Keep-Downloaded-Packages \"true\";' "
    "> /etc/apt/apt.conf.d/keep-cache && ")
"""`apt` (not apt-get) deletes what it downloaded unless told to keep it."""
TARGETS = {"pip": "/root/.cache/pip", "npm": "/root/.npm",
           "yarn": "/usr/local/share/.cache/yarn", "apk": "/etc/apk/cache",
           "dnf": "/var/cache/dnf", "yum": "/var/cache/yum"}
KEEP_PACKAGES = {"dnf": "--setopt=keepcache=True", "yum": "--setopt=keepcache=1"}
"""dnf and yum delete what they downloaded unless told to keep it; apk keeps it wherever
/etc/apk/cache exists (the mount)."""
ROOT = ("root", "0", "0:0", "root:root")


def _apt_install(command: ShellCommand) -> bool:
    return any(is_command(command, tool, sub) for tool in APT for sub in LIST_USERS)


def _mounts(run: Instruction, found: list[ShellCommand]) -> tuple[list[str], str]:
    """The cache folders this RUN's installs fill and leave (those a mount may hold), and why
    an apt install among them cannot have its lists in a mount ("" where it can)."""
    targets: list[str] = []
    installs = [c for c in found if _apt_install(c)]
    if installs and "/var/lib/apt/lists" not in run.body and not any(
            is_command(c, tool, "clean") for c in found for tool in APT):
        first = found.index(installs[0])
        if not any(updates(c) for c in found[:first]):
            return [], (f"the install at line {run.start} reads the lists an earlier RUN "
                        "wrote, which a mount over /var/lib/apt/lists would hide (the chain "
                        "piece brings the update into the install's RUN)")
        targets += APT_TARGETS
    words = [set(run_words(c)) for c in found]
    if any(is_command(c, "pip", "install") and "--no-cache-dir" not in w
           for c, w in zip(found, words, strict=True)):
        targets.append(TARGETS["pip"])
    if any(is_command(c, "npm", "install") or is_command(c, "npm", "ci") for c in found) and \
            not any(is_command(c, "npm", "cache") for c in found):
        targets.append(TARGETS["npm"])
    if any(is_command(c, "yarn", "install") or is_command(c, "yarn", "add") for c in found) \
            and not any(is_command(c, "yarn", "cache") for c in found):
        targets.append(TARGETS["yarn"])
    if any(is_command(c, "apk", "add") and "--no-cache" not in w
           for c, w in zip(found, words, strict=True)):
        targets.append(TARGETS["apk"])
    for manager in KEEP_PACKAGES:
        if any(is_command(c, manager, "install") for c in found) and not any(
                is_command(c, manager, "clean") for c in found):
            targets.append(TARGETS[manager])
    return targets, ""


def _user(parsed: Parsed, run: Instruction) -> str:
    """The USER the RUN runs as ("" for root)."""
    users = [i.value[0] for i in parsed.stage(run.stage)
             if i.cmd == "USER" and i.start < run.start and i.value]
    return users[-1] if users and users[-1] not in ROOT else ""


def _mounted(edit: Edit, run: Instruction) -> bool:
    parsed, found = edit.parsed, list(run.script.commands)  # type: ignore[union-attr]
    targets, why = _mounts(run, found)
    if why:
        edit.notes.append(why)
    if not targets:
        return False
    user = _user(parsed, run)
    if user or any(behind_sudo(c) for c in found):
        edit.notes.append(f"line {run.start} installs as {user or 'sudo'}: a cache mount is "
                          "root's folder")
        return False
    if APT_TARGETS[1] in targets:
        later = later_list_user(parsed, run)
        if later is not None:
            edit.notes.append(f"apt's lists at line {run.start} stay in the image: line "
                              f"{later.start} still reads them")
            targets = [t for t in targets if t not in APT_TARGETS]
            if not targets:
                return False
    before = ""
    if APT_TARGETS[0] in targets:
        uses_apt = any(is_command(c, "apt", sub) for c in found for sub in LIST_USERS)
        before = KEEP_DOWNLOADS + (KEEP_DOWNLOADS_APT if uses_apt else "")
    options = {at: f" {KEEP_PACKAGES[manager]}" for command in found for manager in KEEP_PACKAGES
               if TARGETS[manager] in targets and is_command(command, manager, "install")
               and (at := word_end(command, "install")) is not None}
    flags = "".join(f"{MOUNT.format(target)} {parsed.escape}\n    " for target in targets)
    edit.replace(run, rewritten_run(run, parsed.escape, options=options, before=before,
                                    flags=flags))
    return True


def cache_mount(edit: Edit) -> str:
    if "type=cache" in edit.parsed.source:
        return "the Dockerfile mounts a cache already"
    changed = [_mounted(edit, run) for run in runs(edit.parsed)]
    if not any(changed):
        return "no apt-get, pip, npm, yarn, apk, dnf or yum install that leaves its cache"
    edit.notes.append("needs BuildKit (Docker's default builder since 23.0)")
    return ""


def owned(dockerfile: str, token: str) -> str:
    """The rewrite as harness builds it: each mount it wrote named `harness-TOKEN-...`, so
    the measured builds neither read nor fill the user's own caches."""
    for target in (*APT_TARGETS, *TARGETS.values()):
        flag = MOUNT.format(target)
        dockerfile = dockerfile.replace(
            flag, f"{flag},id=harness-{token}{re.sub(r'[^a-z0-9]+', '-', target)}")
    return dockerfile


PIECE = Piece(key=KEY, title="a BuildKit cache mount instead of cleaning the package cache",
              hadolint="DL3009/DL3042/DL3060", edit=cache_mount, alternative_to="cache",
              may_change=MayChange(paths=(
                  "var/lib/apt/lists", "var/cache/apt", "root/.cache/pip", "root/.npm",
                  "usr/local/share/.cache/yarn", "etc/apk/cache", "var/cache/dnf",
                  "var/cache/yum", "var/log/apt", "var/log/dnf*", "var/lib/dnf",
                  "etc/apt/apt.conf.d/docker-clean", "etc/apt/apt.conf.d/keep-cache")))

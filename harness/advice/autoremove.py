"""Autoremove after a removal (the guide: remove the build-only packages, then what only they
needed): `apt-get remove`/`purge` leaves behind the packages installed only as their
dependencies; `apt-get autoremove -y --purge` (dnf/yum `autoremove -y`) in the same RUN
removes those too. Whether the app still works without them is for the checks to say; what
the image may lose is exactly the packages no longer installed."""

from __future__ import annotations

from harness.advice.cache import APT
from harness.advice.edit import Edit, MayChange, Piece, chains_right_after, rewritten_run, runs
from harness.advice.parse import Instruction
from harness.advice.shell import ShellCommand, behind_sudo, is_command

REMOVES = {"apt-get": ("remove", "purge"), "apt": ("remove", "purge"),
           "dnf": ("remove", "erase"), "yum": ("remove", "erase")}
AUTOREMOVE = {"apt-get": "apt-get autoremove -y --purge", "apt": "apt-get autoremove -y --purge",
              "dnf": "dnf autoremove -y", "yum": "yum autoremove -y"}


def removes(command: ShellCommand, manager: str) -> bool:
    """`command` removes or purges packages with `manager`."""
    return any(is_command(command, manager, sub) for sub in REMOVES[manager])


def _autoremoves(command: ShellCommand, manager: str) -> bool:
    return is_command(command, manager, "autoremove") or (removes(command, manager) and bool(
        {"--auto-remove", "--autoremove"} & set(command.words)))


def _later_autoremove(edit: Edit, run: Instruction, manager: str) -> Instruction | None:
    family = APT if manager in APT else (manager,)
    return next((i for i in runs(edit.parsed) if i.stage == run.stage and i.start > run.start
                 and any(_autoremoves(c, m) for c in i.script.commands  # type: ignore[union-attr]
                         for m in family)), None)


def autoremove(edit: Edit) -> str:
    changed = False
    for run in runs(edit.parsed):
        assert run.script is not None  # runs() gives only the RUNs whose shell was read
        found = run.script.commands
        after: list[str] = []
        for manager in REMOVES:
            removals = [c for c in found if removes(c, manager)]
            if not removals or any(_autoremoves(c, m) for c in found
                                   for m in (APT if manager in APT else (manager,))):
                continue
            if (later := _later_autoremove(edit, run, manager)) is not None:
                edit.notes.append(f"line {run.start}'s removal is autoremoved at line "
                                  f"{later.start}")
                continue
            command = ("sudo " if behind_sudo(removals[0]) else "") + AUTOREMOVE[manager]
            if command not in after:
                after.append(command)
        if not after:
            continue
        last_removal = max((c for c in found if any(removes(c, m) for m in REMOVES)),
                           key=lambda c: c.end)
        if chains_right_after(run, last_removal):
            # right after the removal, before what follows it (a cleanup of apt's lists)
            options = {last_removal.end: "".join(f" && {command}" for command in after)}
            edit.replace(run, rewritten_run(run, edit.parsed.escape, options=options))
        else:
            edit.replace(run, rewritten_run(run, edit.parsed.escape, after=tuple(after)))
        changed = True
    return "" if changed else "no apt-get, dnf or yum remove without an autoremove after it"


PIECE = Piece(key="autoremove", title="autoremove after removing packages (apt-get "
              "autoremove --purge; dnf/yum autoremove)", hadolint="", edit=autoremove,
              may_change=MayChange(dropped_packages=True))

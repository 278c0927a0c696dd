"""The guide's middle way between one RUN per command and one RUN for all: a layer of system
packages, which changes seldom and caches, and a layer of the rest (hadolint DL3059). Only
where the RUNs already come in that order: a package install after the build may depend on
it, or undo it, so RUNs are never reordered."""

from __future__ import annotations

from harness.advice.chain import consecutive_runs, join, not_chained
from harness.advice.edit import NOTHING, Edit, Piece
from harness.advice.shell import is_command

PACKAGE_MANAGERS = ("apt-get", "apt", "apk", "dnf", "yum", "microdnf", "pip", "npm", "gem",
                    "cpan", "cpanm")


def group(edit: Edit) -> str:
    found = False
    for runs in consecutive_runs(edit.parsed):
        packages = [any(is_command(c, manager) for c in i.script.commands  # type: ignore[union-attr]
                        for manager in PACKAGE_MANAGERS) for i in runs]
        split = packages.index(False) if False in packages else len(runs)
        if len(runs) > 2 and 0 < split < len(runs) and not any(packages[split:]):
            join(edit, runs[:split])
            join(edit, runs[split:])
            found = True
    edit.notes += not_chained(edit.parsed)
    return "" if found else ("no three or more consecutive RUNs that are package installs, "
                             "then the rest")


PIECE = Piece(key="group", title="group consecutive RUNs in two by purpose: packages, then "
              "the rest", hadolint="DL3059", may_change=NOTHING, edit=group)

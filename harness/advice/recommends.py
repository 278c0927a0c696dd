"""No recommended packages: `apt-get install --no-install-recommends` (hadolint DL3015).
What it may change is exactly the packages no longer installed: the image guard reads dpkg's
status in both images and allows the files those packages listed, nothing else."""

from __future__ import annotations

from harness.advice.edit import Edit, MayChange, Piece, rewritten_run, runs
from harness.advice.shell import is_command, word_end

OPTION = "--no-install-recommends"


def no_recommends(edit: Edit) -> str:
    changed = False
    for run in runs(edit.parsed):
        options = {}
        for command in run.script.commands:  # type: ignore[union-attr]
            at = word_end(command, "install")
            if any(is_command(command, tool, "install") for tool in ("apt-get", "apt")) and \
                    OPTION not in command.words and at is not None:
                options[at] = f" {OPTION}"
        if options:
            edit.replace(run, rewritten_run(run, edit.parsed.escape, options=options))
            changed = True
    return "" if changed else "no apt-get install that installs recommends"


PIECE = Piece(key="recommends", title="no recommended packages (apt --no-install-recommends)",
              hadolint="DL3015", edit=no_recommends,
              may_change=MayChange(dropped_packages=True))

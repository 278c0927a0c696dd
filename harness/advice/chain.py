"""Chain consecutive RUNs with && (hadolint DL3059): one layer instead of several.

The RUNs are joined as command lists on their shell trees, never as text: each RUN's
commands as the user wrote them (continuations kept), a trailing `# comment` moved to a line
of its own above the RUN (in the RUN it would swallow everything chained after it), and a RUN
that is more than an && list or may change the shell's state (cd, X=1, eval, set...) in a
subshell, so it cannot change where or how the next one runs. A RUN that ends the shell
(exit, exec) or that harness cannot read is not chained, and the note names it.
"""

from __future__ import annotations

from harness.advice.edit import NOTHING, Edit, Piece
from harness.advice.parse import Instruction, Parsed


def chained(runs: list[Instruction], escape: str) -> str:
    """The RUNs as one RUN, each as written, joined by &&."""
    comments, parts = [], []
    for run in runs:
        assert run.script is not None
        if run.trailing_comment:
            comments.append(run.trailing_comment)
        parts.append(run.code if run.script.standalone else f"( {run.code} )")
    return "\n".join([*comments, "RUN " + f" {escape}\n    && ".join(parts)])


def join(edit: Edit, runs: list[Instruction]) -> None:
    """The RUNs as one, where the first stood (a single RUN stays as it is)."""
    if len(runs) < 2:
        return
    edit.replace(runs[0], chained(runs, edit.parsed.escape))
    for instruction in runs[1:]:
        edit.delete(instruction)


def refusal(run: Instruction) -> str:
    """Why this RUN is not joined with another ("" where it may be)."""
    if run.unsafe:
        return run.unsafe
    assert run.script is not None
    return f"it ends the shell ({run.script.ends_shell})" if run.script.ends_shell else ""


def consecutive_runs(parsed: Parsed) -> list[list[Instruction]]:
    """Runs of two or more RUNs of one stage that may be joined, nothing between them."""
    groups: list[list[Instruction]] = []
    current: list[Instruction] = []
    for instruction in [*parsed.instructions, None]:
        joinable = instruction is not None and instruction.cmd == "RUN" and \
            not refusal(instruction)
        if joinable and current and current[-1].stage == instruction.stage:  # type: ignore[union-attr]
            current.append(instruction)  # type: ignore[arg-type]
            continue
        if len(current) > 1:
            groups.append(current)
        current = [instruction] if joinable else []  # type: ignore[list-item]
    return groups


def not_chained(parsed: Parsed) -> list[str]:
    """The RUNs that end the shell, each with its line: the others are chained around them."""
    return [f"line {i.start} is not chained: {refusal(i)}" for i in parsed.instructions
            if i.cmd == "RUN" and not i.unsafe and refusal(i)]


def chain(edit: Edit) -> str:
    groups = consecutive_runs(edit.parsed)
    for group in groups:
        join(edit, group)
    edit.notes += not_chained(edit.parsed)
    return "" if groups else "no two consecutive RUNs in a stage that can be chained"


PIECE = Piece(key="chain", title="chain consecutive RUNs with &&", hadolint="DL3059",
              may_change=NOTHING, edit=chain)

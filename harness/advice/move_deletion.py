"""Delete files in the RUN that made them: the RUNs from the one that wrote files to the one
that deleted them (found by the waste analysis of the original image) as one RUN, so the
files never reach a layer. A plain COPY or ADD of the context between them (a build's
source, between installing the compiler and purging it) moves up before the first RUN: the
image loses the files, and a change to the source then rebuilds from there, which is
measured too (incremental). Any other instruction between them, or a RUN that cannot be
chained, leaves the span alone with the reason."""

from __future__ import annotations

from harness.advice.chain import join, refusal
from harness.advice.edit import NOTHING, Edit, NotApplicable, Rewrite
from harness.advice.parse import Parsed

TITLE, KEY = "delete files in the RUN that made them", "move-deletion"


def merge_span(parsed: Parsed, writer_line: int, hider_line: int) -> Rewrite | NotApplicable:
    def declined(reason: str) -> NotApplicable:
        return NotApplicable(advice=TITLE, key=KEY, hadolint="", reason=reason)

    span = [i for i in parsed.instructions if writer_line <= i.start <= hider_line]
    if not span or span[0].start != writer_line or span[-1].start != hider_line:
        return declined("no such lines")
    if span[0].cmd != "RUN":
        return declined(f"the files come from {span[0].cmd} at line {writer_line}: use a "
                        "build stage")
    copies = [i for i in span if i.cmd in ("COPY", "ADD") and not i.flags]
    blocked = next((i for i in span if (i.cmd != "RUN" and i not in copies)
                    or (i.cmd == "RUN" and refusal(i))), None)
    if blocked is not None:
        why = refusal(blocked) if blocked.cmd == "RUN" else ""
        return declined(f"{blocked.cmd} at line {blocked.start} sits between them"
                        + (f" ({why})" if why else ""))
    edit = Edit(parsed)
    join(edit, [i for i in span if i.cmd == "RUN"])
    for copy in reversed(copies):  # each goes in front: the last first keeps their order
        edit.delete(copy)
        edit.insert_before(span[0], copy.text)
    moved = (f", the {' and '.join(f'{c.cmd} at line {c.start}' for c in copies)} moved "
             f"before it" if copies else "")
    return Rewrite(advice=f"{TITLE} (lines {writer_line}-{hider_line}{moved})", key=KEY,
                   hadolint="", lines=tuple(sorted(edit.touched)), dockerfile=edit.text(),
                   rebuilds_from_the_source=bool(copies), may_change=NOTHING)

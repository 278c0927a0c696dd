"""Progress displays for long work: a live bar or status line on a terminal, plain lines a CI
log can follow elsewhere."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from harness.model import Position, Sample, Status

if TYPE_CHECKING:
    from harness.runner import Finished, Progress


@contextlib.contextmanager
def run_progress(total: int) -> Iterator[tuple[Progress, Finished]]:
    """A progress bar on a terminal (current sample, k of n, elapsed); elsewhere, as in a CI
    log, a line per finished sample with k/N, what it was, its figures, elapsed and ETA."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import Progress as Bar

    console = Console(stderr=True)
    if not console.is_terminal:
        started = time.monotonic()

        def line(sample: Sample, done: int) -> None:
            elapsed = time.monotonic() - started
            figures = (f"build {sample.build_s:.2f} s" if sample.build_s else "no build time")
            if sample.size_bytes is not None:
                figures += f", {sample.size_bytes / 1e6:.1f} MB"
            if sample.status is not Status.OK:
                figures += f", {sample.status}"
            print(f"[{done}/{total}] {sample.scenario}/{sample.variant} {sample.builder} "
                  f"{sample.cache} rep {sample.repetition}: {figures} (elapsed "
                  f"{_clock(elapsed)}, ETA {_clock(elapsed / done * (total - done))})",
                  file=sys.stderr, flush=True)
        yield (lambda position, done: None), line
        return
    with Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
             TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("starting", total=total)

        def show(position: Position, done: int) -> None:
            step = (f"rep {position.repetition}/{position.repeat}" if position.repetition
                    else "priming")
            bar.update(task, completed=done, description=(
                f"{position.scenario}/{position.variant} {position.builder} {position.cache} "
                f"{step}"))
        yield show, (lambda sample, done: None)


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s"


@contextlib.contextmanager
def progress_reporter() -> Iterator[Callable[[str], None]]:
    """Progress lines for long work: a live status line on a terminal, plain lines otherwise."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda message: print(message, file=sys.stderr, flush=True)
        return
    started = time.monotonic()
    with console.status("") as status:
        def report(message: str) -> None:
            status.update(f"[{time.monotonic() - started:5.1f} s] {message}")
        yield report

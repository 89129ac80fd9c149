"""Progress bars for a person at a terminal: one per source, drawn with rich (a thin edge
over :class:`~zufiwatch.progress.CrawlProgress`)."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from ..progress import CrawlProgress

__all__ = ["crawl_bars", "wants_bars"]

#: Variables that say nobody watches a terminal: systemd (a unit's output goes to the
#: journal), continuous integration.
UNATTENDED = ("JOURNAL_STREAM", "INVOCATION_ID", "CI")


def wants_bars(stream: IO[str], environ: Mapping[str, str], *, quiet: bool = False) -> bool:
    """Bars only for a person: ``stream`` is a terminal, not under systemd or in CI, and
    not ``--quiet``."""
    if quiet or any(environ.get(name) for name in UNATTENDED):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@contextlib.contextmanager
def crawl_bars(stream: IO[str]) -> Iterator[Callable[[CrawlProgress], None]]:
    """A callback drawing each source's progress as a bar on ``stream``; the bars stay on
    the screen when the block ends."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    console = Console(file=stream, force_terminal=True, highlight=False)
    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.fields[count]}"),
               TextColumn("{task.fields[requests]} requests"),
               TextColumn("{task.fields[errors]} errors"),
               TextColumn("{task.fields[left]} left"))
    with Progress(*columns, console=console, redirect_stdout=False,
                  redirect_stderr=False) as bars, _logs_above(bars, stream):
        yield _Painter(bars).show


@contextlib.contextmanager
def _logs_above(bars: Progress, stream: IO[str]) -> Iterator[None]:
    """Log lines (``-v``) meant for ``stream`` are printed above the bars, not through
    them."""
    handlers = [h for h in logging.getLogger().handlers
                if isinstance(h, logging.StreamHandler) and h.stream is stream]
    above = _Above(bars)
    for handler in handlers:
        handler.setStream(above)
    try:
        yield
    finally:
        for handler in handlers:
            handler.setStream(stream)


class _Above(io.TextIOBase):
    """A text stream whose lines rich prints above its live bars."""

    def __init__(self, bars: Progress) -> None:
        self._bars = bars

    def write(self, text: str) -> int:
        self._bars.console.print(text, end="", markup=False, highlight=False,
                                 soft_wrap=True)
        return len(text)


class _Painter:
    def __init__(self, bars: Progress) -> None:
        self._bars = bars
        self._tasks: dict[str, TaskID] = {}

    def show(self, progress: CrawlProgress) -> None:
        from ..progress import count_text, format_left

        task = self._tasks.get(progress.source)
        if task is None:
            task = self._tasks[progress.source] = self._bars.add_task(
                progress.source, total=None, count="", requests="0", errors="0", left="-:--")
        self._bars.update(task, total=progress.total, completed=progress.done,
                          count=count_text(progress), requests=f"{progress.requests:,}",
                          errors=f"{progress.errors:,}", left=format_left(progress.left))

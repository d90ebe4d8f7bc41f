"""The ingest progress bar `ingest` and `analyze` share: on stderr, and hidden when stderr is not a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from graphtrail.ingest import IngestProgress


@contextmanager
def ingest_progress_bar(console: Console) -> Iterator[Callable[[IngestProgress], None]]:
    """A callback for `ingest_paths(progress=…)` that draws files done, events and megabytes read."""
    with Progress(
        TextColumn("[bold]ingest[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files  {task.fields[events]:,} events  {task.fields[mb]:.1f} MB"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task("ingest", total=None, events=0, mb=0.0)

        def progress(state: IngestProgress) -> None:
            megabytes = state.bytes_read / 1e6
            bar.update(task, completed=state.files_done, total=state.files_total, events=state.events, mb=megabytes)

        yield progress

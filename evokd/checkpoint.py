"""Where a run's graph checkpoints live: SQLite in the run folder (default), or PostgreSQL.

One SQLite file per run on local disk suits a run that resumes where it started (SQLite's WAL must
not sit on NFS). A run that must resume on another node, as a sweep cell retried by Ray or Slurm
may, checkpoints to a PostgreSQL server instead (``--checkpointer postgresql://...``; needs the
``evokd[postgres]`` extra).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver

SQLITE_FILE = "checkpoints.sqlite"
POSTGRES_SCHEMES = ("postgres://", "postgresql://")


class CheckpointError(ValueError):
    """A checkpointer setting that cannot be used, with what to do about it (one line)."""


def is_postgres(spec: str) -> bool:
    """Whether ``spec`` names a PostgreSQL server."""
    return spec.startswith(POSTGRES_SCHEMES)


@contextmanager
def open_checkpointer(spec: str, run_dir: Path) -> Iterator[BaseCheckpointSaver[str]]:
    """The checkpointer ``spec`` names ("" = SQLite in ``run_dir``), open for the block's length."""
    if not spec:
        from langgraph.checkpoint.sqlite import SqliteSaver

        with SqliteSaver.from_conn_string(str(run_dir / SQLITE_FILE)) as saver:
            yield saver
        return
    if not is_postgres(spec):
        raise CheckpointError(
            f"--checkpointer {spec.split('@')[-1]!r}: give postgresql://USER@HOST:PORT/DB, "
            "or leave it out for SQLite in the run folder"
        )
    try:
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
    except ImportError:
        raise CheckpointError(
            "--checkpointer postgresql://... needs the postgres extra: pip install 'evokd[postgres]'"
        ) from None
    try:
        with PostgresSaver.from_conn_string(spec) as saver:
            saver.setup()  # creates or migrates its tables; safe on every start
            yield saver
    except psycopg.OperationalError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"--checkpointer: cannot use the PostgreSQL server ({first[:160]})") from None

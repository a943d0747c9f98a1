"""The run folder's files: append-only JSONL written idempotently, and JSON written atomically.

A node may run twice for the same step (a crash before its checkpoint, then `evokd resume`), so
every append skips records already on disk, and a torn last line left by a killed process is cut
off before anything new is written. Each write is flushed and fsynced.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _repair_tail(path: Path) -> None:
    """Cut a torn (unterminated) last line, the trace of a process killed mid-write."""
    with open(path, "rb+") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Every complete, valid record of a JSONL file (a torn last line is ignored)."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    # Split on b"\n" alone: str.splitlines() also breaks at U+2028, U+0085 ..., which JSON leaves
    # unescaped in generated text. Lines are decoded one by one, so a torn last line that ends inside
    # a multi-byte character cannot fail the whole read; the piece after the last newline is ignored.
    for line in path.read_bytes().split(b"\n")[:-1]:
        try:
            records.append(json.loads(line))
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
    return records


def read_json(path: str | Path) -> dict[str, Any]:
    """A JSON object file's content, or {} where the file is missing (a run folder's optional files)."""
    path = Path(path)
    return dict(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else {}


def append_new(path: str | Path, records: Iterable[Mapping[str, object]], key: str) -> int:
    """Append the records whose ``key`` is not in the file yet; return how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        _repair_tail(path)
    have = {r.get(key) for r in read_jsonl(path)}
    new = [r for r in records if r.get(key) not in have]
    if new:
        with open(path, "a", encoding="utf-8") as f:
            for r in new:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
    return len(new)


def write_text(path: str | Path, text: str) -> None:
    """Write a file through a temporary file and an atomic rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json(path: str | Path, obj: object) -> None:
    """Write ``obj`` as indented JSON, atomically like `write_text`."""
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False))


def copy_dir(src: str | Path, dest: str | Path) -> None:
    """Replace ``dest`` by a copy of ``src`` so that a crash leaves either the old or the new copy."""
    with replacing(Path(dest)) as tmp:
        shutil.copytree(src, tmp, dirs_exist_ok=True)


@contextmanager
def replacing(dest: Path) -> Iterator[Path]:
    """An empty folder beside ``dest`` to build in; it replaces ``dest`` (`replace_dir`) when the block ends.

    If the block fails, the folder is deleted and ``dest`` is left as it was.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        yield tmp
        replace_dir(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_dir(src: Path, dest: Path) -> None:
    """Move the folder ``src`` to ``dest`` by renames alone, so a crash leaves the old or the new folder whole.

    ``src`` must sit beside ``dest`` (same filesystem, so renames are atomic). rename cannot replace a
    non-empty folder, so an existing ``dest`` is first renamed aside, and deleted once ``src`` is in place.
    Raises OSError if another process puts a folder at ``dest`` in between.
    """
    if not dest.exists():
        os.replace(src, dest)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
    os.replace(dest, old / dest.name)
    os.replace(src, dest)
    shutil.rmtree(old, ignore_errors=True)

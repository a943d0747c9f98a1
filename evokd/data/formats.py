"""Row files read into numbered dicts: text lines, JSONL, CSV, Parquet, and folders saved by `datasets`.

This is the layer under the dataset readers (which check rows against a task) and under every other
input that is a table of texts (`evokd predict --input`, a pool of unlabelled texts). A row's number
is its line in a text file and its 1-based row in a table, so an error can point at it.

Parquet needs ``pyarrow`` and `datasets` folders need ``datasets`` (the ``formats`` extra). Hugging
Face stores class labels as integers with their names in the features (``ClassLabel``); they are
turned back into names here, so ``label`` and ``tags`` read the same whatever format carried them.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

Row = tuple[int, dict[str, Any]]  # (line or row number, the row)
TEXT_SUFFIXES = (".txt", ".jsonl", ".csv", ".parquet")
VALIDATION = ("dev", "validation")  # the dev split's names: evokd's, then the Hub's


class DataError(ValueError):
    """A problem with the user's data; the message is one line: where, what, and how to fix it."""


def decode(file: Path) -> str:
    """The file's text; a BOM is tolerated because spreadsheet programs write one."""
    data = file.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DataError(
            f"{file}:{line}: not UTF-8 (byte 0x{data[e.start]:02x}); re-encode the file to UTF-8, "
            f"e.g. iconv -f latin1 -t utf-8 {file.name} > fixed{file.suffix}"
        ) from None


def lines(text: str) -> list[str]:
    """Split on newlines only: str.splitlines() also breaks on \\x85 and \\u2028 and would skew line numbers."""
    return [line.rstrip("\r") for line in text.split("\n")]


def jsonl_rows(file: Path, text: str) -> list[Row]:
    """One JSON object per non-blank line."""
    rows: list[Row] = []
    for n, line in enumerate(lines(text), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{file}:{n}: invalid JSON ({e.msg}); fix the line or remove it") from None
        if not isinstance(obj, dict):
            raise DataError(f"{file}:{n}: expected a JSON object, got {type(obj).__name__}; fix the line")
        rows.append((n, obj))
    return rows


def csv_rows(file: Path, text: str) -> tuple[list[str], list[Row]]:
    """The header's columns and each row (a short row has None in its missing fields)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return list(reader.fieldnames or []), [(reader.line_num, row) for row in reader]
    except csv.Error as e:
        raise DataError(f"{file}:{reader.line_num}: malformed CSV ({e}); fix the quoting on that line") from None


def parquet_rows(file: Path) -> list[Row]:
    """A Parquet file's rows; labels a `datasets` export stored as ClassLabel ids become their names."""
    pa, pq = require("pyarrow", "reading Parquet"), require("pyarrow.parquet", "reading Parquet")
    try:
        table = pq.read_table(file)
    except (pa.ArrowException, OSError) as e:
        raise DataError(
            f"{file}: not a readable Parquet file ({_first_line(e)}); write it again with pyarrow or pandas"
        ) from None
    meta = (table.schema.metadata or {}).get(b"huggingface")
    features = json.loads(meta).get("info", {}).get("features", {}) if meta else {}
    return _numbered(_named(table.to_pylist(), features))


def saved_splits(folder: Path) -> dict[str, Path] | None:
    """The split folders of a `DatasetDict.save_to_disk` folder, or None when ``folder`` is not one."""
    index = folder / "dataset_dict.json"
    if not index.is_file():
        return None
    names = json.loads(index.read_text(encoding="utf-8")).get("splits", [])
    return {name: folder / name for name in names}


def saved_rows(folder: Path) -> list[Row]:
    """The rows of one split saved by `datasets` (``Dataset.save_to_disk``), ClassLabel ids as names."""
    if (splits := saved_splits(folder)) is not None:
        raise DataError(
            f"{folder}: a datasets folder with splits {', '.join(splits)}; give one split's folder, "
            f"e.g. {folder / next(iter(splits), 'train')}"
        )
    datasets = require("datasets", "reading a datasets folder")
    try:
        ds = datasets.load_from_disk(str(folder))
    except (OSError, ValueError, KeyError) as e:  # missing or foreign files, unreadable state.json
        raise DataError(
            f"{folder}: not a folder saved by datasets ({_first_line(e)}); save it with Dataset.save_to_disk"
        ) from None
    return _numbered(_named(ds.to_list(), ds.features.to_dict()))


def read_rows(path: str | Path) -> list[Row]:
    """Rows of a text file (one ``text`` per non-blank line), JSONL, CSV, Parquet or a `datasets` split folder."""
    path = Path(path)
    if path.is_dir():
        return saved_rows(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found; give a {', '.join(TEXT_SUFFIXES)} file or a datasets folder")
    if path.suffix == ".parquet":
        return parquet_rows(path)
    if path.suffix not in TEXT_SUFFIXES:
        raise DataError(
            f"{path}: unknown file type {path.suffix or '(none)'}; use {', '.join(TEXT_SUFFIXES)} or a datasets folder"
        )
    text = decode(path)
    if path.suffix == ".jsonl":
        return jsonl_rows(path, text)
    if path.suffix == ".csv":
        return csv_rows(path, text)[1]
    return [(n, {"text": line}) for n, line in enumerate(lines(text), 1) if line.strip()]


def column(rows: list[Row], name: str, where: str | Path, fix: str) -> None:
    """Fail with one line (ending in ``fix``) unless every row has a value in the column ``name``."""
    for n, row in rows:
        if row.get(name) is None:
            raise DataError(f"{where}:{n}: no {name!r} column (row has: {', '.join(row) or 'none'}); {fix}")


def _named(rows: list[dict[str, Any]], features: dict[str, Any]) -> list[dict[str, Any]]:
    """Replace ClassLabel ids (a column's, or a list column's items) by their names."""
    for col, spec in features.items():
        names, is_list = _class_names(spec)
        if names is None:
            continue
        for row in rows:
            value = row.get(col)
            if is_list and isinstance(value, list):
                row[col] = [names[v] if isinstance(v, int) and 0 <= v < len(names) else v for v in value]
            elif isinstance(value, int) and 0 <= value < len(names):
                row[col] = names[value]
    return rows


def _class_names(spec: Any) -> tuple[list[str] | None, bool]:
    """(names, is_list) of a ClassLabel feature or of a list of them, in `datasets`' JSON form."""
    if isinstance(spec, list) and spec:  # the old list-of-one-feature form
        return _class_names(spec[0])[0], True
    if not isinstance(spec, dict):
        return None, False
    if spec.get("_type") == "ClassLabel":
        return list(spec.get("names") or []), False
    if spec.get("_type") in ("Sequence", "List", "LargeList") and "feature" in spec:
        return _class_names(spec["feature"])[0], True
    return None, False


def _numbered(rows: list[dict[str, Any]]) -> list[Row]:
    return list(enumerate(rows, 1))


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def require(module: str, what: str) -> Any:
    """Import an optional format library, or fail with the install line."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        raise DataError(f"{what} needs {package}; install it with: pip install 'evokd[formats]'") from None

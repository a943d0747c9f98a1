"""A pool of unlabelled texts (``--pool``): the rows of a user's file, read for their text alone.

Only the ``tokens`` column (a list of words, for a per-token task) or else the ``text`` column is taken
from a row; any other column, a label above all, is never read, so a labelled file cannot leak its
answers into the run. What a row's value becomes (a text, or a tokenised sentence) is the task
adapter's call (`TaskAdapter.pool_item`). Each item is named by its row, ``p<row>``, so a pick is
checkpointed and recorded by a stable id.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from evokd.data.formats import DataError, read_rows
from evokd.task import Example

PoolValue = str | list[str]


def pool_values(path: str | Path) -> list[tuple[str, PoolValue]]:
    """``(id, text or token list)`` of each row of a pool file; `DataError` on a row with neither."""
    rows = read_rows(path)
    out: list[tuple[str, PoolValue]] = []
    for n, row in rows:
        tokens, text = row.get("tokens"), row.get("text")
        if isinstance(tokens, list) and tokens and all(isinstance(t, str) for t in tokens):
            out.append((f"p{n}", list(tokens)))
        elif isinstance(text, str) and text.strip():
            out.append((f"p{n}", " ".join(text.split())))
        elif "text" in row or "tokens" in row:
            continue  # a blank text: nothing to label
        else:
            raise DataError(
                f"{path}:{n}: no 'text' column (row has: {', '.join(row) or 'none'}); "
                f"give each row a text (or, for NER, a 'tokens' list)"
            )
    if not out:
        raise DataError(f"{path}: the pool holds no texts; give a file with one text per row")
    return out


def unlabelled(examples: Sequence[Example]) -> list[tuple[str, PoolValue]]:
    """``(id, text or token list)`` of a labelled split's examples, labels stripped (``--pool train``)."""
    return [(f"t{i}", list(ex["tokens"]) if "tokens" in ex else str(ex["text"])) for i, ex in enumerate(examples, 1)]

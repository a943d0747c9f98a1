"""Each rule the loop and the benchmark share has one home: a second copy is a test failure, not a review note."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("agents", "graph", "student", "evokd", "benchmarks")
HOME = ROOT / "evokd" / "accounting.py"
PICKERS = ("max", "min", "sorted")


def sources() -> list[Path]:
    return [p for folder in PRODUCT for p in sorted((ROOT / folder).rglob("*.py"))]


def reads_a_dev_score(node: ast.AST) -> bool:
    """Whether ``node`` reads a round's dev scores: ``...["dev"]`` or a ``dev[...]`` variable."""
    return any(
        isinstance(n, ast.Subscript)
        and (
            (isinstance(n.slice, ast.Constant) and n.slice.value == "dev")
            or (isinstance(n.value, ast.Name) and n.value.id == "dev")
        )
        for n in ast.walk(node)
    )


def round_pickers(tree: ast.AST) -> list[int]:
    """Lines that pick a round by dev score: ``max``/``min``/``sorted`` keyed on one, or one dev score
    compared with another (a running best)."""
    found = []
    for node in ast.walk(tree):
        picker = isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in PICKERS
        if picker and any(reads_a_dev_score(k.value) for k in node.keywords if k.arg == "key"):  # type: ignore[attr-defined]
            found.append(node.lineno)
        if isinstance(node, ast.Compare) and len(node.comparators) == 1:
            sides = (node.left, node.comparators[0])
            if all(reads_a_dev_score(s) or _reads_best_score(s) for s in sides) and any(map(reads_a_dev_score, sides)):
                found.append(node.lineno)
    return found


def _reads_best_score(node: ast.AST) -> bool:
    """``best["score"]``: the loop's running best, which the old rule compared a dev score with."""
    return any(
        isinstance(n, ast.Subscript)
        and isinstance(n.slice, ast.Constant)
        and n.slice.value == "score"
        and "best" in ast.unparse(n.value)
        for n in ast.walk(node)
    )


def test_the_best_round_rule_has_one_home():
    copies = {
        f"{p.relative_to(ROOT)}:{line}"
        for p in sources()
        if p != HOME
        for line in round_pickers(ast.parse(p.read_text(encoding="utf-8")))
    }
    assert not copies, f"a second copy of the best-round rule; import evokd.accounting.best_round instead: {copies}"
    home = ast.parse(HOME.read_text(encoding="utf-8"))
    picks = [n for n in ast.walk(home) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "max"]
    assert picks and reads_a_dev_score(home), "the rule's home no longer picks by dev score"


def test_the_finder_sees_the_copies_this_project_once_had():
    running_best = 'if best is None or float(r["dev"]["score"]) > float(best["dev"]["score"]):\n    best = r'
    keyed = 'best = max(within, key=lambda r: (float(r["dev"]["score"]), -r["round"]))'
    in_the_node = 'if not best or float(dev["score"]) > float(best["score"]):\n    pass'
    assert all(round_pickers(ast.parse(code)) for code in (running_best, keyed))
    assert not round_pickers(
        ast.parse('if float(last["dev"]["score"]) >= ctx.target:\n    pass')
    )  # a target, not a pick
    assert round_pickers(ast.parse(in_the_node))


def node_lengths() -> dict[str, int]:
    """Lines of each function in the graph's node modules."""
    lengths = {}
    for path in sorted((ROOT / "graph").glob("*nodes.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef):
                lengths[f"{path.name}:{node.name}"] = node.end_lineno - node.lineno + 1  # type: ignore[operator]
    return lengths


def test_no_node_function_is_over_sixty_lines():
    lengths = node_lengths()
    assert {"student_nodes.py:seed", "student_nodes.py:student", "nodes.py:critic"} <= set(lengths)
    assert not {name: n for name, n in lengths.items() if n > 60}

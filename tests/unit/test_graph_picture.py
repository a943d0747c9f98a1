"""The graph's pictures follow the code: docs/graph.md is the compiled graph's Mermaid, and the README's
sketch starts where the compiled graph starts."""

from __future__ import annotations

import re
from pathlib import Path

from evokd.graph.build import graph, mermaid_page

ROOT = Path(__file__).resolve().parents[2]


def test_docs_graph_page_is_the_compiled_graph():
    committed = (ROOT / "docs" / "graph.md").read_text(encoding="utf-8")
    assert committed == mermaid_page(), "docs/graph.md is stale: run `python -m evokd.graph.build`"


def test_the_readme_sketch_starts_with_the_graphs_first_node_and_names_its_loop():
    drawing = graph.get_graph()
    (first,) = [e.target for e in drawing.edges if e.source == "__start__"]
    sketch = (ROOT / "README.md").read_text(encoding="utf-8").split("```")[1]
    flow = next(line for line in sketch.splitlines() if "─▶" in line)
    names = re.findall(r"[a-z_]+", flow)
    assert names[0] == first == "seed"
    assert {"analyst", "generator", "critic", "student", "finalize"} <= set(re.findall(r"[a-z_]+", sketch))
    assert {"analyst", "generator", "critic", "student", "finalize"} <= set(drawing.nodes)

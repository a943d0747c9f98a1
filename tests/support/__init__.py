"""Code the tests share: the scripted OpenAI server, a tiny model, tiny data, run helpers, `langgraph dev`."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout: the product's folders and langgraph.json

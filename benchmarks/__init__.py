"""`evokd bench`: distillation quality against baselines at an equal teacher-token budget, and speed.

- `methods`: what each compared method is (a Context and a graph: the baselines reuse the student,
  critic and final nodes of the EvoKD graph, so every method trains and selects the student alike);
- `runner`: runs methods over datasets and seeds, plus the full-shot and teacher references;
- `report`: the results JSON, the Markdown table and the F1-against-tokens plot;
- `speed`: per-node time split, teacher concurrency, student trainer against `transformers.Trainer`.
"""

METHOD_NAMES = (
    "seed-only",
    "static",
    "rephrase",
    "evokd-paper",
    "evokd",
    "evokd-devfb",
    "setfit",
    "pool-random",
    "pool-active",
    "evokd-pool",
    "pool-active-nonoise",
    "pool-random-confnoise",
    "pool-random-st",
    "pool-random-all",
    "pool-random-hard",
    "pool-random-mask",
    "pool-random-oracle",
    "seed-only-long",
)
REFERENCES = ("full-shot", "teacher")

"""What a user carries away from a run: predictions on new text, the model card, the training data."""

FORMATS = ("jsonl", "csv", "parquet", "hf")
"""`export`'s formats, kept here so the CLI's parser lists them without loading the student (as `export` does)."""

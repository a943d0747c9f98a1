"""What a user carries away from a run: predictions on new text, the model card, the training data, ONNX exports."""

FORMATS = ("jsonl", "csv", "parquet", "hf")
"""`export`'s training-data formats, kept here so the CLI's parser lists them without loading the student."""
MODEL_FORMATS = ("onnx",)
"""`export`'s model formats (the student itself, for serving)."""
QUANTIZATIONS = ("int8",)
"""`export --format onnx --quantize`'s choices: ONNX Runtime's dynamic quantization."""
BACKENDS = ("auto", "torch", "onnx")
"""`predict --backend`'s choices; auto is ONNX when the run has an export and onnxruntime is installed."""

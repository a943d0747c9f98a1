"""What a user carries away from a run: predictions on new text, the model card, the training data."""

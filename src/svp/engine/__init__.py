"""Training, evaluation and pool inference."""

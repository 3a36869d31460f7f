"""Annual evaluation: scoring, sign-off, the evaluation report."""

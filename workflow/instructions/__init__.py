"""Leaders' instructions (领导批示): writing, answering, closing, the list."""

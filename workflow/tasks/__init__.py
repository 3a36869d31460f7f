"""The task page: one task with everything recorded about it."""

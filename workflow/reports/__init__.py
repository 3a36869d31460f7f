"""Periodic self-reports and contributions."""

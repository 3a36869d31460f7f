"""Backups of the database and the file store, and putting them back (services.py; the engines in databases.py)."""

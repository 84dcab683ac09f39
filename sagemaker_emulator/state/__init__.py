"""Durable state: SQLite metadata and files on disk, written atomically."""

"""Stores that implement the `minutebill.ports` unit of work: memory, SQLite, PostgreSQL."""

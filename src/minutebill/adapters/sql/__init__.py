"""Versioned schema migrations, one folder per database, applied in file-name order."""

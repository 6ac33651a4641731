"""Output only: tables, JSON, live views and diffs. Nothing here speaks HTTP."""

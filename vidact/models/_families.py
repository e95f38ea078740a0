"""Imports every model family so that their builders register. Add a new family here."""

# One line per family file; keep this list sorted.

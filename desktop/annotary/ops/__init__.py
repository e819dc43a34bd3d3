"""Use cases: the only write path."""

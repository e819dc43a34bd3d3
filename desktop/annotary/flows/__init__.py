"""Per-screen state machines without Qt."""

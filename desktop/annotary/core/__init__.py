"""Pydantic models shared by every layer: spec, items, labels, bundle formats, errors."""

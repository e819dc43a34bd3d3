"""Annotary: offline, keyboard-driven labeling for language-model fine-tuning data."""

__version__ = "0.1.0"

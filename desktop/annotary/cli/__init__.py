"""Command line: thin click commands over ops."""

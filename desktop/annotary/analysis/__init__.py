"""Agreement, consensus and quality figures."""

"""Reading source datasets into items; writing training-ready exports."""

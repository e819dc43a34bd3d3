"""Bundle files: safe zip reading, manifest, signing, identities."""

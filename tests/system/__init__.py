"""Desktop behaviour: backups, restore, paths, one instance per store, integrity, crash log."""

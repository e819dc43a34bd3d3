"""The installable app: PyInstaller spec, icons, Linux desktop integration, the frozen build."""

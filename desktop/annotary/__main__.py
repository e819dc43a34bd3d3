"""Run the command line as `python -m annotary`."""

from annotary.cli.main import main

main()

"""Run the command line as `python -m annotary`."""

from annotary.app import main

main()

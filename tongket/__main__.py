"""`python -m tongket`: the same command as `tongket`, for environments without the script on PATH."""

from tongket.cli.main import main

main()

"""``python -m geoint`` runs the CLI."""

from geoint.cli import main

main()

"""``python -m geoint`` runs the CLI."""

from geoint.cli.main import main

main()

"""``python -m geoint`` runs the CLI."""

from geoint.cli.main import main

if __name__ == "__main__":  # not in a child process spawned by the service
    main()

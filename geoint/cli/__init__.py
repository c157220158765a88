"""The `geoint` command: the composition root, one module per command group. Nothing imports it."""

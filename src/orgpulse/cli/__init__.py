"""Command line: thin commands that parse arguments and call services."""

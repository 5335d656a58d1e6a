"""The command-line layer: parse arguments, call :mod:`taskcli.core`, render results."""

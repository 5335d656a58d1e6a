"""The command-line layer: parse arguments, call :mod:`taskcli.core`, render results.

Modules here do not use ``from __future__ import annotations``: Typer reads every
command's annotations at each start, and real objects are cheaper than strings to
evaluate (it halves the time to build the command tree).
"""

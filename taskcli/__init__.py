"""taskcli: a command-line task manager whose tasks live in SQL."""

__version__ = "0.1.0"

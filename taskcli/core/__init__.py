"""The taskcli library: configuration, database, accounts, tasks, formats.

Nothing in this package knows about terminals; errors are raised as
:class:`taskcli.core.errors.TaskcliError` subclasses carrying an exit code.
"""

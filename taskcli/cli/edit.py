"""edit: a task in the user's editor, saved back as one update."""

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import typer

from taskcli.cli import render, terminal
from taskcli.cli.helptext import command
from taskcli.cli.options import Json
from taskcli.cli.session import logged_in
from taskcli.cli.state import state
from taskcli.cli.tasks import Ref

EDITS_DIRECTORY = "edits"  # in the data directory: private, and kept texts survive a reboot

app = typer.Typer()


@command(app, "edit", "taskcli edit 3", "EDITOR='code --wait' taskcli edit 3")
def edit_command(ctx: typer.Context, ref: Ref, as_json: Json = False) -> None:
    """Change a task in your editor; saving applies every change as one update.

    The editor is TASKCLI_EDITOR, else VISUAL, else EDITOR, else nano, else vi. Leaving
    the text unchanged changes nothing; a text with an invalid value is kept in a file
    whose path the error names.
    """
    from taskcli.core import edit_text, listing, tasks
    from taskcli.core.refs import parse_refs

    parse_refs([ref])
    editor = terminal.current().editor_command()
    with logged_in(ctx) as session:
        user_id = session.identity.user_id
        record = tasks.get_task(session.conn, user_id=user_id, ref=ref)
        numbers = listing.numbers_of(session.conn, user_id=user_id, ids=record["depends"])
    original = edit_text.render(record, numbers)
    path = _new_edit_file(state(ctx).settings().data_dir, record["number"], original)
    with _kept_on_failure(path):
        _run_editor(editor, path)
        edited = _read_edit_file(path)
        changes = edit_text.changes_from(original, edited, record)
        if changes.is_empty():
            path.unlink()
            render.task_changes([record], verb="no changes to", as_json=as_json, many=False)
            return
        with logged_in(ctx, journaled=True) as session:
            updated = tasks.update_task(session.conn, user_id=session.identity.user_id,
                                        ref=str(record["number"]), changes=changes)  # fmt: skip
    path.unlink()
    render.task_changes([updated], verb="updated", as_json=as_json, many=False)


def _new_edit_file(data_dir: Path, number: int, text: str) -> Path:
    """A new file (created exclusively, mode 0600, in a 0700 directory) holding ``text``."""
    import tempfile

    from taskcli.core.files import PRIVATE_DIR_MODE

    directory = data_dir / EDITS_DIRECTORY
    directory.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(prefix=f"task-{number}-", suffix=".txt", dir=directory)
    with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as out:
        out.write(text)
    return Path(name)


def _read_edit_file(path: Path) -> str:
    from taskcli.core.errors import InvalidInputError

    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise InvalidInputError(f"the editor removed {path}: nothing changed") from None
    except UnicodeDecodeError:
        raise InvalidInputError("the edited text is not UTF-8") from None


@contextmanager
def _kept_on_failure(path: Path) -> Iterator[None]:
    """Once the editor has saved, the text is the person's work: when it cannot be applied
    (an invalid value, a conflict, a lost connection) it stays, 0600, and the error's hint
    says where. When the editor itself fails, the file goes: nothing was accepted."""
    from taskcli.core.errors import EditorFailedError, TaskcliError

    try:
        yield
    except EditorFailedError:
        with suppress(FileNotFoundError):
            path.unlink()
        raise
    except TaskcliError as error:
        if path.exists():
            path.chmod(0o600)  # the editor may have written a new file with its own mode
            kept = f"your text is kept in {path}"
            error.hint = f"{error.hint}; {kept}" if error.hint else kept
        raise


def _run_editor(editor: list[str], path: Path) -> None:
    """Run the editor on the terminal (it inherits stdin, stdout and stderr). Ctrl-C
    belongs to the editor meanwhile: taskcli ignores it, as git does."""
    from taskcli.core.errors import ConfigError, EditorFailedError

    try:
        process = terminal.current().run_interactive([*editor, str(path)])
    except OSError as error:
        raise ConfigError(f"editor {editor[0]!r} could not start: {error.strerror}") from None
    with _ignoring_interrupts():
        code = process.wait()
    if code != 0:
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        raise EditorFailedError(f"the editor {how}: nothing changed")


@contextmanager
def _ignoring_interrupts() -> Iterator[None]:
    """SIGINT and SIGQUIT ignored in this process (the main thread's to set) for a while;
    the editor, started before, keeps the default handling."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGQUIT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

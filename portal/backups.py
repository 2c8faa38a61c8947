"""`portal backup PATH` and `portal restore PATH [--force]` (content_library/services/backup.py
does the work; docs/deploy.md has the schedule and the restore drill)."""

from __future__ import annotations

from pathlib import Path

import click
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask.cli import with_appcontext

from content_library.services import backup as backup_service

from .extensions import db
from .health import code_revision, migrations_folder
from .indexing import rebuild_index
from .progress import bars


def _settings(app: Flask) -> tuple[str, Path]:
    return app.config["DATABASE_URL"], Path(app.config["UPLOAD_DIR"])


@click.command("backup", help="Write the database and the stored files into one archive "
                              "(PATH ending in .tar.gz), consistent while people keep working.")
@click.argument("path", type=click.Path(path_type=Path))
@with_appcontext
def backup_command(path: Path):
    url, upload_dir = _settings(current_app)
    try:
        with bars() as progress:
            manifest = backup_service.backup(url, upload_dir, path, progress=progress)
    except backup_service.BackupFailed as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backed up the {manifest.line()} to {path}")
    if manifest.missing:
        click.echo(f"warning: {len(manifest.missing)} file(s) the database refers to are not in "
                   f"{upload_dir} (first: {manifest.missing[0]}); the archive lists them as missing",
                   err=True)


def _let_go(app: Flask) -> None:
    """This process's connections and index handle, closed: the database and the index are
    about to be replaced under them."""
    db.engine_of(app).dispose()
    app.extensions["usage"].engine.dispose()
    search = app.extensions.pop("search", None)
    close = getattr(search, "close", None)
    if close is not None:
        close()


@click.command("restore", help="Replace this empty instance's database and files with a "
                               "backup's, then rebuild the search index.")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True,
              help="Replace the database and files of an instance that is not empty.")
@with_appcontext
def restore_command(path: Path, force: bool):
    app = current_app._get_current_object()
    url, upload_dir = _settings(app)
    known = {script.revision for script in ScriptDirectory(str(migrations_folder(app))).walk_revisions()}
    _let_go(app)
    try:
        with bars() as progress:
            manifest = backup_service.restore(url, upload_dir, path, force=force,
                                              known_revisions=known, progress=progress)
    except backup_service.BackupFailed as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        _let_go(app)
    click.echo(f"restored the {manifest.line()} from {path}")
    if manifest.revision and tuple(sorted(manifest.revision)) != code_revision(app):
        click.echo("the database is at an older migration than this code: run `portal db upgrade`, "
                   "then `portal index rebuild`")
        return
    with bars() as progress:
        count = rebuild_index(app, progress)
    click.echo(f"search index rebuilt: {count} items")

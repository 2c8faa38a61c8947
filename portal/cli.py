"""The command line of INTERFACES section 3, as `flask --app wsgi …` and as `portal …`.

Every command exits 0 on success, and non-zero with one human-readable line on bad input,
having changed nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import func, select

from content_library.errors import Conflict, Invalid, NotFound
from content_library.models import ContentItem
from content_library.services import demo as demo_service
from content_library.services import exchange
from content_library.services import users as user_service
from content_library.services.index_feed import DatabaseFeed
from search_index import sync

from .extensions import db
from .indexing import backend, rebuild_index
from .progress import bars


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _upload_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"])


@click.group("demo", help="The demo library.")
def demo_group():
    pass


@demo_group.command("load", help="Load the demo users and library (safe to run again).")
@click.option("--if-empty", is_flag=True, help="Only when the library has no content yet.")
@with_appcontext
def demo_load(if_empty: bool):
    if if_empty and db.session.scalar(select(func.count()).select_from(ContentItem)):
        click.echo("library already has content: demo not loaded")
        return
    try:
        created, report, told = demo_service.load_demo(db.session, _upload_dir())
    except Invalid as exc:
        _fail(str(exc))
    click.echo(f"demo users created: {created}; items {report.line()}")
    click.echo("demo story: " + (told.line() if told else "already loaded"))


@demo_group.command("users", help="Print the demo log-ins.")
def demo_users():
    click.echo("Demo log-ins (password after the e-mail):")
    for person in demo_service.DEMO_USERS:
        click.echo(f"  {person.role:<9} {person.email:<40} {person.password}")


@click.group("library", help="Import and export the content exchange format.")
def library_group():
    pass


@library_group.command("import", help="Import an exchange file, all or nothing.")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and count only; change nothing.")
@with_appcontext
def library_import(path: Path, dry_run: bool):
    try:
        with bars() as progress:
            report = exchange.import_library(
                db.session, path, _upload_dir(), dry_run=dry_run,
                max_bytes=int(current_app.config["MAX_UPLOAD_BYTES"]), progress=progress)
    except exchange.ImportFailed as exc:
        _fail(str(exc))  # the first problem, and how many more: one line
    except Conflict as exc:
        _fail(str(exc))
    prefix = "dry run, nothing changed: would have " if dry_run else ""
    click.echo(prefix + report.line())


@library_group.command("export", help="Write the whole library, every status, with its files.")
@click.argument("path", type=click.Path(path_type=Path))
@with_appcontext
def library_export(path: Path):
    if path.suffix.lower() not in (".json", ".yaml", ".yml"):
        _fail(f"{path}: use a .json, .yaml or .yml file name")
    count = exchange.export_library(db.session, path, _upload_dir())
    click.echo(f"exported {count} items to {path}")


@click.group("index", help="The search index, derived from the database.")
def index_group():
    pass


@index_group.command("rebuild", help="Rebuild the search index from the database.")
@with_appcontext
def index_rebuild():
    with bars() as progress:
        count = rebuild_index(current_app._get_current_object(), progress)
    click.echo(f"indexed {count} items")


@index_group.command("check", help="Report items missing, stale or extra in the index.")
@click.option("--repair", is_flag=True, help="Fix what the check finds.")
@click.option("--quiet", is_flag=True, help="Print only the summary line.")
@with_appcontext
def index_check(repair: bool, quiet: bool):
    feed = DatabaseFeed(db.session)
    drift = sync.check(backend(), feed)
    pending = len(feed.pending(1_000_000))
    click.echo(f"index: {drift.line()}, pending {pending}")
    if not quiet:
        for label, slugs in (("missing", drift.missing), ("stale", drift.stale),
                             ("extra", drift.extra)):
            for slug in slugs[:50]:
                click.echo(f"  {label}: {slug}")
    if repair and (not drift.clean or pending):
        sync.repair(backend(), feed, drift)
        click.echo("repaired: " + sync.check(backend(), feed).line())
    elif not drift.clean or pending:
        click.echo("run `index check --repair` to fix this")


@index_group.command("refresh-ranking",
                     help="Re-index the items whose usage score moved (search's usage boost).")
@with_appcontext
def index_refresh_ranking():
    from .ranking import refresh_ranking

    moved = refresh_ranking(current_app._get_current_object(), limit=None)
    click.echo(f"usage ranking: {moved} items re-indexed")


@click.group("users", help="People and API tokens.")
def users_group():
    pass


@users_group.command("create", help="Create a user; the password is read from standard input.")
@click.argument("email")
@click.option("--role", required=True, help="admin, manager, rep or champion")
@click.option("--name", required=True)
@click.option("--company", default="", help="Champions: the buyer's company.")
@with_appcontext
def users_create(email: str, role: str, name: str, company: str):
    line = sys.stdin.readline()
    password = line[:-1] if line.endswith("\n") else line
    data = user_service.NewUser(email=email, name=name, role=role, password=password,
                                company=company)
    try:
        created = user_service.create_user(db.session, data)
    except Invalid as exc:
        _fail("; ".join(f"{field}: {reason}" if field else reason
                        for field, reason in exc.reasons.items()))
    click.echo(f"created {created.email} ({created.role})")


@users_group.command("token", help="Print a new API token for the user, and nothing else.")
@click.argument("email")
@with_appcontext
def users_token(email: str):
    try:
        click.echo(user_service.issue_token(db.session, email,
                                            current_app.config["API_TOKEN_DAYS"]))
    except NotFound as exc:
        _fail(str(exc))


@users_group.command("revoke-tokens", help="Revoke every API token of the user.")
@click.argument("email")
@with_appcontext
def users_revoke_tokens(email: str):
    person = user_service.find_by_email(db.session, email)
    if person is None:
        _fail(f"No user with the e-mail {email}.")
    count = user_service.revoke_tokens(db.session, person)
    click.echo(f"revoked {count} API token{'s' if count != 1 else ''} of {person.email}")


@click.group("usage", help="Usage events.")
def usage_group():
    pass


@usage_group.command("forget-old", help="Remove who did each usage event older than "
                                        "PORTAL_USAGE_RETENTION_DAYS (counts and roles stay).")
@with_appcontext
def usage_forget_old():
    from content_library.services.usage import forget_old

    days = current_app.config["USAGE_RETENTION_DAYS"]
    count = forget_old(db.engine, days)
    click.echo(f"usage events older than {days} days anonymised: {count}")


@click.command("setup", help="Everything `make run` needs before serving, in one process: "
                             "migrate, load the demo into an empty library, build or catch the "
                             "index up.")
@with_appcontext
@click.pass_context
def setup(ctx: click.Context):
    from flask_migrate import upgrade

    upgrade()
    ctx.invoke(demo_load, if_empty=True)
    if backend().needs_rebuild():  # none yet, or the stand-in made when it was missing
        ctx.invoke(index_rebuild)
    ctx.invoke(index_refresh_ranking)
    ctx.invoke(index_check, repair=True, quiet=True)
    ctx.invoke(usage_forget_old)
    ctx.invoke(demo_users)


def init_app(app: Flask) -> None:
    for group in (demo_group, library_group, index_group, users_group, deals_group, usage_group):
        app.cli.add_command(group)
    app.cli.add_command(setup)
    app.cli.add_command(report_group)
    from .backups import backup_command, restore_command

    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


def _create_app():
    from . import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True)
def main():
    """The enablement portal's command line."""


@click.group("deals", help="Deals from the CRM.")
def deals_group():
    pass


@deals_group.command("import", help="Import or update CRM deals from a CSV export, all or nothing.")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--format", "crm_format", required=True,
              type=click.Choice(["salesforce", "hubspot"]), help="Which CRM wrote the file.")
@click.option("--history", type=click.Path(path_type=Path),
              help="An OpportunityHistory export: when each deal entered each stage.")
@with_appcontext
def deals_import(path: Path, crm_format: str, history: Path | None):
    from content_library.services.deals_import import import_deals

    try:
        with bars() as progress:
            report = import_deals(db.session, path, crm_format, history=history, progress=progress)
    except exchange.ImportFailed as exc:
        _fail(str(exc))
    click.echo(report.line())
    for name, deals in report.unmapped:
        click.echo(f"  unmapped stage: {name} ({deals} deals)")


@click.group("report", help="Reports for the monthly enablement meeting.")
def report_group():
    pass


@report_group.command("monthly", help="Write the monthly enablement review of a month: a "
                                      "self-contained HTML file (.html) or its tables (.csv).")
@click.option("--month", "month_text", required=True, metavar="YYYY-MM", help="The month reviewed.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="The file to write; its extension (.html or .csv) chooses the format.")
@with_appcontext
def report_monthly(month_text: str, out: Path):
    from content_library.models import utcnow
    from content_library.services import monthly_review

    from .review import document

    try:
        month = monthly_review.parse_month(month_text)
    except Invalid as exc:
        _fail(f"--month: {exc.reasons['month']}")
    kind = out.suffix.lower()
    if kind not in (".html", ".csv"):
        _fail(f"--out {out}: use a file name ending in .html or .csv")
    if not out.parent.is_dir():
        _fail(f"--out {out}: the folder {out.parent} does not exist")
    review = monthly_review.monthly_review(db.session, month, utcnow())
    text = document.html_file(review) if kind == ".html" else document.csv_file(review)
    # Written beside the target, then moved over it: a failure leaves no half-written file.
    partial = out.with_name(f".{out.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8", newline="")
        partial.replace(out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        _fail(f"--out {out}: cannot write it ({exc.strerror or exc})")
    click.echo(f"wrote the review of {month.label} to {out}")

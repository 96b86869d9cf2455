"""``radcurate project`` and ``radcurate access-log``: projects of a catalog, who viewed what.

These act on the catalog directly, as its owner (whoever can open the catalog file or
database), and are recorded in the audit log under ``--actor`` (default: your OS user)::

    radcurate project create lung-ct --description "Lung CT study" --ae-title LUNG
    radcurate project list
    radcurate project members lung-ct --add ana --add bob --remove eve
    radcurate project add lung-ct 'Modality:CT AND BodyPartExamined:CHEST'
    radcurate project remove lung-ct '*' --include 1.2.3.4
    radcurate project set lung-ct --no-ae-title
    radcurate project delete lung-ct --yes
    radcurate access-log --patient P123 --since 2026-01-01

A project's AE title is the called AE title (``storescu -aec LUNG``) under which
``radcurate receive`` puts what it is sent into the project; the receiver reads the AE
titles when it starts, so restart it after adding or changing one.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
from rich.markup import escape
from rich.table import Table

from radcurate.catalog.curation_types import actor_name
from radcurate.catalog.project_store import ProjectInfo
from radcurate.cli.common import catalog_option, console, open_or_exit
from radcurate.cli.curation_common import (
    ACTOR_OPTION,
    JSON_OPTION,
    bulk_command,
    curation_errors,
    emit_json,
)


def _when(at: float | None) -> str:
    if at is None:
        return "-"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _show(info: ProjectInfo, as_json: bool) -> None:
    if as_json:
        emit_json(info)
        return
    ae = f", AE title {info.ae_title}" if info.ae_title else ""
    members = ", ".join(info.members) or "no members"
    console().print(
        f"[bold]{escape(info.name)}[/bold]: {info.series_count} series, "
        f"{escape(members)}{escape(ae)}"
    )


@click.group()
def project() -> None:
    """Manage projects: the groups of series and of users who may see them.

    Once a catalog has a project, a signed-in non-admin sees only the series of the
    projects they are a member of (admins see everything).
    """


@project.command("create")
@click.argument("name")
@click.option("--description", default="", help="What the project is for.")
@click.option(
    "--ae-title",
    default=None,
    metavar="AE",
    help="A called AE title for `radcurate receive`: what is sent to it lands in the "
    "project (restart the receiver to pick it up).",
)
@catalog_option
@ACTOR_OPTION
@JSON_OPTION
def create(
    name: str,
    description: str,
    ae_title: str | None,
    catalog_url: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Create project NAME."""
    with open_or_exit(catalog_url) as catalog, curation_errors():
        made = catalog.projects.create(
            name, actor=actor_name(actor), description=description, ae_title=ae_title
        )
    if not as_json:
        console().print(f"created project [bold]{escape(made.name)}[/bold]")
    _show(made, as_json)


@project.command("list")
@catalog_option
@JSON_OPTION
def list_projects(catalog_url: str | None, as_json: bool) -> None:
    """Every project with its AE title, members and series count."""
    with open_or_exit(catalog_url) as catalog:
        projects = catalog.projects.list_all()
    if as_json:
        emit_json(projects)
        return
    if not projects:
        console().print("no projects (every signed-in user sees every series)")
        return
    table = Table("project", "series", "AE title", "members", "created", "description")
    for p in projects:
        table.add_row(
            escape(p.name),
            str(p.series_count),
            escape(p.ae_title or "-"),
            escape(", ".join(p.members) or "-"),
            _when(p.created_at),
            escape(p.description),
        )
    console().print(table)


@project.command("set")
@click.argument("name")
@click.option("--description", default=None, help="A new description.")
@click.option("--ae-title", default=None, metavar="AE", help="A new called AE title.")
@click.option("--no-ae-title", is_flag=True, help="The project no longer owns an AE title.")
@catalog_option
@ACTOR_OPTION
@JSON_OPTION
def set_project(
    name: str,
    description: str | None,
    ae_title: str | None,
    no_ae_title: bool,
    catalog_url: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Change project NAME's description or AE title (restart `radcurate receive` after)."""
    if ae_title is not None and no_ae_title:
        click.echo("error: give --ae-title or --no-ae-title, not both", err=True)
        sys.exit(2)
    with open_or_exit(catalog_url) as catalog, curation_errors():
        changed = catalog.projects.update(
            name,
            actor=actor_name(actor),
            description=description,
            ae_title=ae_title,
            clear_ae_title=no_ae_title,
        )
    _show(changed, as_json)


@project.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask.")
@catalog_option
@ACTOR_OPTION
def delete(name: str, yes: bool, catalog_url: str | None, actor: str | None) -> None:
    """Delete project NAME (its series stay in the catalog; only the grouping goes)."""
    if not yes:
        click.confirm(f"Delete project {name}? (its series stay in the catalog)", abort=True)
    with open_or_exit(catalog_url) as catalog, curation_errors():
        catalog.projects.delete(name, actor=actor_name(actor))
    console().print(f"deleted project [bold]{escape(name)}[/bold]")


@project.command("members")
@click.argument("name")
@click.option("--add", "add", multiple=True, metavar="USER", help="Make USER a member.")
@click.option("--remove", "remove", multiple=True, metavar="USER", help="Remove USER.")
@catalog_option
@ACTOR_OPTION
@JSON_OPTION
def members(
    name: str,
    add: tuple[str, ...],
    remove: tuple[str, ...],
    catalog_url: str | None,
    actor: str | None,
    as_json: bool,
) -> None:
    """Add or remove members of project NAME (users made with `radcurate user add`);
    with neither option, show them."""
    with open_or_exit(catalog_url) as catalog, curation_errors():
        if add or remove:
            info = catalog.projects.set_members(
                name, add=add, remove=remove, actor=actor_name(actor)
            )
        else:
            info = catalog.projects.get(name)
    _show(info, as_json)


bulk_command(
    project,
    "add",
    "projects.assign",
    "added to",
    "Put the series matching QUERY (plus --include, minus --exclude) into project NAME.",
)
bulk_command(
    project,
    "remove",
    "projects.unassign",
    "removed from",
    "Take the series matching QUERY (plus --include, minus --exclude) out of project NAME\n"
    "    (they stay in the catalog).",
)


def _instant(text: str | None, option: str) -> float | None:
    """An ISO 8601 date or time as a POSIX time (no zone: UTC); exit 2 when unreadable."""
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        click.echo(
            f"error: {option} {text!r} is not an ISO 8601 date or time "
            "(e.g. 2026-12-01 or 2026-12-01T08:00:00+01:00)",
            err=True,
        )
        sys.exit(2)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


@click.command("access-log")
@click.option("--user", "user_name", default=None, help="Only views by this user.")
@click.option("--patient", default=None, metavar="PATIENT_ID", help="Only this patient.")
@click.option("--series", default=None, metavar="UID", help="Only this series.")
@click.option("--since", default=None, metavar="ISO", help="From this date or time (UTC).")
@click.option("--until", default=None, metavar="ISO", help="Before this date or time (UTC).")
@click.option(
    "--limit", type=click.IntRange(min=1), default=100, show_default=True, help="Most rows."
)
@catalog_option
@JSON_OPTION
def access_log(
    user_name: str | None,
    patient: str | None,
    series: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    catalog_url: str | None,
    as_json: bool,
) -> None:
    """Who viewed which patient's images, newest first (for admins and privacy officers).

    The server records one row when a signed-in user opens a series' images (the same
    user, series and action at most once per 10 minutes). The output shows PatientIDs:
    it is patient data, so do not paste it into tickets or chats.
    """
    start, end = _instant(since, "--since"), _instant(until, "--until")
    with open_or_exit(catalog_url) as catalog:
        entries = catalog.access_log.entries(
            user=user_name,
            patient_id=patient,
            series_uid=series,
            since=start,
            until=end,
            limit=limit,
        )
    if as_json:
        emit_json(entries)
        return
    if not entries:
        console().print("no recorded views match")
        return
    table = Table("when (UTC)", "user", "action", "PatientID", "study", "series")
    for e in entries:
        table.add_row(
            _when(e.at),
            escape(e.user),
            escape(e.action),
            escape(e.patient_id or "-"),
            escape(e.study_uid or "-"),
            escape(e.series_uid or "-"),
        )
    console().print(table)

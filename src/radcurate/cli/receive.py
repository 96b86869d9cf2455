"""``radcurate receive``: a DICOM C-STORE receiver that ingests what it is sent."""

from __future__ import annotations

import signal
import sys
import threading
from typing import TYPE_CHECKING

import click

from radcurate.catalog import CatalogError
from radcurate.cli.common import catalog_option, err_console, settings
from radcurate.optional import is_available
from radcurate.storage import StorageError

if TYPE_CHECKING:
    from radcurate.network.allowlist import AllowList
    from radcurate.network.receiver import Receiver


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=11112, show_default=True)
@click.option(
    "--ae-title",
    "--aet",
    "aet",
    default="RADCURATE",
    show_default=True,
    help="Our AE title (at most 16 characters): an association whose called AE title "
    "(storescu -aec) is another, and not a project's, is rejected.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; the default is this machine only. Other machines can send "
    "with --host 0.0.0.0 (every interface), which needs --allow or --allow-file.",
)
@click.option(
    "--allow",
    "allow_entries",
    metavar="CALLING_AE@HOST",
    multiple=True,
    help="Who may send (repeatable): a calling AE title (* for any) at a host (an IP "
    "address, a network like 10.1.0.0/16, a host name resolved at start, or * for any). "
    "Anyone else is rejected. --allow '*@*' accepts every sender.",
)
@click.option(
    "--allow-file",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help="Read more --allow entries from a file: one CALLING_AE@HOST a line, # comments.",
)
@catalog_option
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    default=None,
    help="Where received files are kept (file:///path). Default: $RADCURATE_STORE, "
    "else ~/.radcurate/store.",
)
@click.option(
    "--batch-files",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Instances per catalog transaction.",
)
@click.option(
    "--fsync/--no-fsync",
    default=True,
    show_default=True,
    help="Flush every instance to disk before answering success (--no-fsync: faster; "
    "survives a crash of radcurate but not of the machine).",
)
@click.option(
    "--engine",
    type=click.Choice(["native", "pynetdicom"]),
    default="native",
    show_default=True,
    help="DIMSE implementation: radcurate's own C-STORE/C-ECHO server (native, about "
    "three times faster per instance), or pynetdicom's complete one.",
)
@click.option(
    "--allow-replace",
    is_flag=True,
    help="An instance whose SOP Instance UID is stored with other content replaces it (the "
    "original kept under .replaced/, the change audited). Default: refused with 0x0111 "
    "and the original kept; identical content is always accepted as a no-op.",
)
@click.option(
    "--max-pdu",
    type=click.IntRange(min=4096),
    default=1 << 20,
    show_default=True,
    help="Largest PDU received, in bytes (told to peers; a longer one aborts the association).",
)
@click.option(
    "--max-dataset",
    type=click.IntRange(min=1),
    default=2 << 30,
    show_default=True,
    help="Most bytes of one C-STORE data set; beyond, the association is aborted.",
)
@click.option(
    "--max-associations",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Associations open at once; one more is rejected (transient, local limit exceeded).",
)
@click.option(
    "--status-seconds",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Print the counters this often while they change (0: never).",
)
def receive(
    port: int,
    aet: str,
    host: str,
    allow_entries: tuple[str, ...],
    allow_file: str | None,
    catalog_url: str | None,
    store_url: str | None,
    batch_files: int,
    fsync: bool,
    engine: str,
    allow_replace: bool,
    max_pdu: int,
    max_dataset: int,
    max_associations: int,
    status_seconds: float,
) -> None:
    """Receive instances by C-STORE (and answer C-ECHO) until stopped (Ctrl-C, SIGTERM).

    Each instance is written to the store and fsync'd before success is
    answered; a separate process updates the catalog in batches. Instances
    acknowledged just before a crash are ingested at the next start.

    Safe by default: it listens on 127.0.0.1 only and answers only to its own AE
    title. To receive from other machines, listen with --host 0.0.0.0 and say who
    may send: --allow CT1@10.0.0.5 (repeatable) or --allow-file FILE; --allow '*@*'
    accepts anyone.

    Projects with an AE title (radcurate project create NAME --ae-title AE) are
    answered too: what is sent to a project's AE title (storescu -aec AE) goes into
    the catalog and into that project. The AE titles are read at start: restart
    the receiver after adding or changing one.
    """
    if engine == "pynetdicom" and not is_available("pynetdicom"):
        err_console().print(
            "error: radcurate receive needs pynetdicom, which is not installed: "
            "run pip install 'radcurate[network]'",
            markup=False,
        )
        sys.exit(2)
    from radcurate.network.receiver import Receiver

    config = settings()
    try:
        allow = _allow_list(allow_entries, allow_file)
        projects = _project_ae_titles(catalog_url or config.catalog_url)
        receiver = Receiver(
            catalog_url or config.catalog_url,
            store_url or config.store_url,
            aet=aet,
            port=port,
            host=host,
            projects=projects,
            allow=allow,
            batch_files=batch_files,
            fsync=fsync,
            engine=engine,
            allow_replace=allow_replace,
            max_pdu=max_pdu,
            max_dataset=max_dataset,
            max_associations=max_associations,
        )
        receiver.start()
    except (ValueError, OSError, StorageError, CatalogError) as exc:
        err_console().print(f"error: {exc}", markup=False)
        sys.exit(2)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    click.echo(
        f"radcurate receiving as {receiver.aet} on {host}:{port} into {receiver.store.url}; "
        f"senders: {_senders(allow)}{_projects_line(receiver.projects)}",
        nl=True,
    )
    sys.stdout.flush()
    _report_until(stopped, receiver, status_seconds)
    if receiver.stats.received > receiver.stats.ingested:
        click.echo("stopping: ingesting what was received…")
    receiver.stop()
    stats = receiver.stats
    click.echo(
        f"stopped: {stats.received} received, {stats.ingested} ingested, {stats.failed} refused, "
        f"{stats.rejected} associations rejected"
    )


def _project_ae_titles(catalog_url: str) -> dict[str, str]:
    """``{AE title: project}`` of the catalog's projects (read once, at start)."""
    from radcurate.catalog import open_catalog

    with open_catalog(catalog_url) as catalog:
        return catalog.projects.ae_titles()


def _projects_line(projects: dict[str, str]) -> str:
    """The projects' AE titles, for the start-up line ("" when none)."""
    if not projects:
        return ""
    pairs = ", ".join(f"{ae} -> {name}" for ae, name in sorted(projects.items()))
    return f"; project AE titles: {pairs}"


def _allow_list(entries: tuple[str, ...], path: str | None) -> AllowList | None:
    """The allow-list of ``--allow`` and ``--allow-file``; None when neither is given."""
    from radcurate.network.allowlist import AllowList, read_allow_file

    texts = [*entries, *(read_allow_file(path) if path is not None else [])]
    if not texts and path is None:
        return None
    return AllowList.parse(texts)


def _senders(allow: AllowList | None) -> str:
    """Who may send, in words (for the start-up line)."""
    if allow is None:
        return "any AE on this machine"
    if allow.allows_anyone:
        return "anyone (*@*)"
    if not allow.entries:
        return "nobody (the allow-list is empty)"
    shown = ", ".join(str(entry) for entry in allow.entries[:3])
    more = len(allow.entries) - 3
    return shown + (f" and {more} more" if more > 0 else "")


def _report_until(stopped: threading.Event, receiver: Receiver, seconds: float) -> None:
    """Print the counters every ``seconds`` while they change, until ``stopped``."""
    last = (0, 0, 0, 0)
    while not stopped.wait(seconds or None):
        stats = receiver.stats
        now = (stats.received, stats.ingested, stats.failed, stats.rejected)
        if now != last:
            rejected = f", {stats.rejected} associations rejected" if stats.rejected else ""
            click.echo(
                f"{stats.received} received ({(now[0] - last[0]) / seconds:.0f}/s), "
                f"{stats.ingested} ingested, {stats.failed} refused{rejected}"
            )
            sys.stdout.flush()
            last = now

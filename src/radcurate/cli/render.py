"""``radcurate render``: render one series (a thumbnail or a viewer slice) to a PNG file."""

from __future__ import annotations

import json
from pathlib import Path

import click

from radcurate.cli.common import catalog_option, console, err_console, open_or_exit
from radcurate.render.api import PLANES, render_series, render_slice


@click.command()
@click.argument("series_uid")
@catalog_option
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="PNG file to write.",
)
@click.option(
    "--size",
    type=click.IntRange(min=16, max=4096),
    default=None,
    help="Square edge in pixels (default 256; a viewer slice keeps its size).",
)
@click.option(
    "--plane",
    type=click.Choice(PLANES),
    default=None,
    help="Viewer slice in this plane (reformatted from the volume).",
)
@click.option(
    "--index",
    type=click.IntRange(min=0),
    default=None,
    help="Slice (or reformat row/column) index in geometric order.",
)
@click.option("--window", type=float, default=None, help="Window width (with --level).")
@click.option("--level", type=float, default=None, help="Window centre (with --window).")
@click.option("--json", "as_json", is_flag=True, help="Print the rendering's metadata as JSON.")
def render(
    series_uid: str,
    catalog_url: str | None,
    out: Path,
    size: int | None,
    plane: str | None,
    index: int | None,
    window: float | None,
    level: float | None,
    as_json: bool,
) -> None:
    """Render SERIES_UID to a PNG: its gallery thumbnail, or a slice with --plane/--index."""
    if (window is None) != (level is None):
        raise click.UsageError("--window and --level go together")
    catalog = open_or_exit(catalog_url)
    with catalog:
        try:
            if plane is None and index is None and window is None:
                rendering = render_series(catalog, series_uid, size=size or 256)
            else:
                rendering = render_slice(
                    catalog,
                    series_uid,
                    index,
                    plane=plane or "native",
                    window=window,
                    level=level,
                    size=size,
                )
        except KeyError:
            err_console().print(f"[red]error:[/red] no series {series_uid} in {catalog.url}")
            raise SystemExit(2) from None
        except (ValueError, IndexError) as exc:
            err_console().print(f"[red]error:[/red] {exc}")
            raise SystemExit(2) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    rendering.image.save(out, format="PNG")
    if as_json:
        click.echo(json.dumps({"out": str(out), **rendering.metadata()}, indent=2, default=str))
        return
    flag = " [yellow](undecodable)[/yellow]" if rendering.undecodable else ""
    console().print(f"{out}: {rendering.caption} [{rendering.renderer}]{flag}")

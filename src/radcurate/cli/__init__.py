"""The ``radcurate`` command line: one module per subcommand."""

from __future__ import annotations

import importlib

import click

#: subcommand name -> "module:function" (loaded lazily so ``radcurate --help`` stays fast)
SUBCOMMANDS: dict[str, str] = {
    "demo": "radcurate.cli.demo:demo",
    "ingest": "radcurate.cli.ingest:ingest",
    "info": "radcurate.cli.info:info",
    "jobs": "radcurate.cli.jobs:jobs",
    "show": "radcurate.cli.show:show",
    "errors": "radcurate.cli.errors:errors",
    "facets": "radcurate.cli.facets:facets",
    "fields": "radcurate.cli.fields:fields",
    "receive": "radcurate.cli.receive:receive",
    "render": "radcurate.cli.render:render",
    "search": "radcurate.cli.search:search",
    "tag": "radcurate.cli.tag:tag",
    "review": "radcurate.cli.review:review",
    "dataset": "radcurate.cli.dataset:dataset",
    "audit": "radcurate.cli.audit:audit",
    "serve": "radcurate.cli.serve:serve",
    "thumbnails": "radcurate.cli.thumbnails:thumbnails",
    "workflows": "radcurate.cli.workflows:workflows",
    "run": "radcurate.cli.workflows:run",
    "qc": "radcurate.cli.qc:qc",
    "bias": "radcurate.cli.bias:bias",
    "compare": "radcurate.cli.bias:compare",
    "export": "radcurate.cli.export:export",
    "clinical": "radcurate.cli.clinical:clinical",
    "import-nifti": "radcurate.cli.import_nifti:import_nifti_command",
    "user": "radcurate.cli.user:user",
    "token": "radcurate.cli.user:token",
    "login": "radcurate.cli.login:login",
    "logout": "radcurate.cli.login:logout",
    "project": "radcurate.cli.project:project",
    "access-log": "radcurate.cli.project:access_log",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="radcurate")
def main() -> None:
    """radcurate: curate DICOM collections into ML-ready datasets."""

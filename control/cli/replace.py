"""``tkctl replace -f FILE``: PUT each object of the files (or stdin) over the stored one, as
``kubectl replace`` does; with the object's ``resourceVersion`` a stale copy is a 409. Reading
every Secret and replacing it rewrites it with the first encryption key (key rotation).
"""

from __future__ import annotations

import click

from common.manifest import Manifest
from control.cli.apply import _filename, _prepared, _step, _validate, run_all
from control.cli.flags import command
from control.cli.output import CliError
from control.cli.session import Client, Session, global_options


def replace_one(session: Session, client: Client, m: Manifest) -> str:
    """Replace one object; the line kubectl prints (``secret/db replaced``)."""
    rt, obj, ns = _prepared(session, m)
    if not m.name:
        raise CliError(f'error when replacing "{m.source}": resource name may not be empty')
    _step(f'error when replacing "{m.source}"', lambda: client.update(rt, obj, ns))
    return f"{rt.kind_prefix}/{m.name} replaced"


@command()
@_filename
@_validate
@global_options
@click.pass_obj
def replace(session: Session, filenames: tuple[str, ...], validate: str) -> None:
    """Replace resources by file name or stdin (each must exist)."""
    run_all(session, filenames, validate, "replace", replace_one)

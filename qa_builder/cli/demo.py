"""`qa-builder demo`: the whole pipeline on the bundled example."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("demo")
@click.option("-o", "--out", "out_dir", default="qa-builder-demo", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Folder for everything the demo makes.")
@click.option("--force", is_flag=True, help="Replace the outputs of an earlier demo run.")
def demo_command(out_dir: Path, force: bool) -> None:
    """Build, sign and verify the bundled example agreement with a TEST PKI; say where everything went.

    Exit code 0 when every signature and the manifest verify as TOTAL-PASSED (as `qa-builder verify`).
    """
    import qa_builder as qa

    result = qa.run_demo(out_dir, force=force)
    for line in result.lines:
        click.echo(line)
    sys.exit(result.exit_code)

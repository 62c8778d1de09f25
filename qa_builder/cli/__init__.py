"""The `qa-builder` command line: thin commands over the library API."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from qa_builder import __version__
from qa_builder.cli.audit import audit_group
from qa_builder.cli.build import build_command
from qa_builder.cli.check import check_command
from qa_builder.cli.demo import demo_command
from qa_builder.cli.errors import error_text
from qa_builder.cli.library import library_group
from qa_builder.cli.manifest import manifest_command
from qa_builder.cli.negotiate import negotiate_group
from qa_builder.cli.pki import pki_group
from qa_builder.cli.questionnaire import questionnaire_command
from qa_builder.cli.schema import schema_command
from qa_builder.cli.serve import serve_command
from qa_builder.cli.sign import sign_command
from qa_builder.cli.verify import verify_command
from qa_builder.cli.workspace import add_command, impact_command, init_command, regenerate_command
from qa_builder.errors import QABuilderError
from qa_builder.printable import printable, shown


class _Group(click.Group):
    """Turns every library error into one line on stderr and its exit code; --debug shows tracebacks."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.ClickException as exc:
            _escape(exc)
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except QABuilderError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            for line in error_text(exc).splitlines() or [type(exc).__name__]:  # messages quote text from files: escaped
                click.secho(f"error: {printable(line)}", fg="red", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            _escape(exc)
            raise
        except (click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except BrokenPipeError:
            # The reader went away (e.g. `qa-builder audit log W | head`): stop quietly, as other tools do.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted; nothing half-written was left behind", err=True)
            sys.exit(130)
        except Exception as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            if isinstance(exc, OSError) and _raised_by_echo(exc):
                # The output itself could not be written (`> /dev/full`, a full disk under a redirect): one line.
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                click.secho(f"error: the output could not be written ({exc.strerror or type(exc).__name__})",
                            fg="red", err=True)
                sys.exit(1)
            if isinstance(exc, OSError) and (exc.filename or _is_write_problem(exc)):
                # A file or folder the system refused (an output folder that cannot hold a file, such as
                # `sign -o /proc/self/x.pdf` or `init /proc/self/ws`; a full disk, a read-only folder): one line
                # naming it and what to do, not "internal error".
                click.secho(f"error: {printable(_os_problem(exc))}", fg="red", err=True)
                sys.exit(1)
            click.secho(f"internal error: {type(exc).__name__}: {printable(str(exc))} (run with --debug for details)",
                        fg="red", err=True)
            sys.exit(1)
        except BaseException as exc:  # e.g. a Rust panic in a binding (pyo3's PanicException is no Exception)
            if ctx.obj and ctx.obj.get("debug"):
                raise
            # Its text may list the bytes it was handed (a passphrase): only the class is shown.
            click.secho(f"internal error: {type(exc).__name__} (run with --debug for details)", fg="red", err=True)
            sys.exit(1)


def _os_problem(exc: OSError) -> str:
    """One line for an OSError that names a file, or that is a write problem (full disk, read-only ...).

    A write problem is worded by `write_problem` ('PATH: the disk is full (no space left); free some space and run
    again'); any other refusal is 'PATH: cannot be used (REASON)'. A hidden staging name ('.x.pdf.k2j.tmp',
    '.ws.init-12') is shown as the folder it was to be made in: 'FOLDER: no file can be made there (REASON)'.
    """
    from qa_builder.files import write_problem  # here: not imported by every command's start

    reason = exc.strerror or type(exc).__name__
    if exc.filename is None:  # a write() or fsync() names no file
        return (write_problem(Path(), exc) or reason).removeprefix(".: ")
    path = Path(os.fsdecode(exc.filename))
    if path.name.startswith("."):
        return write_problem(path.parent, exc) or f"{path.parent}: no file can be made there ({reason})"
    return write_problem(path, exc) or f"{path}: cannot be used ({reason})"


def _is_write_problem(exc: OSError) -> bool:
    """Whether `exc` is a full disk, a quota, a size limit, a read-only or a not-writable folder."""
    from qa_builder.files import write_problem

    return write_problem(Path(), exc) is not None


def _raised_by_echo(exc: BaseException) -> bool:
    """Whether `exc` came from writing a command's output (click.echo), not from the work itself."""
    import traceback

    return any(frame.name in ("echo", "secho") and frame.filename.endswith(os.path.join("click", "utils.py"))
               for frame in traceback.extract_tb(exc.__traceback__))


def _escape(exc: click.ClickException) -> None:
    """Usage errors quote what was typed (an option value, a command name): escaped and cut short, so a pasted
    escape sequence, right-to-left override or page of text cannot reach the terminal or forge lines."""
    vars(exc)["message"] = shown(exc.message, _USAGE_MESSAGE_LIMIT)  # Click declares it Final; it is read at show()


_USAGE_MESSAGE_LIMIT = 300


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="qa-builder")
@click.option("--debug", is_flag=True, help="Show Python tracebacks instead of one-line errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Draft, build and check pharmaceutical Quality Agreements (sponsor ↔ CMO/CDMO/contract laboratory)."""
    ctx.obj = {"debug": debug}
    if not debug:
        # Third-party libraries log tracebacks for conditions we report ourselves as one-line messages.
        for name in ("pyhanko", "pyhanko_certvalidator", "aiohttp", "fontTools"):
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)


main.add_command(build_command)
main.add_command(check_command)
main.add_command(schema_command)
main.add_command(demo_command)
main.add_command(library_group)
main.add_command(questionnaire_command)
main.add_command(pki_group)
main.add_command(manifest_command)
main.add_command(sign_command)
main.add_command(verify_command)
main.add_command(serve_command)
for _command in (init_command, add_command, impact_command, regenerate_command):
    main.add_command(_command)
main.add_command(audit_group)
main.add_command(negotiate_group)

"""`qa-builder serve`: the local web app on 127.0.0.1, signed in with a one-time link."""

from __future__ import annotations

from pathlib import Path

import click

from qa_builder.errors import InputError


@click.command("serve")
@click.argument("workspace", type=click.Path(path_type=Path, file_okay=False), default=Path("."))
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port on 127.0.0.1 (0 picks a free one).")
@click.option("--no-browser", is_flag=True, help="Print the sign-in link instead of opening the browser.")
@click.option("--pkcs11-module", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="PKCS#11 module (shared library) of the signing token the sign page may use, e.g. "
                   "/usr/lib/softhsm/libsofthsm2.so.")
@click.option("--tsa", "tsa_url", help="RFC 3161 timestamp authority URL: lets the sign page sign at B-T (and, with "
              "--trust, B-LT and B-LTA).")
@click.option("--trust", "trust_roots", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Trusted root certificate (PEM), repeatable: the sign and verify pages verify with it.")
def serve_command(workspace: Path, port: int, no_browser: bool, pkcs11_module: Path | None, tsa_url: str | None,
                  trust_roots: tuple[Path, ...]) -> None:
    """Draft, review, preview, build, sign and verify agreements of WORKSPACE in the browser (local only; Ctrl-C
    stops it)."""
    import socket

    import uvicorn

    from qa_builder.web.app import create_app
    from qa_builder.web.security import Gate

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", port))
    except OSError as exc:
        listener.close()
        raise InputError(f"--port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror}); choose another "
                         "port") from exc
    if pkcs11_module is not None and not pkcs11_module.is_file():
        listener.close()
        raise InputError(f"--pkcs11-module {pkcs11_module}: no such file")
    missing = [root for root in trust_roots if not root.is_file()]
    if missing:
        listener.close()
        raise InputError(f"--trust {missing[0]}: no such file")
    gate = Gate(port=listener.getsockname()[1])
    app = create_app(workspace, gate, pkcs11_module=pkcs11_module.absolute() if pkcs11_module else None,
                     tsa_url=tsa_url, trust_roots=tuple(root.absolute() for root in trust_roots))
    url = gate.url()
    click.echo(f"qa-builder serves {workspace.absolute()} at http://127.0.0.1:{gate.port}/")
    click.echo(f"Open this link to sign in (it works once): {url}", )
    if not no_browser:
        import webbrowser  # only when it opens one

        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False)
    uvicorn.Server(config).run(sockets=[listener])

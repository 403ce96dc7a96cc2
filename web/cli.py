"""The `archive` console script: the core's commands plus `serve`, which lives with the web layer."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from archive import Settings
from archive import main as core_main

if TYPE_CHECKING:
    from starlette.applications import Starlette

SERVE_HELP = """\
Serve the search UI and the JSON API.

  archive serve --port 8000
  archive serve --host 0.0.0.0 --workers 4     # four server processes on one port

With --workers N, N processes answer on one port, each with its own search threads, caches and rate
limits; reindex jobs are kept in the archive home, so any of them answers for any job."""


def _workers(raw: str) -> int:
    """`--workers`: a whole number of processes, 1 or more."""
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of processes, 1 or more, not {raw!r}")
    return value


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the web UI and the JSON API",
        description=SERVE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--workers", type=_workers, default=1, metavar="N", help="server processes on that port (default 1)"
    )
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from web.app import create_app

    app: Starlette | str
    if args.workers == 1:
        app = create_app(settings)
    else:
        # uvicorn binds the port once and spawns N fresh interpreters that share it, each building its
        # app from an import string and the environment (`web.app.from_environment`): the environment
        # carries the settings, `--home` included. The supervisor replaces a worker that dies.
        os.environ["ARCHIVE_HOME"] = str(settings.home)
        app = "web.app:from_environment"
    # uvicorn believes X-Forwarded-For/-Proto from 127.0.0.1 by default (or $FORWARDED_ALLOW_IPS): we
    # believe them only from the proxies ARCHIVE_TRUSTED_PROXIES names, and from nobody when it is unset.
    trusted = ",".join(settings.trusted_proxies)
    uvicorn.run(
        app,
        factory=isinstance(app, str),
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_level="info",
        access_log=False,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `archive` command line, `serve` included; the exit code."""
    return core_main(argv, extend=_add_serve)


if __name__ == "__main__":
    sys.exit(main())

"""The `archive` console script: the core's commands plus `serve`, which lives with the web layer."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from archive import Settings
from archive import main as core_main


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the web UI and the JSON API",
        description="Serve the search UI and the JSON API.\n\n  archive serve --port 8000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from web.app import create_app

    # uvicorn believes X-Forwarded-For/-Proto from 127.0.0.1 by default (or $FORWARDED_ALLOW_IPS): we
    # believe them only from the proxies ARCHIVE_TRUSTED_PROXIES names, and from nobody when it is unset.
    trusted = ",".join(settings.trusted_proxies)
    uvicorn.run(
        create_app(settings),
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

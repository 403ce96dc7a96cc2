"""Content negotiation: browsers get HTML, every other client JSON; `format=` overrides."""

from __future__ import annotations

from starlette.requests import Request

from .errors import bad_parameter

FORMATS = ("html", "json", "csv", "ndjson", "atom")


def weights(accept: str) -> dict[str, float]:
    """The weight (`q`) of each item of an `Accept` or `Accept-Encoding` header, lower-cased."""
    out: dict[str, float] = {}
    for item in accept.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        out[media.lower()] = max(q, out.get(media.lower(), 0.0))
    return out


def prefers_html(request: Request) -> bool:
    """True when the Accept header names HTML explicitly and ranks it at least as high as JSON."""
    q = weights(request.headers.get("accept", ""))
    html = max(q.get("text/html", 0.0), q.get("application/xhtml+xml", 0.0))
    json = max(q.get("application/json", 0.0), q.get("application/*", 0.0), q.get("*/*", 0.0))
    return html > 0 and html >= json


def response_format(request: Request, allowed: tuple[str, ...] = FORMATS) -> str:
    """`format=` when given (400 when unknown), else negotiated from Accept."""
    given = request.query_params.get("format")
    if given:
        if given not in allowed:
            raise bad_parameter("format", f"format must be one of {', '.join(allowed)}")
        return given
    return "html" if prefers_html(request) else "json"

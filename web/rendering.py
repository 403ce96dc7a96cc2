"""Jinja2 templates and JSON bodies, rendered in worker threads: autoescaped everywhere; the core's
highlight markup is trusted in exactly one filter.

Nothing CPU-heavy runs on the event loop: a page or a JSON body is built in a thread (at most
RENDER_THREADS at once), so `/health` and every other request keep being accepted while a large one
is rendered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates

from archive import type_label

TEMPLATES = Path(__file__).parent / "templates"


def _highlight(value: str) -> Markup:
    """The core's highlight: text already escaped, with only `<mark>` as markup (see `archive/highlighting.py`)."""
    return Markup(value)  # the single place highlight markup is trusted


def _number(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")


def _size(value: int) -> str:
    if value < 1024:
        return f"{value} o"
    if value < 1024 * 1024:
        return f"{value / 1024:.0f} Ko".replace(".", ",")
    return f"{value / 1024 / 1024:.1f} Mo".replace(".", ",")


_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def french_date(value: str | None) -> str:
    """27 juin 2024 from 2024-06-27."""
    if not value or len(value) < 10:
        return value or "non datée"
    try:
        year, month, day = int(value[:4]), int(value[5:7]), int(value[8:10])
        return f"{'1er' if day == 1 else day} {_MONTHS[month - 1]} {year}"
    except (ValueError, IndexError):
        return value


def sentence(text: str) -> str:
    """`text` with a capital first letter, the rest as it is: the core's notes are phrases (« mots ignorés
    (trop courants) : à »), shown as sentences; Jinja's `capitalize` would lower-case the rest."""
    return text[:1].upper() + text[1:]


def make_templates() -> Jinja2Templates:
    """The site's templates: autoescaped, with the filters the pages use (`highlight` trusts the core's markup)."""
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.autoescape = True
    env.filters["highlight"] = _highlight
    env.filters["number"] = _number
    env.filters["size"] = _size
    env.filters["date_fr"] = french_date
    env.filters["type_label"] = type_label
    env.filters["sentence"] = sentence
    env.trim_blocks = True
    env.lstrip_blocks = True
    return templates


RENDER_THREADS = 2
"""Pages and JSON bodies rendered at once. Rendering is pure Python under the interpreter lock: more
threads would not render faster, only hold more half-built pages in memory."""


def _limiter(request: Request) -> anyio.CapacityLimiter | None:
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "renders", None)
    return limiter


async def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The template `name` rendered in a worker thread, as an HTML response."""
    templates: Jinja2Templates = request.app.state.templates
    template = templates.get_template(name)
    body = await anyio.to_thread.run_sync(
        template.render, {"request": request, **context}, limiter=_limiter(request)
    )
    return HTMLResponse(body, status_code=status_code, headers=headers)


def _json_bytes(content: object) -> bytes:
    """What Starlette's JSONResponse writes: compact UTF-8, no NaN."""
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode()


async def json_response(
    request: Request,
    build: Callable[[], object],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The JSON body `build()` returns, built and serialised in a worker thread."""
    body = await anyio.to_thread.run_sync(lambda: _json_bytes(build()), limiter=_limiter(request))
    return Response(body, status_code=status_code, headers=headers, media_type="application/json")

"""Jinja2 templates: autoescaped everywhere; the core's highlight markup is trusted in exactly one filter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from archive.metadata import type_label

TEMPLATES = Path(__file__).parent / "templates"


def _highlight(value: str) -> Markup:
    """The core's highlight: text already escaped, with only `<mark>` as markup (see `analysis.highlight`)."""
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


def _date(value: str | None) -> str:
    """27 juin 2024 from 2024-06-27."""
    if not value or len(value) < 10:
        return value or "non datée"
    try:
        year, month, day = int(value[:4]), int(value[5:7]), int(value[8:10])
        return f"{'1er' if day == 1 else day} {_MONTHS[month - 1]} {year}"
    except (ValueError, IndexError):
        return value


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.autoescape = True
    env.filters["highlight"] = _highlight
    env.filters["number"] = _number
    env.filters["size"] = _size
    env.filters["date_fr"] = _date
    env.filters["type_label"] = type_label
    env.trim_blocks = True
    env.lstrip_blocks = True
    return templates


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, context, status_code=status_code)

"""Document pages (`GET /documents/{id}`) and originals (`GET /documents/{id}/original`)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from markupsafe import escape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from archive.home import Archive
from archive.models import DocumentView

from .negotiation import response_format
from .rendering import render


def document_json(view: DocumentView) -> dict[str, object]:
    m = view.metadata
    base = "/documents/" + quote(view.id, safe="/")
    matches = set(view.matches)
    highlights = view.highlights or tuple(str(escape(p.text)) for p in view.passages)
    return {
        "id": view.id,
        "url": base,
        "original_url": base + "/original",
        "format": view.format,
        "size": view.size,
        "sha256": view.sha256,
        "metadata": {
            "title": m.title,
            "date": m.date,
            "source": m.source,
            "type": m.type,
            "language": m.language,
            "description": m.description,
            "url": m.url,
        },
        "agency": list(view.agency),
        "offence": list(view.offence),
        "matches": list(view.matches),
        "passages": [
            {
                "id": p.id,
                "position": p.position,
                "section": p.section,
                "text": p.text,
                "highlight": h,
                "agency": list(p.agency),
                "offence": list(p.offence),
                "match": p.position in matches,
                "url": f"{base}#p{p.position}",
            }
            for p, h in zip(view.passages, highlights, strict=True)
        ],
    }


async def document_endpoint(request: Request) -> Response:
    """A document with every passage in order (anchors `#p<position>`); `q` marks the matching passages."""
    fmt = response_format(request, ("html", "json"))
    doc_id: str = request.path_params["doc_id"]
    query = request.query_params.get("q", "")
    archive: Archive = request.app.state.archive
    view = await run_in_threadpool(archive.document, doc_id, query)
    if fmt == "json":
        return JSONResponse(document_json(view), headers={"Vary": "Accept"})
    taxonomy = archive.taxonomy
    matches = list(view.matches)
    nav = {
        pos: (matches[i - 1] if i > 0 else None, matches[i + 1] if i + 1 < len(matches) else None)
        for i, pos in enumerate(matches)
    }
    context = {
        "view": view,
        "title": view.metadata.title or view.id,
        "query": query,
        "matches": matches,
        "nav": nav,
        "highlights": view.highlights or tuple(str(escape(p.text)) for p in view.passages),
        "agency": [(a, taxonomy.label("agency", a)) for a in view.agency],
        "offence": [(o, taxonomy.label("offence", o)) for o in view.offence],
        "labels": {
            "agency": {a: taxonomy.label("agency", a) for p in view.passages for a in p.agency},
            "offence": {o: taxonomy.label("offence", o) for p in view.passages for o in p.offence},
        },
        "original_url": "/documents/" + quote(view.id, safe="/") + "/original",
        "back_url": "/search?" + urlencode({"q": query}) if query else "/search",
    }
    response = render(request, "document.html", context)
    response.headers["Vary"] = "Accept"
    return response


async def original_endpoint(request: Request) -> Response:
    """The stored file as a download; never rendered as a page of this site."""
    archive: Archive = request.app.state.archive
    path, media_type = await run_in_threadpool(archive.original, request.path_params["doc_id"])
    headers = {"Content-Security-Policy": "sandbox; default-src 'none'"}
    return FileResponse(
        path,
        media_type=media_type,
        filename=path.name,
        headers=headers,
        content_disposition_type="attachment",
    )

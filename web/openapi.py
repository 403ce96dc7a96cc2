"""The OpenAPI document: paths and parameters written here, every body's schema derived from its type.

The schemas come from the TypedDicts that the models' `to_json()` return (`archive/wire.py`, `web/wire.py`),
through msgspec, so a field added to a shape is documented by that very change, and mypy holds every
body to its shape. `info.version` is computed from the document itself (see `version`).

Extending it, one line each: a query parameter of `/search` is an entry of `search.PARAMETERS` (a string
unless `_SCHEMAS` says otherwise); a body field is a field of its TypedDict; a response header is an
entry of `HEADERS`, named in `headers=` of the responses that send it; a status is one more entry of an
operation's `responses` (`_err(...)` for an error body, `_empty(...)` for none, as 304).
`tests/test_web_openapi.py` keeps the document true to the routes and to every response.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Sequence
from functools import cache
from typing import Any

import msgspec

from archive import DOCUMENT_PAGE, FACETS, MAX_SELECTED, SORTS, UNDATED
from archive import wire as core_wire

from . import wire
from .documents import SEARCH_PARAMETERS
from .links import IN_DOCUMENT
from .negotiation import FORMATS
from .search import MAX_QUERY_BYTES, PARAMETERS

CONTRACT = 1
"""The contract's major version, first part of `info.version`. Field names never change and fields are
never removed (docs/web.md, "The contract"); this would change only if that promise were ever broken."""

BODIES: tuple[type, ...] = core_wire.BODIES + wire.BODIES
"""Every JSON body the API sends, as a type; each becomes a schema of `components`, with what it uses."""

HEADERS: dict[str, dict[str, Any]] = {
    "Location": {"description": "where to poll the job", "schema": {"type": "string"}},
    "ETag": {
        "description": "validator of this answer: changes with every commit of the index (weak for pages)",
        "schema": {"type": "string"},
    },
    "Last-Modified": {"description": "the time of the index commit answering", "schema": {"type": "string"}},
    "Cache-Control": {
        "description": "public, max-age=60, must-revalidate for reads; no-store otherwise",
        "schema": {"type": "string"},
    },
    "Link": {"description": '<next page URL>; rel="next" (cursor paging)', "schema": {"type": "string"}},
    "Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "integer"}},
}
"""Response headers, by name, as OpenAPI header objects: a response lists the ones it sends (`headers=`)."""

_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_CACHED = ("ETag", "Last-Modified", "Cache-Control")
_REF = "#/components/schemas/{name}"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": _REF.format(name=name)}


def _headers(names: Sequence[str]) -> dict[str, Any]:
    return {"headers": {n: HEADERS[n] for n in names}} if names else {}


def _json(
    description: str,
    schema: str | dict[str, Any],
    headers: Sequence[str] = (),
    also: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A response with a JSON body: `schema` names a component (or is a schema); `also` maps other media
    types the same response may have (HTML, CSV) to their schemas."""
    content = {"application/json": {"schema": _ref(schema) if isinstance(schema, str) else schema}}
    content.update({media: {"schema": other} for media, other in (also or {}).items()})
    return {"description": description, "content": content, **_headers(headers)}


def _err(description: str, schema: str = "Error", headers: Sequence[str] = ()) -> dict[str, Any]:
    return _json(description, schema, headers)


def _empty(description: str, headers: Sequence[str] = ()) -> dict[str, Any]:
    """A response without a body (304)."""
    return {"description": description, **_headers(headers)}


def _query(
    name: str, description: str, schema: dict[str, Any], repeat: bool = False, most: int | None = None
) -> dict[str, Any]:
    if repeat:
        schema = {"type": "array", "items": schema, **({"maxItems": most} if most else {})}
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
        **({"style": "form", "explode": True} if repeat else {}),
    }


_TEXT = {"type": "string"}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "from": {"type": "string", "format": "date"},
    "to": {"type": "string", "format": "date"},
    "sort": {"type": "string", "enum": list(SORTS), "default": "relevance"},
    "page": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1},
    "per_page": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
    "format": {"type": "string", "enum": list(FORMATS)},
    "correct": {"type": "boolean", "default": True},
    "crowding": {"type": "boolean", "default": True},
    "group": {"type": "string", "enum": ["document"]},
    "year": {"type": "string", "pattern": f"^([0-9]{{4}}|{UNDATED})$"},  # a 400 otherwise
}
"""Schemas of `/search`'s query parameters that are not plain strings (`search.PARAMETERS` lists them all)."""
_FACETS = set(FACETS)
_REPEATABLE = _FACETS | {"remove"}
_TOO_LONG = f"query string longer than {MAX_QUERY_BYTES} bytes"
_DOC_ID = {
    "name": "doc_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "document id: its path relative to documents/, slashes included (e.g. 2024/note.md)",
}


@cache
def components() -> dict[str, dict[str, Any]]:
    """The JSON Schema of every body and of what they reference, by name, derived from the types.

    msgspec is used for its schema of TypedDicts (the shapes the models' `to_json()` return): OpenAPI 3.1
    components with `$ref`s where we want them, names and docstrings kept, no runtime dependency of its own.
    """
    _, schemas = msgspec.json.schema_components(BODIES, ref_template=_REF)
    return schemas


def version(document: dict[str, Any]) -> str:
    """`<CONTRACT>.<12 hex digits>`: a digest of the whole document but its version, so the version
    changes whenever a schema, a path, a parameter or a status does, and only then."""
    info = {k: v for k, v in document.get("info", {}).items() if k != "version"}
    canonical = json.dumps(
        {**document, "info": info}, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return f"{CONTRACT}.{hashlib.sha256(canonical.encode()).hexdigest()[:12]}"


def spec() -> dict[str, Any]:
    """The OpenAPI document served at `/openapi.json` (a fresh copy: callers may change it)."""
    return copy.deepcopy(_spec())


@cache
def _spec() -> dict[str, Any]:
    document = _document()
    document["info"]["version"] = version(document)
    return document


def _document() -> dict[str, Any]:
    search_params = [
        _query(n, d, _SCHEMAS.get(n, _TEXT), n in _REPEATABLE, MAX_SELECTED if n in _FACETS else None)
        for n, d in PARAMETERS.items()
    ]
    named = {new: old for old, new in IN_DOCUMENT.items()}  # search_page is the search's page...
    document_params = [
        _query(
            n, d, _SCHEMAS.get(named.get(n, n), _TEXT), n in _FACETS, MAX_SELECTED if n in _FACETS else None
        )
        for n, d in SEARCH_PARAMETERS.items()
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Archive",
            "version": "",  # set by `_spec` from the rest of the document
            "description": "Full-text search over an archive of French documents. Reading is open; "
            "writing needs `Authorization: Bearer <ARCHIVE_TOKEN>`. The contract: JSON field names and "
            "types never change and no field is removed; fields, endpoints, parameters and statuses may "
            f"be added. `info.version` is `{CONTRACT}.<digest of this document>`: a new version means "
            "something was added.",
        },
        "paths": {
            "/search": {
                "get": {
                    "operationId": "search",
                    "summary": "Search passages (HTML for browsers, JSON otherwise; exports with format=csv|ndjson)",
                    "parameters": search_params,
                    "responses": {
                        "200": _json(
                            "search results",
                            "SearchResults",
                            headers=(*_CACHED, "Link"),
                            also=dict.fromkeys(
                                ("text/html", "text/csv", "application/x-ndjson", "application/atom+xml"), _TEXT
                            ),
                        ),
                        "304": _empty("not modified since the ETag given in If-None-Match", _CACHED),
                        "400": _err(
                            f"bad parameter (more than {MAX_SELECTED} values of one facet, a year that is none, "
                            "too many parameters, a broken cursor, one from another search, or a cursor with page)"
                        ),
                        "410": _err("cursor_expired: the index changed since the cursor was made"),
                        "414": _err(_TOO_LONG),
                        "429": _err(
                            "rate_limited: too many requests from this client", headers=("Retry-After",)
                        ),
                        "503": _err("too many CSV exports at once", headers=("Retry-After",)),
                    },
                }
            },
            "/documents/{doc_id}": {
                "get": {
                    "operationId": "get_document",
                    "summary": f"A document, {DOCUMENT_PAGE} passages per page (anchors #p<position>)",
                    "parameters": [
                        _DOC_ID,
                        *document_params,
                        _query(
                            "page",
                            f"page of {DOCUMENT_PAGE} passages, from 1 (default 1)",
                            {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1},
                        ),
                        _query(
                            "p",
                            "a passage position: opens the page that holds it (wins over page)",
                            {"type": "integer", "minimum": 1},
                        ),
                        _query(
                            "at",
                            "a character offset of the document's text (a permalink's): opens the page of the "
                            "passage holding it, whatever the passage sizes, anchor #c<offset> (wins over p)",
                            {"type": "integer", "minimum": 0},
                        ),
                        _query("format", "json or html", {"type": "string", "enum": ["json", "html"]}),
                    ],
                    "responses": {
                        "200": _json(
                            "the document: one page of its passages",
                            "DocumentView",
                            headers=_CACHED,
                            also={"text/html": _TEXT},
                        ),
                        "304": _empty("not modified since the ETag given in If-None-Match", _CACHED),
                        "400": _err("bad parameter"),
                        "404": _err("no such document"),
                        "414": _err(_TOO_LONG),
                        "429": _err(
                            "rate_limited: too many requests from this client", headers=("Retry-After",)
                        ),
                    },
                },
                "delete": {
                    "operationId": "delete_document",
                    "summary": "Remove a document",
                    "security": _BEARER,
                    "parameters": [_DOC_ID],
                    "responses": {
                        "200": _json("removed", "Removed"),
                        "401": _err("missing or wrong token"),
                        "403": _err("writing disabled"),
                        "404": _err("no such document"),
                        "409": _err("another write is running"),
                        "507": _err("storage refuses the write (full or read-only)"),
                    },
                },
            },
            "/documents/{doc_id}/original": {
                "get": {
                    "operationId": "get_original",
                    "summary": "The stored original file, as a download",
                    "parameters": [_DOC_ID],
                    "responses": {
                        "200": {
                            "description": "the file, in its own media type (Content-Disposition: attachment)",
                            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                            **_headers(_CACHED),
                        },
                        "304": _empty("not modified since the ETag given in If-None-Match", _CACHED),
                        "404": _err("no such document"),
                        "429": _err(
                            "rate_limited: too many requests from this client", headers=("Retry-After",)
                        ),
                    },
                }
            },
            "/documents": {
                "post": {
                    "operationId": "upload",
                    "summary": "Upload and index files",
                    "security": _BEARER,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "multipart/form-data": {
                                "schema": {
                                    "type": "object",
                                    "required": ["file"],
                                    "properties": {
                                        "file": {
                                            "type": "array",
                                            "items": {"type": "string", "format": "binary"},
                                        },
                                        "folder": {
                                            "type": "string",
                                            "description": "folder inside documents/",
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _json("something was added: one outcome per file", "Upload"),
                        "200": _json("nothing new (unchanged or duplicate files)", "Upload"),
                        "400": _err("no file part"),
                        "401": _err("missing or wrong token"),
                        "403": _err("writing disabled"),
                        "409": _err(
                            "another write is running, or every file's name is already taken", "UploadError"
                        ),
                        "413": _err("upload too large", "UploadError"),
                        "415": _err("every file has an unsupported type", "UploadError"),
                        "422": _err("every file was rejected", "UploadError"),
                        "503": _err(
                            "the reader process is unavailable: nothing was stored, try again", "UploadError"
                        ),
                        "507": _err("storage refuses the write (full or read-only)"),
                    },
                }
            },
            "/reindex": {
                "post": {
                    "operationId": "reindex",
                    "summary": "Start a reindex job",
                    "security": _BEARER,
                    "parameters": [
                        _query(
                            "full",
                            "rebuild everything beside the live index, then swap",
                            {"type": "boolean", "default": False},
                        ),
                        _query(
                            "accept_changes",
                            "index originals that differ from the fixity manifest (else the job fails: fixity)",
                            {"type": "boolean", "default": False},
                        ),
                    ],
                    "responses": {
                        "202": _json("the job", "JobStarted", headers=("Location",)),
                        "400": _err("full or accept_changes is not true or false"),
                        "401": _err("missing or wrong token"),
                        "403": _err("writing disabled"),
                        "409": _err("a reindex is already running"),
                    },
                }
            },
            "/jobs/{job_id}": {
                "get": {
                    "operationId": "get_job",
                    "summary": "State and progress of a job",
                    "parameters": [
                        {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": _json("the job", "Job"),
                        "404": _err("no such job"),
                    },
                }
            },
            "/health": {
                "get": {
                    "operationId": "health",
                    "summary": "Service and index status",
                    "parameters": [],
                    "responses": {
                        "200": _json(
                            "status (ok, no_index, or degraded when the last write failed) and the index",
                            "Health",
                        )
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "parameters": [],
                    "responses": {
                        "200": _json(
                            "OpenAPI 3.1",
                            {"type": "object", "required": ["openapi", "info", "paths", "components"]},
                        )
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": components(),
        },
    }

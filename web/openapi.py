"""The OpenAPI document, written by hand; `tests/test_web_openapi.py` keeps it true to the routes."""

from __future__ import annotations

from typing import Any

from archive.models import DOCUMENT_PAGE, MAX_SELECTED

from .search import MAX_QUERY_BYTES, PARAMETERS

_ERROR = {"$ref": "#/components/schemas/Error"}
_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def _json(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema or {"type": "object"}}},
    }


def _err(description: str) -> dict[str, Any]:
    return _json(description, _ERROR)


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


_SCHEMAS: dict[str, dict[str, Any]] = {
    "q": {"type": "string"},
    "agency": {"type": "string"},
    "offence": {"type": "string"},
    "year": {"type": "string"},
    "source": {"type": "string"},
    "type": {"type": "string"},
    "from": {"type": "string", "format": "date"},
    "to": {"type": "string", "format": "date"},
    "sort": {"type": "string", "enum": ["relevance", "newest", "oldest"], "default": "relevance"},
    "page": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1},
    "per_page": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
    "format": {"type": "string", "enum": ["json", "html", "csv"]},
    "remove": {"type": "string"},
}
_FACETS = {"agency", "offence", "year", "source", "type"}
_REPEATABLE = _FACETS | {"remove"}
_TOO_LONG = f"query string longer than {MAX_QUERY_BYTES} bytes"
_DOC_ID = {
    "name": "doc_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "document id: its path relative to documents/, slashes included (e.g. 2024/note.md)",
}


def spec() -> dict[str, Any]:
    search_params = [
        _query(n, d, _SCHEMAS[n], n in _REPEATABLE, MAX_SELECTED if n in _FACETS else None)
        for n, d in PARAMETERS.items()
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Archive",
            "version": "0.1.0",
            "description": "Full-text search over an archive of French documents. Reading is open; "
            "writing needs `Authorization: Bearer <ARCHIVE_TOKEN>`.",
        },
        "paths": {
            "/search": {
                "get": {
                    "summary": "Search passages (HTML for browsers, JSON otherwise, CSV with format=csv)",
                    "parameters": search_params,
                    "responses": {
                        "200": {
                            "description": "search results",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/SearchResults"}
                                },
                                "text/html": {"schema": {"type": "string"}},
                                "text/csv": {"schema": {"type": "string"}},
                            },
                        },
                        "400": _err(
                            f"bad parameter (more than {MAX_SELECTED} values of one facet, too many parameters)"
                        ),
                        "414": _err(_TOO_LONG),
                    },
                }
            },
            "/documents/{doc_id}": {
                "get": {
                    "summary": f"A document, {DOCUMENT_PAGE} passages per page (anchors #p<position>)",
                    "parameters": [
                        _DOC_ID,
                        _query("q", "query whose matches are highlighted", {"type": "string"}),
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
                        _query("format", "json or html", {"type": "string", "enum": ["json", "html"]}),
                    ],
                    "responses": {
                        "200": _json("the document: one page of its passages"),
                        "400": _err("bad parameter"),
                        "404": _err("no such document"),
                        "414": _err(_TOO_LONG),
                    },
                },
                "delete": {
                    "summary": "Remove a document",
                    "security": _BEARER,
                    "parameters": [_DOC_ID],
                    "responses": {
                        "200": _json("removed"),
                        "401": _err("missing or wrong token"),
                        "403": _err("writing disabled"),
                        "404": _err("no such document"),
                        "409": _err("another write is running"),
                    },
                },
            },
            "/documents/{doc_id}/original": {
                "get": {
                    "summary": "The stored original file, as a download",
                    "parameters": [_DOC_ID],
                    "responses": {
                        "200": {"description": "the file (Content-Disposition: attachment)"},
                        "404": _err("no such document"),
                    },
                }
            },
            "/documents": {
                "post": {
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
                        "201": _json("something was added: one outcome per file"),
                        "200": _json("nothing new (unchanged or duplicate files)"),
                        "400": _err("no file part"),
                        "401": _err("missing or wrong token"),
                        "403": _err("writing disabled"),
                        "409": _err("another write is running, or every file's name is already taken"),
                        "413": _err("upload too large"),
                        "415": _err("every file has an unsupported type"),
                        "422": _err("every file was rejected"),
                        "503": _err("the reader process is unavailable: nothing was stored, try again"),
                        "507": _err("storage refuses the write (full or read-only)"),
                    },
                }
            },
            "/reindex": {
                "post": {
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
                        "202": _json("the job", {"$ref": "#/components/schemas/Job"}),
                        "401": _err("missing or wrong token"),
                        "403": _err("writing disabled"),
                        "409": _err("a reindex is already running"),
                    },
                }
            },
            "/jobs/{job_id}": {
                "get": {
                    "summary": "State and progress of a job",
                    "parameters": [
                        {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": _json("the job", {"$ref": "#/components/schemas/Job"}),
                        "404": _err("no such job"),
                    },
                }
            },
            "/health": {
                "get": {
                    "summary": "Service and index status",
                    "parameters": [],
                    "responses": {
                        "200": _json(
                            "status (ok, no_index, or degraded when the last write failed), documents, "
                            "passages, built_at, generation, schema_version, degraded (what failed, why, since)"
                        )
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "parameters": [],
                    "responses": {"200": _json("OpenAPI 3.1")},
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                        }
                    },
                },
                "Job": {
                    "type": "object",
                    "required": ["id", "state", "done", "total", "errors"],
                    "properties": {
                        "id": {"type": "string"},
                        "job": {"type": "string"},
                        "state": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
                        "done": {"type": "integer"},
                        "total": {"type": "integer"},
                        "errors": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "SearchResults": {
                    "type": "object",
                    "required": [
                        "query",
                        "interpreted_as",
                        "total",
                        "page",
                        "per_page",
                        "took_ms",
                        "hits",
                        "facets",
                        "suggestion",
                    ],
                    "properties": {
                        "query": {"type": "string"},
                        "interpreted_as": {"type": "string"},
                        "total": {"type": "integer"},
                        "documents": {"type": "integer"},
                        "page": {"type": "integer"},
                        "per_page": {"type": "integer"},
                        "pages": {"type": "integer"},
                        "took_ms": {"type": "number"},
                        "hits": {"type": "array", "items": {"type": "object"}},
                        "facets": {"type": "object"},
                        "suggestion": {"type": ["string", "null"]},
                    },
                },
            },
        },
    }

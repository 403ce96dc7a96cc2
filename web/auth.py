"""Bearer-token check for the archivist endpoints: off without a token, constant-time comparison with one."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from .errors import HttpError


def require_token(request: Request) -> None:
    """Raise 403 when writing is disabled, 401 when the token is missing or wrong."""
    expected: str | None = request.app.state.settings.token
    if not expected:
        raise HttpError(
            403,
            "writing_disabled",
            "writing is disabled: start the service with ARCHIVE_TOKEN set to enable it",
            "L'écriture est désactivée sur ce service.",
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="archive"'}
    if scheme.lower() != "bearer" or not given.strip():
        raise HttpError(
            401,
            "unauthorized",
            "missing bearer token: send 'Authorization: Bearer <token>'",
            "Authentification requise.",
            headers=challenge,
        )
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise HttpError(
            401, "unauthorized", "wrong bearer token", "Authentification refusée.", headers=challenge
        )

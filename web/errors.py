"""HTTP errors: the one place core exceptions become statuses, and the one error shape clients see.

JSON clients always get `{"error": {"code", "message"}}`; people get a French page with the same status.
"""

from __future__ import annotations

from archive.errors import (
    ArchiveBusy,
    ArchiveError,
    CursorExpired,
    DocumentNotFound,
    IndexMissing,
    ReaderFailed,
    RejectedInput,
    StorageError,
    UsageError,
)
from archive.models import FACETS, MAX_SELECTED

from . import wire

_FRENCH_PARAMETERS: dict[str, str] = {
    "page": "Le numéro de page doit être un nombre entier entre 1 et 10 000.",
    "per_page": "Le nombre de résultats par page doit être un nombre entier entre 1 et 100.",
    "sort": "Le tri doit être « pertinence », « plus récents d'abord » ou « plus anciens d'abord ».",
    "from": "La date de début doit être une date valide au format AAAA-MM-JJ (par exemple 2024-06-27), "
    "antérieure à la date de fin.",
    "to": "La date de fin doit être une date valide au format AAAA-MM-JJ (par exemple 2024-06-27).",
    "format": "Le format demandé doit être html, json ou csv.",
    "p": "Le passage demandé se désigne par son numéro, 1 ou plus.",
    "cursor": "Le lien vers la page suivante est invalide ou ne correspond pas à cette recherche : "
    "recommencez depuis la première page.",
    **dict.fromkeys(
        FACETS, f"Un filtre accepte au plus {MAX_SELECTED} valeurs cochées à la fois : retirez-en quelques-unes."
    ),
}


class HttpError(Exception):
    """An error answer: status, stable code, plain message for programs, French message for people."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        french: str | None = None,
        headers: dict[str, str] | None = None,
        extra: wire.ErrorExtra | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.french = french or message
        self.headers = headers or {}
        self.extra: wire.ErrorExtra = extra or {}

    def to_json(self) -> wire.Error:
        return {"error": {"code": self.code, "message": self.message}, **self.extra}


def bad_parameter(parameter: str, message: str) -> HttpError:
    return HttpError(
        400,
        "bad_parameter",
        message,
        _FRENCH_PARAMETERS.get(parameter, "Paramètre invalide."),
        extra={"parameter": parameter},
    )


def from_archive(error: ArchiveError) -> HttpError:
    """Map a core exception to its HTTP answer."""
    if isinstance(error, UsageError):
        return bad_parameter(error.parameter or "", str(error))
    if isinstance(error, DocumentNotFound):
        return HttpError(404, "not_found", str(error), "Ce document n'existe pas dans l'archive.")
    if isinstance(error, ArchiveBusy):
        return HttpError(
            409,
            "busy",
            str(error),
            "Une autre écriture est en cours dans l'archive ; réessayez dans un instant.",
        )
    if isinstance(error, CursorExpired):
        return HttpError(
            410,
            "cursor_expired",
            str(error),
            "La recherche a changé depuis la page précédente (l'archive a été réindexée) : "
            "recommencez depuis la première page.",
        )
    if isinstance(error, IndexMissing):
        return HttpError(503, "index_missing", str(error), "L'index n'est pas encore construit.")
    if isinstance(error, StorageError):
        return HttpError(
            507,
            "storage",
            str(error),
            "Le stockage de l'archive refuse l'écriture (disque plein ou en lecture seule) ; rien n'a été modifié.",
        )
    if isinstance(error, ReaderFailed):
        return HttpError(
            503,
            error.code,
            str(error),
            "La lecture de documents déjà indexés a échoué ; l'index en service n'a pas été modifié. "
            "Relancez la réindexation.",
        )
    if isinstance(error, RejectedInput) and error.reason_code == "name_taken":
        return HttpError(
            409,
            "name_taken",
            str(error),
            "Un autre fichier porte déjà ce nom dans l'archive ; renommez le vôtre.",
        )
    if isinstance(error, RejectedInput):
        return HttpError(422, error.reason_code, str(error), "Ce fichier ne peut pas entrer dans l'archive.")
    return HttpError(
        500,
        "internal_error",
        "the archive could not answer this request",
        "L'archive n'a pas pu répondre à cette demande.",
    )


NOT_FOUND = "Cette page n'existe pas."
INTERNAL = HttpError(
    500,
    "internal_error",
    "an unexpected error occurred; it has been logged",
    "Une erreur inattendue s'est produite ; elle a été consignée. Réessayez plus tard.",
)

"""HTTP errors: the one table where core exceptions become statuses, and the one error shape clients see.

JSON clients always get `{"error": {"code", "message"}}`; people get a French page with the same status.
`ANSWERS` maps every core exception class to its status, code and French sentence (a test walks
`archive.errors` and fails on a class it does not name); `REJECTIONS` does the same for the reasons a
file is refused. Routes, archivist endpoints and reindex jobs all answer through them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from starlette.exceptions import HTTPException

from archive import (
    FACETS,
    MAX_SELECTED,
    ArchiveBusy,
    ArchiveError,
    ClusterMismatch,
    CursorExpired,
    DocumentNotFound,
    FixityError,
    IndexMissing,
    ReaderFailed,
    ReaderUnavailable,
    RejectedInput,
    Report,
    SchedulerUnreachable,
    Settings,
    SettingsError,
    StorageError,
    TaxonomyError,
    UsageError,
)

from . import wire

_FRENCH_PARAMETERS: dict[str, str] = {
    "page": "Le numéro de page doit être un nombre entier entre 1 et 10 000.",
    "per_page": "Le nombre de résultats par page doit être un nombre entier entre 1 et 100.",
    "search_page": "La page de la recherche d'où vient ce lien doit être un nombre entier entre 1 et 10 000.",
    "search_per_page": "Le nombre de résultats par page de la recherche d'où vient ce lien doit être un "
    "nombre entier entre 1 et 100.",
    "sort": "Le tri se demande avec sort=relevance (pertinence), sort=newest (date, les plus récents d'abord) "
    "ou sort=oldest (date, les plus anciens d'abord).",
    "from": "La date de début doit être une date valide au format AAAA-MM-JJ (par exemple 2024-06-27), "
    "antérieure à la date de fin.",
    "to": "La date de fin doit être une date valide au format AAAA-MM-JJ (par exemple 2024-06-27).",
    "format": "Le format demandé doit être html, json, csv, ndjson ou atom.",
    "group": "Le regroupement par document se demande avec group=document ; il se pagine par numéro de page "
    "(sans curseur) et ne se combine pas avec crowding=false.",
    "sep": "Le séparateur du CSV doit être une virgule ou un point-virgule (pour Excel en français).",
    "p": "Le passage demandé se désigne par son numéro, 1 ou plus.",
    "at": "Le lien permanent désigne un passage par sa position dans le texte : un nombre entier, 0 ou plus.",
    "cursor": "Le lien vers la page suivante est invalide ou ne correspond pas à cette recherche : "
    "recommencez depuis la première page.",
    **dict.fromkeys(
        FACETS,
        f"Un filtre accepte au plus {MAX_SELECTED} valeurs cochées à la fois : retirez-en quelques-unes.",
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
        """The error's JSON body."""
        return wire.error(self.code, self.message, self.extra)


@dataclass(frozen=True)
class Answer:
    """How one kind of failure is answered: HTTP status, stable code and a French sentence for people.

    `message`, for programs, is the exception's own unless given (the archive home's paths never shown).
    """

    status: int
    code: str
    french: str
    message: str | None = None


_REJECTED = "Ce fichier ne peut pas entrer dans l'archive."
_READER = "Le lecteur de documents est indisponible (ce n'est pas la faute du fichier) ; réessayez plus tard."

ANSWERS: dict[type[ArchiveError], Answer] = {
    # An ArchiveError of no class below: a bug of ours, told as little as a 500 tells.
    ArchiveError: Answer(
        500,
        "internal_error",
        "L'archive n'a pas pu répondre à cette demande.",
        "the archive could not answer this request",
    ),
    UsageError: Answer(400, "bad_parameter", "Paramètre invalide."),  # French by parameter: bad_parameter()
    DocumentNotFound: Answer(404, "not_found", "Ce document n'existe pas dans l'archive."),
    ArchiveBusy: Answer(
        409, "busy", "Une autre écriture est en cours dans l'archive ; réessayez dans un instant."
    ),
    CursorExpired: Answer(
        410,
        "cursor_expired",
        "La recherche a changé depuis la page précédente (l'archive a été réindexée) : "
        "recommencez depuis la première page.",
    ),
    IndexMissing: Answer(503, "index_missing", "L'index n'est pas encore construit."),
    RejectedInput: Answer(422, "rejected", _REJECTED),  # status and code by reason: REJECTIONS
    ReaderUnavailable: Answer(503, "reader_unavailable", _READER),
    ReaderFailed: Answer(
        503,
        "reader_failed",
        "La lecture de documents déjà indexés a échoué ; l'index en service n'a pas été modifié. "
        "Relancez la réindexation.",
    ),
    # The originals conflict with their manifest; the client resolves it (accept_changes=true, or a
    # removal) and asks again: a 409, as for a name already taken. Jobs have reported `fixity` since jobs exist.
    FixityError: Answer(
        409,
        "fixity",
        "Des originaux diffèrent du manifeste d'intégrité : rien n'a été réindexé. Si ces changements sont "
        "voulus, relancez avec accept_changes=true ; pour retirer un document, supprimez-le.",
    ),
    StorageError: Answer(
        507,
        "storage",
        "Le stockage de l'archive refuse l'écriture (disque plein ou en lecture seule) ; rien n'a été modifié.",
    ),
    # A broken taxonomy.toml or setting is the operator's to fix, not the client's, and waiting will not
    # fix it (no 503 and its invitation to retry): a 500 that names its cause by a code of its own.
    TaxonomyError: Answer(
        500,
        "bad_taxonomy",
        "La taxonomie de l'archive (taxonomy.toml) est invalide ; l'administrateur doit la corriger.",
    ),
    SettingsError: Answer(
        500,
        "bad_settings",
        "La configuration du service est invalide ; l'administrateur doit la corriger.",
    ),
    # The cluster of machines that prepares documents (ARCHIVE_SCHEDULER): away, try later; or running
    # other code than this server, which only the operator can fix.
    SchedulerUnreachable: Answer(
        503,
        "scheduler_unreachable",
        "Le cluster de calcul qui prépare les documents est injoignable ; rien n'a été modifié. "
        "Réessayez plus tard.",
    ),
    ClusterMismatch: Answer(
        500,
        "cluster_mismatch",
        "Les machines du cluster de calcul n'exécutent pas la même version de l'archive que ce serveur ; "
        "rien n'a été modifié. L'administrateur doit les mettre à jour.",
    ),
}
"""Every core exception class, with its answer; a subclass not named answers as its nearest ancestor."""

REJECTIONS: dict[str, Answer] = {
    "unsupported_format": Answer(415, "unsupported_format", "Ce format de fichier n'est pas accepté."),
    "too_large": Answer(413, "too_large", "Ce fichier dépasse la taille acceptée par l'archive."),
    # another file holds the name: a conflict with what is stored
    "name_taken": Answer(
        409, "name_taken", "Un autre fichier porte déjà ce nom dans l'archive ; renommez le vôtre."
    ),
    # our reader failed, not the files: try later
    "reader_unavailable": Answer(503, "reader_unavailable", _READER),
    "reader_crashed": Answer(503, "reader_unavailable", _READER),
}
"""Answers to a refused file by its reason code; any other reason is a 422 under its own code."""


def answer_for(kind: type[ArchiveError]) -> Answer:
    """The answer to an exception of class `kind`: its own entry in ANSWERS, or its nearest ancestor's."""
    for ancestor in kind.__mro__:
        answer = ANSWERS.get(ancestor)
        if answer is not None:
            return answer
    return ANSWERS[ArchiveError]


def rejection(code: str) -> Answer:
    """The answer to a file refused for reason `code`."""
    return REJECTIONS.get(code) or Answer(422, code, _REJECTED)


def bad_parameter(parameter: str, message: str, french: str | None = None) -> HttpError:
    """400 for a query parameter out of range, in French by parameter (or as `french` says)."""
    return HttpError(
        400,
        "bad_parameter",
        message,
        french or _FRENCH_PARAMETERS.get(parameter, "Paramètre invalide."),
        extra={"parameter": parameter},
    )


def from_archive(error: ArchiveError, settings: Settings | None = None) -> HttpError:
    """Map a core exception to its HTTP answer (paths under `settings.home` never shown absolute)."""
    answer = answer_for(type(error))
    message = answer.message or public(str(error), settings)
    if isinstance(error, UsageError):
        return bad_parameter(error.parameter or "", message)
    if isinstance(error, RejectedInput) and answer is ANSWERS[RejectedInput]:
        answer = rejection(error.reason_code)
    return HttpError(answer.status, answer.code, message, answer.french)


def refused(report: Report) -> HttpError | None:
    """The error of an upload whose every file was refused; None when any file was taken."""
    reasons = [o.reason for o in report.outcomes if o.reason is not None]
    if not reasons or len(reasons) < len(report.outcomes):
        return None
    answers = {rejection(r.code) for r in reasons}
    answer = answers.pop() if len(answers) == 1 else Answer(422, "rejected", _REJECTED)
    message = "; ".join(f"{o.path}: {o.reason.message}" for o in report.outcomes if o.reason)
    return HttpError(answer.status, answer.code, message, answer.french)


def from_http_exception(error: HTTPException, method: str) -> HttpError:
    """Starlette's own refusals (no such route, method not allowed) in the usual shape."""
    if error.status_code == 404:
        return HttpError(404, "not_found", "no such page", NOT_FOUND)
    if error.status_code == 405:
        return HttpError(
            405,
            "method_not_allowed",
            f"{method} is not allowed here",
            "Méthode non autorisée.",
            headers=dict(error.headers or {}),
        )
    return HttpError(error.status_code, "http_error", str(error.detail), str(error.detail))


def public(message: str, settings: Settings | None) -> str:
    """A message anyone may read: the archive's own paths shown as document ids, never absolute.

    The core's messages already name documents by id; this keeps it so whatever a reader reports.
    """
    if settings is None:
        return message
    for root in (settings.documents_dir, settings.documents_dir.resolve(), settings.home):
        message = message.replace(f"{root}{os.sep}", "")
    return message.replace(str(settings.home), "the archive home")


NOT_FOUND = "Cette page n'existe pas."
INTERNAL = HttpError(
    500,
    "internal_error",
    "an unexpected error occurred; it has been logged",
    "Une erreur inattendue s'est produite ; elle a été consignée. Réessayez plus tard.",
)

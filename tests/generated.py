"""Generated French legal prose for tests that need an archive larger than the hand-written ones.

Judgements repeat their formulas (« Par ces motifs, le tribunal, statuant publiquement… ») from one
decision to the next: every word of such a formula is in most passages, which is what makes a long
quoted formula the most expensive phrase to verify. Seeded, so every run builds the same archive.
"""

from __future__ import annotations

import random
from pathlib import Path

SUBJECTS = (
    "le tribunal",
    "la cour",
    "le prévenu",
    "la défense",
    "le parquet",
    "le ministère public",
    "la partie civile",
    "le juge d'instruction",
    "l'avocat général",
    "la chambre correctionnelle",
)
VERBS = ("retient", "considère", "relève", "constate", "observe", "rappelle", "estime", "souligne")
CLAIMS = (
    "que les faits de blanchiment aggravé sont établis",
    "que l'enquête a permis de saisir des fonds importants",
    "que la société écran servait à dissimuler l'origine des sommes",
    "que les écoutes téléphoniques ont été autorisées régulièrement",
    "que la garde à vue s'est déroulée conformément à la loi",
    "que le réseau importait des stupéfiants depuis l'étranger",
    "que les comptes bancaires ont été ouverts sous de fausses identités",
    "que la corruption d'agent public est caractérisée",
    "que les témoins ont varié dans leurs déclarations successives",
    "que la peine doit tenir compte de la personnalité du prévenu",
    "que l'escroquerie en bande organisée a causé un préjudice important",
    "que les véhicules saisis seront confisqués au profit de l'État",
)
FORMULA = (
    "Par ces motifs, le tribunal, statuant publiquement, en premier ressort et par jugement "
    "contradictoire à l'égard de toutes les parties, déclare le prévenu coupable des faits qui lui sont "
    "reprochés, le condamne à une peine d'emprisonnement délictuel, ordonne la confiscation des scellés, "
    "reçoit la constitution de partie civile, condamne le prévenu à payer des dommages et intérêts en "
    "réparation du préjudice moral et matériel subi, dit que la présente décision est assujettie au "
    "droit fixe de procédure, informe le condamné de la possibilité de payer l'amende dans le délai "
    "d'un mois"
)


def formula_phrase(words: int = 64) -> str:
    """The first `words` words of the formula, quoted: a phrase most passages hold in full."""
    return '"' + " ".join(FORMULA.replace(",", "").split()[:words]) + '"'


def paragraph(rng: random.Random, formula: bool = True) -> str:
    sentences = [
        f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} {rng.choice(CLAIMS)}."
        for _ in range(rng.randint(4, 7))
    ]
    if formula:
        sentences.append(FORMULA + ".")
    return " ".join(sentences)


def judgement(rng: random.Random, number: int, paragraphs: int) -> str:
    """A Markdown judgement with front matter; one passage per paragraph at the archive's settings."""
    year = 2010 + number % 15
    body = "\n\n".join(paragraph(rng, formula=rng.random() < 0.9) for _ in range(paragraphs))
    return (
        f"---\ntitle: Jugement n° {number}\ndate: {year}-03-{1 + number % 28:02d}\ntype: decision\n"
        f"source: Tribunal correctionnel fictif\n---\n\n{body}\n"
    )


def write_judgements(home: Path, documents: int, paragraphs: int, seed: int = 1) -> dict[str, int]:
    """Write `documents` judgements of `paragraphs` paragraphs under home/documents; their names."""
    rng = random.Random(seed)
    folder = home / "documents" / "jugements"
    folder.mkdir(parents=True, exist_ok=True)
    names: dict[str, int] = {}
    for i in range(documents):
        name = f"jugement-{i:04d}.md"
        (folder / name).write_text(judgement(rng, i, paragraphs), encoding="utf-8")
        names[f"jugements/{name}"] = paragraphs
    return names

"""Agency and offence detection: a table of French phrasings, and the home's own taxonomy."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.errors import ArchiveError
from archive.taxonomy import Taxonomy


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return Taxonomy.load()


def test_default_taxonomy_is_large_enough_and_consistent(taxonomy: Taxonomy) -> None:
    assert len(taxonomy.entries["agency"]) >= 30
    assert len(taxonomy.entries["offence"]) >= 40
    required_agencies = [
        "gendarmerie",
        "police-nationale",
        "police-judiciaire",
        "douane",
        "dnred",
        "junalco",
        "parquet-paris",
        "jirs",
        "pnf",
        "ofast",
        "ocrteh",
        "oclctic",
        "onaf",
        "tracfin",
        "comcyber-mi",
        "europol",
        "eurojust",
        "interpol",
        "olaf",
    ]
    required_offences = [
        "pedocriminalite",
        "proxenetisme",
        "blanchiment",
        "blanchiment-aggrave",
        "blanchiment-bande-organisee",
        "association-de-malfaiteurs",
        "transactions-illicites-bande-organisee",
        "trafic-de-stupefiants",
        "escroquerie",
        "abus-de-confiance",
        "fraude-fiscale",
        "corruption",
        "contrefacon",
        "traite-des-etres-humains",
        "atteinte-stad",
    ]
    assert set(required_agencies) <= set(taxonomy.entries["agency"])
    assert set(required_offences) <= set(taxonomy.entries["offence"])


@pytest.mark.parametrize(
    "text, kind, expected",
    [
        ("Des blanchiments ont été constatés.", "offence", "blanchiment"),
        ("poursuivis pour Blanchiment aggravé", "offence", "blanchiment-aggrave"),
        ("poursuivis pour Blanchiment aggravé", "offence", "blanchiment"),
        ("un vaste blanchiment d'argent", "offence", "blanchiment"),
        ("blanchiment en bande organisée", "offence", "blanchiment-bande-organisee"),
        ("la direction générale des douanes et droits indirects", "agency", "douane"),
        ("selon la DGDDI", "agency", "douane"),
        ("les douaniers du Havre", "agency", "douane"),
        ("la DNRED a saisi", "agency", "dnred"),
        ("la DNRED a saisi", "agency", "douane"),
        ("coordonnée par Eurojust", "agency", "eurojust"),
        ("avec l’appui d’Europol", "agency", "europol"),
        ("la juridiction nationale de lutte contre la criminalité organisée (JUNALCO)", "agency", "junalco"),
        ("le parquet national financier", "agency", "pnf"),
        ("l'Office anti-stupéfiants", "agency", "ofast"),
        ("des actes de pédocriminalité", "offence", "pedocriminalite"),
        ("PEDOCRIMINALITE", "offence", "pedocriminalite"),
        ("pour proxénétisme aggravé", "offence", "proxenetisme"),
        ("association de malfaiteurs", "offence", "association-de-malfaiteurs"),
        ("trafic de stupéfiants", "offence", "trafic-de-stupefiants"),
        ("abus de confiance", "offence", "abus-de-confiance"),
        ("traite des êtres humains", "offence", "traite-des-etres-humains"),
        ("des escroqueries en série", "offence", "escroquerie"),
        ("les gendarmes de la section de recherches", "agency", "gendarmerie"),
    ],
)
def test_detects(taxonomy: Taxonomy, text: str, kind: str, expected: str) -> None:
    assert expected in taxonomy.detect(text)[kind]


@pytest.mark.parametrize(
    "text, kind, absent",
    [
        ("la police municipale a verbalisé", "agency", "police-nationale"),
        ("le parquet a requis", "agency", "parquet-paris"),
        ("une fraude aux prestations", "offence", "fraude-fiscale"),
        ("Ils sont allés au marché.", "offence", "escroquerie"),
    ],
)
def test_does_not_detect_on_loose_words(taxonomy: Taxonomy, text: str, kind: str, absent: str) -> None:
    assert absent not in taxonomy.detect(text)[kind]


def test_resolve_accepts_ids_labels_and_aliases(taxonomy: Taxonomy) -> None:
    assert taxonomy.resolve("agency", "eurojust") == "eurojust"
    assert taxonomy.resolve("agency", "DGDDI") == "douane"
    assert taxonomy.resolve("offence", "Blanchiment aggravé") == "blanchiment-aggrave"
    assert taxonomy.resolve("offence", "inconnu au bataillon") is None


def test_home_taxonomy_extends_overrides_and_disables(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.toml"
    path.write_text(
        '[agency.eurojust]\naliases = ["agence judiciaire européenne"]\n\n'
        '[agency.brigade-fluviale]\nlabel = "Brigade fluviale"\naliases = ["brigade fluviale"]\n\n'
        "[offence.escroquerie]\ndisabled = true\n",
        encoding="utf-8",
    )
    custom = Taxonomy.load(path)
    found = custom.detect(
        "L'agence judiciaire européenne et la brigade fluviale enquêtent sur une escroquerie."
    )
    assert {"eurojust", "brigade-fluviale"} <= set(found["agency"])
    assert "escroquerie" not in found["offence"]
    assert custom.fingerprint != Taxonomy.load().fingerprint


@pytest.mark.parametrize(
    "content",
    [
        "[agency.x\n",
        '[weapons.x]\nlabel = "X"\n',
        '[agency.x]\naliases = ["x"]\n',
        '[agency.x]\nlabel = "X"\nparent = "nope"\n',
        '[agency.x]\nlabel = "X"\naliases = "x"\n',
    ],
)
def test_bad_home_taxonomy_is_a_clear_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "taxonomy.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ArchiveError):
        Taxonomy.load(path)

"""Fixtures shared by the core's tests: small French archive homes built in temporary folders.

No test reads or writes the repository's own documents/ or index/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.home import Archive
from archive.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"

SMALL_ARCHIVE: dict[str, str] = {
    "2023/eurojust-blanchiment.md": (
        "---\ntitle: Coup de filet contre le blanchiment aggravé\ndate: 2023-05-12\nsource: Le Journal fictif\n"
        "type: article\nagency: [eurojust]\n---\n\n"
        "## L'opération\n\n"
        "Une opération coordonnée par Eurojust a permis l’interpellation de douze personnes soupçonnées de "
        "blanchiment aggravé. Les enquêteurs de la gendarmerie ont saisi 1,2 million d'euros en espèces.\n\n"
        "## Les suites judiciaires\n\n"
        "Les suspects ont été condamnés par le tribunal correctionnel de Lille. La Pédocriminalité n'est pas "
        "concernée par ce dossier, précise le parquet.\n"
    ),
    "2021/douane-cigarettes.txt": (
        "Saisie record de cigarettes au Havre\n\n"
        "Les agents de la direction générale des douanes et droits indirects ont découvert quatre tonnes de "
        "cigarettes de contrebande dans un conteneur. L'enquête porte sur un trafic en bande organisée.\n\n"
        "La condamnée, gérante d'une société écran, avait déjà été poursuivie pour escroquerie.\n"
    ),
    "2024/proxenetisme.html": (
        "<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'><title>Proxénétisme : un réseau démantelé"
        "</title><meta property='article:published_time' content='2024-02-03T10:00:00+01:00'>"
        "<meta property='og:site_name' content='La Gazette fictive'></head><body>"
        "<nav><a href='/'>Accueil</a> | <a href='/contact'>Contact</a></nav>"
        "<div class='cookie'>Nous utilisons des cookies. Accepter</div>"
        "<article><h1>Proxénétisme : un réseau démantelé</h1>"
        "<p>Les policiers de l'OCRTEH ont démantelé un réseau de proxénétisme aggravé qui exploitait des "
        "jeunes femmes à Marseille et à Nice, au terme de deux années d'enquête et d'écoutes.</p>"
        "<p>Les opérations de police ont eu lieu simultanément dans trois départements ; les anti-refoulement "
        "du port ont été contrôlés. Le parquet a ouvert une information judiciaire pour traite des êtres "
        "humains.</p></article>"
        "<aside><h3>Recherches associées</h3><ul><li><a href='#'>casino en ligne</a></li></ul></aside>"
        "<footer>Mentions légales</footer><script>var tracker = 1;</script></body></html>"
    ),
}


def write_documents(home: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = home / "documents" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An archive home holding the small French archive, not yet indexed."""
    (tmp_path / "documents").mkdir()
    write_documents(tmp_path, dict(SMALL_ARCHIVE))
    return tmp_path


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings(home=home)


@pytest.fixture
def archive(settings: Settings) -> Iterator[Archive]:
    """The small archive, indexed."""
    a = Archive(settings)
    a.reindex()
    yield a
    a.close()

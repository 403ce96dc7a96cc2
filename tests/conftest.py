"""Shared fixtures: small French archive homes built in temporary folders.

Core fixtures first (`home`, `settings`, `archive`); web fixtures are prefixed `web_`.
No test reads or writes the repository's own documents/ or index/.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
import weakref
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

with warnings.catch_warnings():
    # Starlette 1.x warns, once at import, that it prefers `httpx2`; PyPI's httpx is what we have.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient

from archive.errors import RejectedInput
from archive.home import Archive
from archive.models import Document
from archive.preparing import Job
from archive.settings import Settings
from archive.write import Write

FIXTURES = Path(__file__).parent / "fixtures"

# The French lexicon's table is cached under $XDG_CACHE_HOME (archive/lexicon.py), and writing it drops the
# tables of other versions: two checkouts with different inflection rules sharing ~/.cache rebuilt it in
# turn, 4 s of CPU in each process that loads it (in a worker, out of a document's CPU budget). The
# suite keeps its own, beside the checkout, built once; every child process inherits these settings.
ROOT = Path(__file__).resolve().parent.parent
os.environ["XDG_CACHE_HOME"] = str(ROOT / ".cache")
# Child processes, the installed `archive` script included, import this checkout's code: in a git worktree
# sharing another checkout's virtualenv, its editable install would otherwise run the other checkout's.
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])


def pytest_sessionstart(session: pytest.Session) -> None:
    """Load (on a fresh checkout: build) the lexicon before any test, so that no test's child process,
    which loads it on its first word, spends a reader's CPU budget or a hang guard deriving it."""
    from archive import lexicon

    lexicon.table()


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


# The fields of a hit in the /search JSON (and `archive search --json`), as issues 2 and 3 name them.
HIT_KEYS = {
    "id",
    "document",
    "position",
    "section",
    "title",
    "date",
    "source",
    "type",
    "text",
    "highlight",
    "agency",
    "offence",
    "score",
    "url",
    "more_in_document",
    "excerpts",
    "permalink",
    "duplicates",
}


def write_documents(home: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = home / "documents" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


class Watched(Write):
    """A real write that keeps a weak reference to each document it prepared and notes, each time it
    hands out another, how many of those before the previous one are still alive."""

    def __init__(self, archive: Archive) -> None:
        super().__init__(archive.settings, archive.store, archive.pipeline, archive.searcher)
        self.refs: list[weakref.ref[Document]] = []
        self.alive: list[int] = []

    def prepare_all(self, jobs: Iterable[Job]) -> Generator[tuple[str, Document | RejectedInput], None, None]:
        for document_id, result in super().prepare_all(jobs):
            if isinstance(result, Document):
                self.alive.append(sum(ref() is not None for ref in self.refs[:-1]))
                self.refs.append(weakref.ref(result))
            yield document_id, result


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


# ---------------------------------------------------------------- web fixtures

WEB_DOCUMENTS: dict[str, str] = {
    "2024/blanchiment-lyon.md": "---\ntitle: Blanchiment aggravé à Lyon\ndate: 2024-06-27\ntype: communiqué\n"
    "source: Gendarmerie nationale\n---\n\n"
    "La gendarmerie a démantelé un réseau de blanchiment aggravé qui recyclait l'argent de la drogue.\n\n"
    "Les enquêteurs ont saisi des comptes bancaires et trois véhicules de luxe à Lyon.\n",
    "2023/douane-cigarettes.md": "---\ntitle: Saisie de cigarettes au Havre\ndate: 2023-03-02\ntype: article\n"
    "source: Le Journal fictif\n---\n\n"
    "Les douaniers ont saisi quatre tonnes de cigarettes de contrebande dans un conteneur.\n\n"
    "Le conteneur venait d'Asie et portait une fausse déclaration de marchandises.\n",
    "2022/europol-escroquerie.md": "---\ntitle: Escroquerie aux faux placements\ndate: 2022-11-15\ntype: article\n"
    "source: Le Journal fictif\n---\n\n"
    "Europol et Eurojust coordonnent une enquête pour escroquerie en bande organisée.\n\n"
    "Des centaines d'épargnants ont perdu leurs économies dans de faux placements.\n",
    "2021/blanchiment-escroquerie.md": "---\ntitle: Blanchiment du produit d'une escroquerie\ndate: 2021-01-10\n"
    "type: decision\nsource: Tribunal fictif\n---\n\n"
    "Le tribunal condamne un homme pour blanchiment du produit d'une escroquerie en bande organisée.\n\n"
    "La gendarmerie avait retrouvé les fonds sur des comptes à l'étranger.\n",
    "2024/hostile.txt": "Un texte piégé contenant <script>alert('xss')</script> et une image "
    "<img src=x onerror=alert(1)> ainsi qu'un lien javascript:alert(2) au milieu des mots sur la contrebande.\n",
    "2024/hostile.txt.meta.toml": "title = \"Piège <script>alert('titre')</script>\"\ndate = 2024-01-05\n"
    'type = "note"\nsource = "<b>Source</b> douteuse"\n',
}
"""Small made-up French documents the web tests rely on (one passage per paragraph with min words 5)."""


def custody_guides() -> dict[str, str]:
    """Two guides where a search and a document view used to disagree (issue 14 §3), one passage a line:
    `garde à vue mineur` (every word; `mineur` alone is everywhere), `audition mineur` (few passages
    hold both: loosened), `"garde à vue" mineur` with the gendarmerie filter (tagged passages only),
    `garde mineurr` (a typo, corrected); and a short note, for a second document and year."""
    lines = {
        "mineurs": [
            (1, "Guide de la garde à vue des mineurs"),
            (12, "La garde à vue du mineur obéit à des règles particulières, dit la fiche {i}."),
            (18, "Le mineur est assisté de son avocat et ses parents sont avisés, note {i}."),
            (3, "L'audition du mineur est enregistrée et conservée par les enquêteurs, consigne {i}."),
            (2, "Toute audition fait l'objet d'un procès-verbal signé par la personne, règle {i}."),
            (4, "Les gendarmes placent le mineur en garde à vue sur décision de l'officier, cas {i}."),
        ],
        "majeurs": [
            (1, "Guide de la garde à vue des majeurs"),
            (12, "La garde à vue du majeur suit le droit commun, sauf si un mineur est impliqué, {i}."),
            (10, "La personne gardée à vue peut demander un médecin et prévenir un proche, {i}."),
        ],
    }
    mineurs, majeurs = (
        [line.format(i=i) for n, line in lines[k] for i in range(n)] for k in ("mineurs", "majeurs")
    )
    return {
        "guides/mineurs.txt": "\n\n".join(mineurs) + "\n",
        "guides/majeurs.txt": "\n\n".join(majeurs) + "\n",
        "2024/note.md": "---\ntitle: Note sur la contrebande\ndate: 2024-01-02\n---\n\n"
        "Une note sans rapport, sur la douane et les cigarettes de contrebande saisies au port.\n",
    }


def web_settings(home: Path, token: str | None = None, **overrides: object) -> Settings:
    """Settings of a test app: no rate limit unless `rate_limit=` asks for one (tests/test_web_fairuse.py)."""
    env = {"ARCHIVE_RATE_LIMIT": "off"}  # a test client is not loopback: a session's requests would count
    return Settings.from_env(env, home=home, token=token, passage_min_words=5, **overrides)


def web_build_home(home: Path, documents: dict[str, str] | None = None) -> Path:
    """Write documents under home/documents and index them."""
    for name, text in (WEB_DOCUMENTS if documents is None else documents).items():
        path = home / "documents" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (home / "documents").mkdir(parents=True, exist_ok=True)
    archive = Archive(web_settings(home))
    try:
        archive.reindex()
    finally:
        archive.close()
    return home


@pytest.fixture(scope="session")
def web_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only archive home shared by the tests that only read."""
    return web_build_home(tmp_path_factory.mktemp("web-home"))


@pytest.fixture(scope="session")
def web_client(web_home: Path) -> Iterator[TestClient]:
    """A client of an app over `web_home`, without a token (writing disabled)."""
    from web.app import create_app

    with TestClient(create_app(web_settings(web_home)), raise_server_exceptions=False) as client:
        yield client


WebFactory = Callable[..., TestClient]


@pytest.fixture
def web_app_factory(tmp_path: Path) -> Iterator[WebFactory]:
    """Build a client over a fresh archive home (for tests that write): factory(token=..., documents=...)."""
    from web.app import create_app

    clients: list[TestClient] = []

    def make(
        token: str | None = "secret", documents: dict[str, str] | None = None, **options: object
    ) -> TestClient:
        home = web_build_home(tmp_path / f"home{len(clients)}", documents)
        client = TestClient(create_app(web_settings(home, token, **options)), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


# ---------------------------------------------------------------- processes, events and hangs

HANG_GUARD = 30.0
"""Seconds after which a call or a wait is taken to hang. A guard against hangs, never a speed limit: tests
assert behaviour (bounded work, the right answer, the right order of events); bench/ measures speed."""

_T = TypeVar("_T")


def restore_signals() -> None:
    """`preexec_fn` for a child that a test signals: the default action for SIGINT, SIGQUIT and SIGTERM.

    A background job of a non-interactive shell (`cmd &` in a script, `nohup`, many CI runners) starts
    with SIGINT and SIGQUIT ignored and its children inherit that: a Python child then installs no
    KeyboardInterrupt handler and a SIGINT does nothing. Trivial on purpose (it runs between fork and exec).
    """
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def wait_until(
    event: Callable[[], object], what: str, proc: subprocess.Popen[Any] | None = None, poll: float = 0.002
) -> bool:
    """Poll until `event()` holds and return True; False if `proc` ends first. Fails after HANG_GUARD s."""
    deadline = time.monotonic() + HANG_GUARD
    while not event():
        if proc is not None and proc.poll() is not None:
            return bool(event())
        if time.monotonic() > deadline:
            pytest.fail(f"waited {HANG_GUARD:g} s for {what}")
        time.sleep(poll)
    return True


def holds_data(root: Path, pattern: str) -> bool:
    """Whether a file matching `pattern` under `root` holds data (a writer may remove it while we look)."""
    try:
        for path in root.glob(pattern):
            with contextlib.suppress(FileNotFoundError):
                if path.is_file() and path.stat().st_size > 0:
                    return True
    except FileNotFoundError:
        pass
    return False


def within_guard(call: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """`call(*args, **kwargs)`, in a thread: a hang fails the test after HANG_GUARD s instead of stalling it."""
    out: list[_T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            out.append(call(*args, **kwargs))
        except BaseException as e:
            error.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG_GUARD)
    if thread.is_alive():
        pytest.fail(f"{getattr(call, '__name__', call)} did not return within {HANG_GUARD:g} s: it hangs")
    if error:
        raise error[0]
    return out[0]


# ---------------------------------------------------------------- a real `archive serve`


def free_port() -> int:
    """A loopback TCP port free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def archive_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of an `archive` child over `home`: ours without any ARCHIVE_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    env.update(ARCHIVE_HOME=str(home), PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def _answers(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=5):
            return True
    except urllib.error.HTTPError:
        return True  # answering, even with an error
    except OSError:
        return False


@contextlib.contextmanager
def serving(
    env: dict[str, str],
    log: Path,
    preexec_fn: Callable[[], None] | None = None,
    options: tuple[str, ...] = (),
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`archive serve` on a free loopback port with `env` (see `archive_env`) and `options` (`--workers`):
    (process, base URL) once it answers `/health`, terminated afterwards. Its log goes to `log`, never to
    a pipe nobody reads (a full pipe blocks the server's event loop)."""
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "serve", "--host", "127.0.0.1", "--port", str(port), *options],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).parent.parent,
            preexec_fn=preexec_fn,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        if not wait_until(lambda: _answers(base), "archive serve to answer /health", proc, poll=0.05):
            pytest.fail(f"archive serve exited with {proc.returncode}: {log.read_text('utf-8', 'replace')}")
        yield proc, base
    finally:
        proc.terminate()
        proc.wait(timeout=HANG_GUARD)

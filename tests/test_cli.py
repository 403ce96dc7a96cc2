"""The installed `archive` command, driven as a user drives it: a subprocess over a temporary home."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from archive.settings import ENVIRONMENT

from .conftest import HIT_KEYS, SMALL_ARCHIVE, write_documents

ARCHIVE = Path(sys.executable).with_name("archive")
README = Path(__file__).resolve().parent.parent / "README.md"

BODY_KEYS = {
    "query",
    "interpreted_as",
    "total",
    "documents",
    "page",
    "per_page",
    "listed",
    "pages",
    "took_ms",
    "relaxed",
    "notes",
    "hits",
    "facets",
    "suggestion",
    "next_cursor",
    "corrected",
    "corrected_query",
    "complete_total",
}
FACET_NAMES = {"agency", "offence", "year", "source", "type"}
FACET_KEYS = {"value", "label", "count", "selected"}

GOOD = (
    "---\ntitle: Saisie de cocaïne au port du Havre\ndate: 2022-09-14\nsource: Parquet du Havre\n"
    "type: communiqué\n---\n\n"
    "Les douaniers ont découvert 800 kilos de cocaïne dissimulés dans un conteneur de bananes. Le parquet "
    "a ouvert une information judiciaire pour trafic de stupéfiants en bande organisée.\n"
)


def run(home: Path | None, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed `archive` with ARCHIVE_HOME=home and no other ARCHIVE_* setting."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    environment["NO_COLOR"] = "1"
    if home is not None:
        environment["ARCHIVE_HOME"] = str(home)
    environment.update(env or {})
    return subprocess.run([str(ARCHIVE), *args], env=environment, capture_output=True, text=True, timeout=120)


def search_json(home: Path, *args: str) -> dict[str, Any]:
    result = run(home, "search", *args, "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert isinstance(body, dict)
    return body


def hits(body: dict[str, object]) -> list[dict[str, object]]:
    value = body["hits"]
    assert isinstance(value, list)
    return value


def facet(body: dict[str, object], name: str) -> dict[str, dict[str, Any]]:
    facets = body["facets"]
    assert isinstance(facets, dict)
    return {f["value"]: f for f in facets[name]}


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small archive, indexed by `archive reindex`. Read only: tests that write use `home_copy`."""
    home = tmp_path_factory.mktemp("cli")
    write_documents(home, dict(SMALL_ARCHIVE))
    result = run(home, "reindex")
    assert result.returncode == 0, result.stdout + result.stderr
    return home


@pytest.fixture
def home_copy(indexed: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(indexed, home)
    return home


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


# ---------------------------------------------------------------- add


def test_add_stores_what_it_accepts_and_names_what_it_rejects(home_copy: Path, inbox: Path) -> None:
    (inbox / "cocaine.md").write_text(GOOD, encoding="utf-8")
    (inbox / "vide.txt").write_bytes(b"")
    result = run(home_copy, "add", str(inbox / "cocaine.md"), str(inbox / "vide.txt"))
    assert result.returncode == 1
    no_traceback(result)
    lines = result.stdout.splitlines()
    assert any(line.startswith("added") and "cocaine.md" in line for line in lines), result.stdout
    rejected = [line for line in lines if line.startswith("rejected")]
    assert len(rejected) == 1 and "vide.txt" in rejected[0] and "[empty]" in rejected[0]
    assert (home_copy / "documents/cocaine.md").read_text(encoding="utf-8") == GOOD
    assert not list((home_copy / "documents").rglob("vide.txt"))
    manifest = (home_copy / "documents/manifest-sha256.txt").read_text(encoding="utf-8")
    assert "  cocaine.md\n" in manifest and "vide.txt" not in manifest
    found = search_json(home_copy, "cocaïne")
    assert {h["document"] for h in hits(found)} == {"cocaine.md"}
    assert run(home_copy, "check").returncode == 0


def test_add_to_a_folder(home_copy: Path, inbox: Path) -> None:
    (inbox / "cocaine.md").write_text(GOOD, encoding="utf-8")
    result = run(home_copy, "add", str(inbox / "cocaine.md"), "--to", "2022/septembre")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (home_copy / "documents/2022/septembre/cocaine.md").is_file()
    assert not (home_copy / "documents/cocaine.md").exists()
    assert [h["document"] for h in hits(search_json(home_copy, "cocaïne"))] == ["2022/septembre/cocaine.md"]


def test_add_cannot_escape_documents_with_to(home_copy: Path, inbox: Path) -> None:
    (inbox / "cocaine.md").write_text(GOOD, encoding="utf-8")
    run(home_copy, "add", str(inbox / "cocaine.md"), "--to", "../../dehors")
    stored = [p for p in home_copy.parent.rglob("cocaine.md") if p.parent != inbox]
    assert stored and all(p.resolve().is_relative_to((home_copy / "documents").resolve()) for p in stored)


def test_adding_the_same_file_again_is_unchanged(home_copy: Path, inbox: Path) -> None:
    (inbox / "cocaine.md").write_text(GOOD, encoding="utf-8")
    assert run(home_copy, "add", str(inbox / "cocaine.md")).returncode == 0
    manifest = (home_copy / "documents/manifest-sha256.txt").read_bytes()
    again = run(home_copy, "add", str(inbox / "cocaine.md"))
    assert again.returncode == 0
    assert re.search(r"^unchanged\s+cocaine\.md", again.stdout, re.MULTILINE), again.stdout
    assert (home_copy / "documents/manifest-sha256.txt").read_bytes() == manifest
    assert search_json(home_copy, "cocaïne")["documents"] == 1


def test_adding_a_different_file_under_a_taken_name_is_rejected(home_copy: Path, inbox: Path) -> None:
    original = (home_copy / "documents/2021/douane-cigarettes.txt").read_bytes()
    (inbox / "douane-cigarettes.txt").write_text(
        "Un tout autre texte sur des contrefaçons de montres.\n", "utf-8"
    )
    result = run(home_copy, "add", str(inbox / "douane-cigarettes.txt"), "--to", "2021")
    assert result.returncode == 1
    assert "name_taken" in result.stdout and "douane-cigarettes.txt" in result.stdout
    assert (home_copy / "documents/2021/douane-cigarettes.txt").read_bytes() == original
    assert search_json(home_copy, "montres")["total"] == 0
    assert search_json(home_copy, "cigarettes")["total"] >= 1
    assert run(home_copy, "check").returncode == 0


def test_adding_identical_content_under_another_name_is_a_duplicate(home_copy: Path, inbox: Path) -> None:
    (inbox / "copie.txt").write_bytes((home_copy / "documents/2021/douane-cigarettes.txt").read_bytes())
    result = run(home_copy, "add", str(inbox / "copie.txt"))
    assert result.returncode == 0
    assert re.search(r"^duplicate .*2021/douane-cigarettes\.txt", result.stdout, re.MULTILINE), result.stdout
    assert not (home_copy / "documents/copie.txt").exists()


def test_add_of_a_missing_path_is_a_usage_error(home_copy: Path, tmp_path: Path) -> None:
    result = run(home_copy, "add", str(tmp_path / "absent.pdf"))
    assert result.returncode == 2
    assert "absent.pdf" in result.stderr
    no_traceback(result)


# ---------------------------------------------------------------- reindex


def test_reindex_reports_each_file(tmp_path: Path) -> None:
    write_documents(tmp_path, dict(SMALL_ARCHIVE))
    first = run(tmp_path, "reindex")
    assert first.returncode == 0
    for name in SMALL_ARCHIVE:
        assert re.search(rf"^added\s+{re.escape(name)} \(\d+ passages?\)$", first.stdout, re.MULTILINE), (
            first.stdout
        )
    assert first.stdout.splitlines()[-1] == f"{len(SMALL_ARCHIVE)} added"
    second = run(tmp_path, "reindex")
    assert second.returncode == 0
    assert second.stdout.splitlines()[-1] == f"{len(SMALL_ARCHIVE)} unchanged"
    write_documents(tmp_path, {"depot/vide.md": ""})
    third = run(tmp_path, "reindex", "--full")
    assert third.returncode == 1  # some input rejected
    assert re.search(r"^rejected\s+depot/vide\.md: .*\[empty\]$", third.stdout, re.MULTILINE), third.stdout
    assert (tmp_path / "documents/depot/vide.md").exists()


def test_home_flag_wins_over_the_environment(indexed: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(ARCHIVE), "--home", str(indexed), "stats", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "ARCHIVE_HOME": str(tmp_path / "ailleurs")},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["documents"] == len(SMALL_ARCHIVE)


# ---------------------------------------------------------------- search


def test_search_json_has_exactly_the_api_keys(indexed: Path) -> None:
    body = search_json(indexed, "blanchiment")
    assert set(body) == BODY_KEYS
    assert body["query"] == "blanchiment"
    assert isinstance(body["total"], int) and body["total"] >= 1
    assert (body["page"], body["per_page"]) == (1, 10)
    found = hits(body)
    assert found
    for hit in found:
        assert set(hit) == HIT_KEYS
        assert hit["id"] == f"{hit['document']}#p{hit['position']}"
        assert isinstance(hit["agency"], list) and isinstance(hit["offence"], list)
        assert isinstance(hit["score"], int | float)
    assert "<mark>" in str(found[0]["highlight"]).lower()
    facets = body["facets"]
    assert isinstance(facets, dict) and set(facets) == FACET_NAMES
    for values in facets.values():
        assert isinstance(values, list)
        for value in values:
            assert set(value) == FACET_KEYS
            assert isinstance(value["count"], int) and isinstance(value["selected"], bool)
            assert isinstance(value["value"], str) and isinstance(value["label"], str)
    assert facet(body, "year")["2023"]["count"] >= 1


def test_empty_query_browses_everything(indexed: Path) -> None:
    body = search_json(indexed, "", "--limit", "1")
    stats = json.loads(run(indexed, "stats", "--json").stdout)
    assert body["total"] == stats["passages"] >= len(SMALL_ARCHIVE)
    assert body["documents"] == len(SMALL_ARCHIVE)
    assert len(hits(body)) == 1
    assert body["per_page"] == 1


def test_limit_and_page_walk_through_every_passage(indexed: Path) -> None:
    total = search_json(indexed, "")["total"]
    assert isinstance(total, int)
    seen = [
        h["id"]
        for page in range(1, total + 1)
        for h in hits(search_json(indexed, "", "--limit", "1", "--page", str(page)))
    ]
    assert len(seen) == len(set(seen)) == total


@pytest.mark.parametrize(
    ("options", "field", "expected"),
    [
        (["--agency", "eurojust"], "agency", "eurojust"),
        (["--offence", "proxenetisme"], "offence", "proxenetisme"),
        (["--year", "2023"], "date", "2023"),
    ],
)
def test_filters_keep_only_matching_passages(
    indexed: Path, options: list[str], field: str, expected: str
) -> None:
    everything = search_json(indexed, "")
    body = search_json(indexed, "", *options)
    assert 1 <= body["total"] < everything["total"]
    for hit in hits(body):
        value = hit[field]
        assert expected in value if isinstance(value, list) else str(value).startswith(expected), hit
    facet_name = options[0].removeprefix("--")
    assert facet(body, facet_name)[expected]["selected"] is True
    # multi-select: the filtered facet still counts the other values
    assert sum(1 for f in facet(body, facet_name).values() if f["count"]) >= 2


def test_values_of_one_filter_are_ored(indexed: Path) -> None:
    one = search_json(indexed, "", "--year", "2023")["total"]
    other = search_json(indexed, "", "--year", "2024")["total"]
    both = search_json(indexed, "", "--year", "2023", "--year", "2024")["total"]
    assert both == one + other
    assert search_json(indexed, "", "--year", "2024", "--agency", "eurojust")["total"] == 0


def test_unknown_filter_value_finds_nothing(indexed: Path) -> None:
    body = search_json(indexed, "", "--agency", "brigade-imaginaire")
    assert body["total"] == 0 and hits(body) == []


def test_search_human_output(indexed: Path) -> None:
    result = run(indexed, "search", "cigarettes")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert re.match(r"^\d+ passages in 1 documents \(\d+ ms\) — understood as: ", lines[0]), lines[0]
    assert any(line.startswith("2021/douane-cigarettes.txt#p1  [") for line in lines), result.stdout
    assert "Saisie record de cigarettes au Havre (undated" in result.stdout
    assert "[cigarettes]" in result.stdout  # matched words bracketed when not on a terminal
    assert "<mark>" not in result.stdout and "\x1b[" not in result.stdout


CORRECTED = re.compile(
    r"^  corrected: '(.+)' matches no passage; searched '(.+)' instead "
    r"\(--no-correct searches exactly what was typed\)$",
    re.M,
)


def test_a_corrected_query_says_it_searched_the_correction(indexed: Path) -> None:
    """It printed only `understood as: blanchiment`, as if `blanchimant` had been searched."""
    corrected = run(indexed, "search", "blanchimant")
    assert corrected.returncode == 0
    assert [m.groups() for m in CORRECTED.finditer(corrected.stdout)] == [("blanchimant", "blanchiment")]
    assert not corrected.stdout.startswith("0 passages")
    verbatim = run(indexed, "search", "blanchimant", "--no-correct")
    assert verbatim.stdout.startswith("0 passages in 0 documents") and "corrected:" not in verbatim.stdout
    assert "  did you mean: blanchiment" in verbatim.stdout.splitlines()
    example = README.read_text(encoding="utf-8")  # the README's worked example prints the same lines
    assert [m.groups() for m in CORRECTED.finditer(example)] == [("blanchimant", "blanchiment")]
    assert "$ archive search 'blanchimant' --no-correct\n0 passages in 0 documents" in example


def test_a_loosened_query_counts_the_passages_holding_every_word_apart(indexed: Path) -> None:
    body = search_json(indexed, "enquête cigarettes")
    assert body["relaxed"] and body["complete_total"] == 1 < body["total"]
    first = run(indexed, "search", "enquête cigarettes").stdout.splitlines()[0]
    assert first.startswith(
        f"1 passages hold every word; {body['total']} passages in {body['documents']} documents hold the "
        "essential of it ("
    ), first


def test_search_with_no_match(indexed: Path) -> None:
    result = run(indexed, "search", "xylophone")
    assert result.returncode == 0
    assert result.stdout.startswith("0 passages in 0 documents")


@pytest.mark.parametrize("query", ['"guillemet', "((", "NOT", "*", "title:", "a" * 5000, "\x01\x02"])
def test_hostile_queries_do_not_crash_the_command(indexed: Path, query: str) -> None:
    result = run(indexed, "search", query, "--json")
    assert result.returncode == 0, result.stderr
    no_traceback(result)
    assert set(json.loads(result.stdout)) == BODY_KEYS


# ---------------------------------------------------------------- remove


def test_remove_deletes_the_document_everywhere(home_copy: Path) -> None:
    (home_copy / "documents/2021/douane-cigarettes.txt.meta.toml").write_text(
        'title = "x"\n', encoding="utf-8"
    )
    assert run(home_copy, "reindex").returncode == 0
    result = run(home_copy, "remove", "2021/douane-cigarettes.txt")
    assert result.returncode == 0
    assert result.stdout.startswith("removed")
    assert not (home_copy / "documents/2021/douane-cigarettes.txt").exists()
    assert not (home_copy / "documents/2021/douane-cigarettes.txt.meta.toml").exists()
    assert "douane-cigarettes" not in (home_copy / "documents/manifest-sha256.txt").read_text(
        encoding="utf-8"
    )
    assert search_json(home_copy, "cigarettes")["total"] == 0
    assert run(home_copy, "check").returncode == 0


@pytest.mark.parametrize(
    "document_id", ["2021/absent.txt", "../conftest.py", "manifest-sha256.txt", "/etc/hosts"]
)
def test_remove_of_an_unknown_id_exits_1_and_touches_nothing(home_copy: Path, document_id: str) -> None:
    before = sorted(p.relative_to(home_copy).as_posix() for p in home_copy.rglob("*") if p.is_file())
    result = run(home_copy, "remove", document_id)
    assert result.returncode == 1
    assert document_id in result.stderr
    no_traceback(result)
    after = sorted(p.relative_to(home_copy).as_posix() for p in home_copy.rglob("*") if p.is_file())
    assert after == before


# ---------------------------------------------------------------- check


def test_check_is_clean_on_an_intact_archive(indexed: Path) -> None:
    result = run(indexed, "check")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        f"extraction cache: {len(SMALL_ARCHIVE)} entries, 0.0 MB in index/extracted/",
        "all good",
    ]


@pytest.mark.parametrize(
    ("damage", "path", "word"),
    [
        ("alter", "2021/douane-cigarettes.txt", "altered"),
        ("delete", "2024/proxenetisme.html", "missing"),
        ("extra", "2022/inconnu.txt", "not in the fixity manifest"),
        ("edit-manifest", "2023/eurojust-blanchiment.md", "differs"),
    ],
)
def test_check_exits_1_and_names_the_problem(home_copy: Path, damage: str, path: str, word: str) -> None:
    target = home_copy / "documents" / path
    if damage == "alter":
        target.write_bytes(target.read_bytes() + b"\nUne phrase ajoutee.\n")
    elif damage == "delete":
        target.unlink()
    elif damage == "extra":
        write_documents(home_copy, {path: "Un fichier déposé sans passer par reindex.\n"})
    else:  # the manifest itself is edited
        manifest = home_copy / "documents/manifest-sha256.txt"
        lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True)
        manifest.write_text(
            "".join("0" * 64 + line[64:] if line.endswith(f"  {path}\n") else line for line in lines),
            encoding="utf-8",
        )
    result = run(home_copy, "check")
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("error")]
    assert any(path in line and word in line for line in errors), result.stdout
    assert re.search(r"^\d+ error\(s\), \d+ warning\(s\)$", result.stdout, re.MULTILINE)


def test_check_warns_but_passes_on_an_unindexable_dropped_file(home_copy: Path) -> None:
    write_documents(home_copy, {"depot/vide.txt": ""})
    assert run(home_copy, "reindex").returncode == 1
    result = run(home_copy, "check")
    assert result.returncode == 0
    assert re.search(r"^warning\s+depot/vide\.txt: .*\[empty\]$", result.stdout, re.MULTILINE), result.stdout


# ---------------------------------------------------------------- stats


def test_stats(indexed: Path) -> None:
    human = run(indexed, "stats")
    assert human.returncode == 0
    assert human.stdout.startswith(f"{len(SMALL_ARCHIVE)} documents, ")
    for name in FACET_NAMES:
        assert re.search(rf"^  {name}: ", human.stdout, re.MULTILINE)
    result = run(indexed, "stats", "--json")
    assert result.returncode == 0
    stats = json.loads(result.stdout)
    assert stats["status"] == "ok" and stats["degraded"] is None
    assert set(stats) == {
        "status",
        "degraded",
        "documents",
        "passages",
        "built_at",
        "schema_version",
        "index_bytes",
        "generation",
        "facets",
    }
    assert stats["documents"] == len(SMALL_ARCHIVE)
    assert stats["passages"] >= len(SMALL_ARCHIVE)
    assert stats["index_bytes"] > 0
    assert (indexed / "index" / stats["generation"]).is_dir()
    assert set(stats["facets"]) == FACET_NAMES
    years = {f["value"]: f["count"] for f in stats["facets"]["year"]}
    # the .txt has no date (its folder name is not one): counted under « Non daté », a value of its own
    assert set(years) == {"2023", "2024", "sans-date"} and years["sans-date"] >= 1
    facet_keys = {"value", "label", "count", "selected"}  # one FacetValue shape, as /search's (none selected)
    assert all(set(f) == facet_keys and not f["selected"] for fs in stats["facets"].values() for f in fs)


# ---------------------------------------------------------------- usage errors and help


@pytest.mark.parametrize(
    "argv",
    [
        ["search", "x", "--limit", "0"],
        ["search", "x", "--limit", "1000"],
        ["search", "x", "--limit", "dix"],
        ["search", "x", "--page", "0"],
        ["search", "x", "--sort", "hasard"],
        ["search", "x", "--year", "20x9"],
        ["search", "x", "--from", "27/06/2024"],
        ["search", "x", "--from", "2024-06-30", "--to", "2024-06-01"],
        ["search"],
        ["frobnicate"],
        [],
        ["add"],
        ["remove"],
        ["reindex", "--fulll"],
        ["reindex", "--workers", "0"],
        ["reindex", "--workers", "deux"],
        ["add", ".", "--workers", "-1"],
    ],
)
def test_usage_errors_exit_2(indexed: Path, argv: list[str]) -> None:
    result = run(indexed, *argv)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.strip()
    no_traceback(result)


@pytest.mark.parametrize("variable", ["ARCHIVE_MAX_FILE_MB", "ARCHIVE_PASSAGE_MIN_WORDS"])
def test_bad_environment_values_are_usage_errors(indexed: Path, variable: str) -> None:
    result = run(indexed, "stats", env={variable: "beaucoup"})
    assert result.returncode == 2
    assert variable in result.stderr
    no_traceback(result)


@pytest.mark.parametrize(
    ("argv", "raw"), [(["reindex"], "0"), (["reindex", "--full"], "beaucoup"), (["add", "."], "-4")]
)
def test_a_bad_number_of_ingest_workers_is_a_usage_error(indexed: Path, argv: list[str], raw: str) -> None:
    result = run(indexed, *argv, env={"ARCHIVE_INGEST_WORKERS": raw})
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "ARCHIVE_INGEST_WORKERS" in result.stderr and repr(raw) in result.stderr
    no_traceback(result)


def test_the_workers_flag_overrides_the_setting_for_one_command(home_copy: Path) -> None:
    """`--workers 1` (the pipeline in the writing process) and `--workers 2` (a pool of two) over a
    setting saying the other: the same index, searched the same."""
    one = run(home_copy, "reindex", "--full", "--workers", "1", env={"ARCHIVE_INGEST_WORKERS": "2"})
    assert one.returncode == 0, one.stderr
    first = [search_json(home_copy, q) for q in ("blanchiment", "", "douane OR proxénétisme")]
    two = run(home_copy, "reindex", "--full", "--workers", "2", env={"ARCHIVE_INGEST_WORKERS": "1"})
    assert two.returncode == 0, two.stderr
    again = [search_json(home_copy, q) for q in ("blanchiment", "", "douane OR proxénétisme")]
    assert [(b["hits"], b["facets"]) for b in again] == [(b["hits"], b["facets"]) for b in first]


@functools.cache
def commands() -> tuple[str, ...]:
    """The commands that `archive --help` lists."""
    result = run(None, "--help")
    assert result.returncode == 0
    block = result.stdout.split("COMMAND\n", 1)[1].split("\n\n", 1)[0]
    return tuple(re.findall(r"^ {4}(\w[\w-]*)\s", block, re.MULTILINE))


def test_help_lists_the_commands() -> None:
    assert {"add", "reindex", "search", "remove", "check", "stats"} <= set(commands())


@pytest.mark.parametrize("command", ["add", "reindex", "search", "remove", "check", "stats", "serve"])
def test_every_command_help_has_an_example(command: str) -> None:
    assert command in commands()
    result = run(None, command, "--help")
    assert result.returncode == 0
    assert re.search(rf"^\s*archive {command}( |$)", result.stdout, re.MULTILINE), result.stdout


def test_top_level_help_documents_the_environment() -> None:
    result = run(None, "--help")
    for name in ENVIRONMENT:
        assert name in result.stdout


def test_readme_documents_every_setting_and_command() -> None:
    readme = README.read_text(encoding="utf-8")
    missing = [name for name in ENVIRONMENT if name not in readme]
    missing += [f"archive {command}" for command in commands() if f"archive {command}" not in readme]
    assert missing == []


@pytest.mark.parametrize(
    "argv", [["search", "", "--limit", "100"], ["search", "", "--json"], ["stats", "--json"]]
)
def test_output_piped_into_a_closed_reader_does_not_crash(indexed: Path, argv: list[str]) -> None:
    # `archive search '' | head -1`: the reader goes away; the command must not die with a traceback.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    environment["ARCHIVE_HOME"] = str(indexed)
    proc = subprocess.Popen(
        [str(ARCHIVE), *argv], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    stderr = proc.stderr.read().decode("utf-8", "replace")
    proc.stderr.close()
    proc.wait(timeout=60)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr


def test_reindex_refuses_altered_or_missing_originals_unless_accepted(home_copy: Path) -> None:
    (home_copy / "documents" / "2021" / "douane-cigarettes.txt").write_text(
        "Texte réécrit : pangolins.\n", "utf-8"
    )
    (home_copy / "documents" / "2024" / "proxenetisme.html").unlink()
    refused = run(home_copy, "reindex")
    assert refused.returncode == 1
    message = refused.stdout + refused.stderr
    assert "2021/douane-cigarettes.txt" in message and "2024/proxenetisme.html" in message
    assert "--accept-changes" in message
    assert json.loads(run(home_copy, "search", "pangolins", "--json").stdout)["total"] == 0
    accepted = run(home_copy, "reindex", "--accept-changes")
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(run(home_copy, "search", "pangolins", "--json").stdout)["total"] == 1
    assert run(home_copy, "check").returncode == 0

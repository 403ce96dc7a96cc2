"""The French lexicon behind `analysis.key`: what a dictionary knows and inflection rules cannot.

Rules on letters (`inflection.stem`) miss irregular forms (`condamnait`, `saisit`, `prévu`, `commis`) and
merge a noun with a verb whose stem it spells (`manière`/`manier`, `port`/`porter`, `recel`/`receler`).
simplemma's French dictionary (form -> lemma, 249,548 forms) tells them apart. From it we derive, once,
a table: folded word -> key, for the words whose key differs from the rules' stem; every other word
keeps the rules' stem, so a word the dictionary does not know is analysed as before.

How a folded word gets its key (`derive`):

- A *verb* is a lemma with ten forms or more ending in -er, -ir or -re (verbs have about forty forms,
  nouns and adjectives four at most); its key is the rules' stem of its infinitive.
- A lemma is read as the lemma the dictionary gives its own spelling, unless that is a verb
  (`nouvelle` -> `nouveau`). It joins a verb when it is spelled as the verb's regular past participle
  (`condamné`, `saisie`, `prévenu`), when its feminine and feminine plural are forms of the verb and not
  its present (`commis`/`commise`; not `part`/`parte`), or when it is a present participle listed
  without forms of its own (`exerçant`); a lemma in -ant with forms of its own is an adjective or a noun
  (`important`, `commençant`).
- A noun or adjective whose stem is a verb's is *protected*: keyed by its own folded spelling
  (`manière` -> `maniere`), with a final `_` when that spelling is some other word's key (`port_`).
- The key depends on the folded word only (the vocabulary, prefixes, fuzzy terms and suggestions work
  on folded words, and an unaccented query must find the accented word): when the words that fold alike
  would get different keys (`arme`/`armé`, `peine`/`peiné`, a noun the dictionary reads as a verb form:
  `applique`, `part`), they get the rules' stem, and a noun with one of its forms in such a class (or a
  feminine read as a verb: `actif`/`active`) is not protected, so that no paradigm is split.
- A verb form whose feminine is read as another verb (`mis`/`mise`, read as `miser`) shares the
  feminine's stem with it. A verb whose infinitive is also a noun (`pouvoir`/`pouvoirs`, `devoir`,
  `porter`) keeps the rules' stems for its forms, or the noun's plural would find every form of the verb;
  so does a form whose lemma starts with another letter (`ii` -> `deux`, `yeux` -> `œil`, `va` -> `aller`).

The table is derived on first use (4 s; the dictionary alone takes 0.5 s and 200 MB to load) and cached
(`cache_dir`, the four newest versions kept) with the dictionary's folded words, which spelling leaves
alone (`known`); loading it takes 40 ms and 20 MB. `digest()` is recorded in each index: an index built
with another table is rebuilt by the next reindex (`indexer.needs_full_rebuild`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import os
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

from . import inflection

MARKER = "_"
"""Ends a protected word's key when its folded spelling is some other word's key (`port_`)."""

VERB_FORMS = 10
"""Forms a lemma needs to count as a verb (the dictionary's verbs have about forty; nouns four)."""

_FORMAT, _KEPT = 2, 4  # of the cache file; the tables kept in the cache folder (the newest written)
_WORDS = b"\n\x00"  # in the cache file, between the table's lines and the dictionary's words
_JOINERS = re.compile(r"['’\-.]")  # as `analysis.key` drops them
_PARTICIPLES = (  # regular past participles, accented as written -> the infinitive's ending (folded)
    ("ées", "er"), ("ée", "er"), ("és", "er"), ("é", "er"),
    ("ies", "ir"), ("ie", "ir"), ("is", "ir"), ("i", "ir"),
    ("ues", "re"), ("ue", "re"), ("us", "re"), ("u", "re"),
    ("ues", "ir"), ("ue", "ir"), ("us", "ir"), ("u", "ir"), ("ue", "oir"), ("u", "oir"),
)  # fmt: skip
_PRESENT = (("eant", "er"), ("ant", "er"), ("ant", "ir"))  # folded: jugeant -> juger
_FEMININES = (  # masculine ending -> feminine endings, for adjectives the dictionary also reads as verbs
    ("if", ("ive", "ives")), ("eux", ("euse", "euses")), ("eur", ("euse", "euses", "rice", "rices")),
    ("el", ("elle", "elles")), ("en", ("enne", "ennes")), ("et", ("ette", "ettes", "ète", "ètes")),
    ("er", ("ère", "ères")), ("c", ("que", "ques")), ("ct", ("cte", "ctes")),
)  # fmt: skip


class Table(NamedTuple):
    """The derived table and the digest of its content, with the dictionary's words."""

    keys: dict[str, str]  # folded word -> key, where it differs from `inflection.stem`
    digest: str
    words: str  # every folded form and lemma of the dictionary, sorted, one per line between newlines


_loaded: Table | None = None


def table() -> Table:
    """The table, loaded (or built) on first use in this process."""
    global _loaded
    if _loaded is None:
        _loaded = load(cache_dir())
    return _loaded


def keys() -> Mapping[str, str]:
    """Folded word -> key, for the words whose key is not `inflection.stem`'s."""
    return table().keys


def known(folded: str) -> bool:
    """Whether the dictionary knows this folded word (a form or a lemma): such a word is French, not a
    typo to correct, even where no document holds it (`casier` is not `cahier`)."""
    return "\n" not in folded and f"\n{folded}\n" in table().words


def digest() -> str:
    """What an index records of the lexicon that built it: a digest of the table's content."""
    return table().digest


# ---- the cache --------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """Where the table is cached: `$XDG_CACHE_HOME/archive`, else `~/.cache/archive`."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "archive"


def cache_name() -> str:
    """The cache file's name: simplemma's version and a digest of the code that derives the table."""
    code = hashlib.sha256()
    for source in (inflection.__file__, __file__):
        code.update(Path(str(source)).read_bytes())
    return f"lexicon-fr-simplemma{_simplemma_version()}-{code.hexdigest()[:16]}.txt"


def _simplemma_version() -> str:
    """simplemma's version, from its dist-info directory (`importlib.metadata` costs 80 ms to import)."""
    spec = importlib.util.find_spec("simplemma")
    if spec is not None and spec.origin is not None:
        for info in Path(spec.origin).parent.parent.glob("simplemma-*.dist-info"):
            return info.name.removeprefix("simplemma-").removesuffix(".dist-info")
    from importlib import metadata

    return str(metadata.version("simplemma"))


def load(directory: Path) -> Table:
    """The table cached in `directory`; derived and cached first if missing or unreadable (one process
    derives it while the others wait for it); derived in memory if the directory cannot be written."""
    path = directory / cache_name()
    found = _read(path)
    if found is not None:
        return found
    try:
        directory.mkdir(parents=True, exist_ok=True)
        lock = os.open(directory / ".lexicon.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return _derived()
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _read(path)  # another process may have written it meanwhile
        if found is None:
            found = _derived()
            with contextlib.suppress(OSError):
                _write(path, found)
        return found
    finally:
        os.close(lock)  # releases the flock


def _derived() -> Table:
    """The table derived from the dictionary, with the dictionary's folded words."""
    derived = derive(forms := dictionary())
    words = sorted({inflection.fold(w) for pair in forms.items() for w in pair})
    return Table(derived, _digest(_body(derived)), "\n" + "\n".join(words) + "\n")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _body(derived: Mapping[str, str]) -> bytes:
    """The table as text: one line per key, `key<TAB>word word...`, sorted (so its digest is stable)."""
    words: dict[str, list[str]] = defaultdict(list)
    for word, k in derived.items():
        words[k].append(word)
    return "\n".join(f"{k}\t{' '.join(sorted(ws))}" for k, ws in sorted(words.items())).encode()


def _read(path: Path) -> Table | None:
    """The table in `path` if whole (its first line holds the digests of the table and of the words)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head, _, rest = data.partition(b"\n")
    body, _, words = rest.partition(_WORDS)
    if head != f"{_FORMAT} {_digest(body)} {_digest(words)}".encode():
        return None
    derived: dict[str, str] = {}
    for line in body.decode().split("\n"):  # 30 ms for 90,000 words: one key object per line
        k, _, keyed = line.partition("\t")
        derived.update(dict.fromkeys(keyed.split(" "), k))
    return Table(derived, head.decode().split(" ")[1], words.decode())


def _write(path: Path, found: Table) -> None:
    """Write the table atomically (a reader sees the old file or the new one), then drop older tables."""
    import tempfile  # only when writing: 10 ms to import

    fd, tmp = tempfile.mkstemp(prefix=".lexicon-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            words = found.words.encode()
            head = f"{_FORMAT} {found.digest} {_digest(words)}\n".encode()
            f.write(head + _body(found.keys) + _WORDS + words)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _prune(path)


def _prune(path: Path) -> None:
    """Keep the `_KEPT` newest tables: versions sharing a cache folder (two environments, a benchmark of
    older commits) would otherwise delete each other's, each deriving its own again at every start."""
    newest_first = sorted(path.parent.glob("lexicon-fr-*.txt"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in newest_first[_KEPT:]:  # (a table another process removes meanwhile: OSError, ignored by load)
        if old != path:
            with contextlib.suppress(OSError):
                old.unlink()


# ---- the derivation ---------------------------------------------------------------------------------


def dictionary() -> dict[str, str]:
    """simplemma's French dictionary, form -> lemma, both lowercase with joiners removed as `key` does."""
    from simplemma.strategies.dictionaries import DefaultDictionaryFactory  # 0.5 s, 200 MB: only here

    raw = DefaultDictionaryFactory().get_dictionary("fr")
    out: dict[str, str] = {}
    for form, lemma in sorted(raw.items(), key=lambda item: item[0] != item[0].lower()):
        word = _normal(form)
        if word.isalpha():
            out.setdefault(word, _normal(lemma))  # a lowercase entry wins over a capitalised one
    return out


def _normal(word: str) -> str:
    return _JOINERS.sub("", unicodedata.normalize("NFC", word.casefold()))


def derive(forms: Mapping[str, str]) -> dict[str, str]:
    """Folded word -> key, for the words of `forms` (form -> lemma) whose key differs from the rules'."""
    return _Derivation(forms).table()


class _Derivation:
    """The steps of `derive` (module docstring), over one dictionary."""

    def __init__(self, forms: Mapping[str, str]) -> None:
        fold = inflection.fold
        self.forms = {f: lemma for f, lemma in forms.items() if fold(f)[:1] == fold(lemma)[:1]}
        self.count = Counter(forms.values())
        self.lemmas = set(forms.values())
        self.verbs = {
            lemma
            for lemma, n in self.count.items()
            if n >= VERB_FORMS and fold(lemma).endswith(("er", "ir", "re"))
        }
        self.folded_verbs = {fold(v): v for v in self.verbs}
        self.nouns_too = {v for v in self.verbs if forms.get(v + "s") == v}  # le pouvoir, les pouvoirs
        self._stems: dict[str, str] = {}
        self._lexemes: dict[str, str] = {}
        self.stems = {self.rules(v) for v in self.verbs}

    def rules(self, word: str) -> str:
        """The rules' stem of a word (memoized: the derivation asks for each several times)."""
        found = self._stems.get(word)
        if found is None:
            found = self._stems[word] = inflection.stem(word)
        return found

    def reading(self, lemma: str) -> str:
        """Follow the dictionary's reading of a lemma's own spelling, up to a verb (excluded)."""
        seen = {lemma}
        while lemma not in self.verbs:
            other = self.forms.get(lemma, lemma)
            if other in seen or other in self.verbs:
                break
            seen.add(other)
            lemma = other
        return lemma

    def lexeme(self, lemma: str) -> str:
        """The verb a lemma belongs to, or the lemma itself (as read by `reading`)."""
        found = self._lexemes.get(lemma)
        if found is None:
            found = self._lexemes[lemma] = self._lexeme(self.reading(lemma))
        return found

    def _lexeme(self, lemma: str) -> str:
        if lemma in self.verbs:
            return lemma
        verb = self._participle(lemma, _PARTICIPLES)
        if verb is None and self.count[lemma] <= 1:
            verb = self._participle(inflection.fold(lemma), _PRESENT)
        if verb is None and lemma[-1:] in ("s", "t", "u"):
            feminine = self.forms.get(lemma + "e")
            if (
                feminine in self.verbs
                and self.forms.get(lemma + "es") == feminine
                and self.forms.get(lemma + "ent") != feminine
            ):
                verb = feminine
        return verb or lemma

    def _participle(self, lemma: str, endings: Iterable[tuple[str, str]]) -> str | None:
        """The verb whose regular participle `lemma` is spelled as, if the dictionary has it."""
        for ending, infinitive in endings:
            if lemma.endswith(ending) and len(lemma) > len(ending) + 2:
                verb = self.folded_verbs.get(inflection.fold(lemma[: -len(ending)]) + infinitive)
                if verb is not None:
                    return verb
        return None

    def readings(self) -> dict[str, set[str]]:
        """Folded word -> the lexemes of the words that fold to it (every lemma reads its own spelling)."""
        fold = inflection.fold
        found: dict[str, set[str]] = defaultdict(set)
        for form, lemma in self.forms.items():
            found[fold(form)].add(self.lexeme(lemma))
        for lemma in self.lemmas:
            found[fold(lemma)].add(self.lexeme(lemma))
        return found

    def table(self) -> dict[str, str]:
        """The derivation's result (see `derive`)."""
        fold = inflection.fold
        readings = self.readings()
        own = {f: {fold(x) for x in xs} for f, xs in self._own_forms().items()}
        protected = self._protected(readings, own)
        keys = {}
        for word, lexemes in readings.items():
            found = {self._key(lexeme, word, protected) for lexeme in lexemes}
            keys[word] = found.pop() if len(found) == 1 else self.rules(word)
        keys.update(self._feminines())
        taken = {self.rules(word) for word in readings} | self.stems
        out = {}
        for word, k in keys.items():
            if k.endswith("\0"):
                k = k[:-1] + (MARKER if k[:-1] in taken else "")
            if k != self.rules(word):
                out[word] = k
        return out

    def _feminines(self) -> dict[str, str]:
        """A verb's form whose feminine spelling is read as another verb (`mis`/`mise`, read as `miser`;
        `pris`/`prise`): both readings stand, so the form and its feminines share the feminine's stem."""
        fold = inflection.fold
        out = {}
        for form, lemma in self.forms.items():
            verb = self.lexeme(lemma)
            if verb not in self.verbs or not form.endswith("e"):
                continue
            other = self.lexeme(self.forms.get(form[:-1], verb))
            if other in self.verbs and other != verb:
                out[fold(form)] = out[fold(form[:-1])] = out[fold(form + "s")] = self.rules(form)
        return out

    def _key(self, lexeme: str, word: str, protected: set[str]) -> str:
        """A word's key from its lexeme (`\\0` ends a protected key, to be marked or not)."""
        if lexeme in self.nouns_too:
            return self.rules(word)
        if lexeme in protected:
            return inflection.fold(lexeme) + "\0"
        return self.rules(lexeme)

    def _own_forms(self) -> dict[str, set[str]]:
        """Each lexeme's forms: those the dictionary gives it, its own spelling, and the feminines of a
        non-verb that the dictionary reads as verb forms (`actif`: `active`, read as `activer`)."""
        own: dict[str, set[str]] = defaultdict(set)
        for form, lemma in self.forms.items():
            own[self.lexeme(lemma)].add(form)
        for lemma in self.lemmas:
            lexeme = self.lexeme(lemma)
            own[lexeme].add(lemma)
            for masculine, feminines in _FEMININES:
                if lexeme == lemma and lemma.endswith(masculine) and lemma not in self.verbs:
                    stem = lemma[: len(lemma) - len(masculine)]
                    own[lexeme].update(
                        stem + f
                        for f in feminines
                        if stem + f in self.forms and self.lexeme(self.forms[stem + f]) in self.verbs
                    )
        return own

    def _protected(self, readings: dict[str, set[str]], own: dict[str, set[str]]) -> set[str]:
        """The non-verbs whose stem is a verb's and whose forms all read as them alone, until stable."""
        protected = {
            lexeme for lexeme in own if lexeme not in self.verbs and self.rules(lexeme) in self.stems
        }
        while True:
            lost = {
                lexeme
                for lexeme in protected
                if any(
                    len({self._key(x, f, protected) for x in readings.get(f, set()) | {lexeme}}) > 1
                    for f in own[lexeme]
                )
            }
            if not lost:
                return protected
            protected -= lost

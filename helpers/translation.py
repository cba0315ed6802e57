"""The Vietnamese edition: generated from the English notebooks through gettext catalogs.

English stays the single source. Each notebook has a catalog,
`locale/vi/LC_MESSAGES/<notebook>.po`, with one entry per markdown cell: `msgctxt` is
the cell id and `msgid` the English text, so translators can use Poedit or Weblate.
When an English cell changes, its entry turns fuzzy (the old English kept as
`#| msgid`) instead of going silently stale; a cell that is gone turns obsolete.

    python -m helpers.translation update   # English notebooks -> catalogs (new, fuzzy, obsolete)
    python -m helpers.translation build    # catalogs -> notebooks/vi/, assignments/release/vi/
    python -m helpers.translation check    # exit 1 if anything is missing, fuzzy or out of date

Code cells are copied byte for byte: only prose is translated. A cell without a
finished translation stays in English in the generated notebook and is counted.
"""

from __future__ import annotations

import argparse
import ast
import copy
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import polib

from helpers import quiz  # its questions are data, translated where they are shown

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "locale"
LANG = "vi"
# English folder -> where its Vietnamese edition goes.
EDITIONS = {
    ROOT / "notebooks": ROOT / "notebooks" / LANG,
    ROOT / "assignments" / "release": ROOT / "assignments" / "release" / LANG,
}
HEADER = {
    "Project-Id-Version": "redis-rpc-course",
    "Language": LANG,
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=UTF-8",
    "Content-Transfer-Encoding": "8bit",
    "Plural-Forms": "nplurals=1; plural=0;",
}


@dataclass
class Tally:
    """How far one notebook's translation is."""

    notebook: str
    cells: int = 0
    words: int = 0
    untranslated: int = 0
    fuzzy: int = 0

    @property
    def done(self) -> bool:
        return self.untranslated == 0 and self.fuzzy == 0


def sources() -> list[tuple[Path, Path]]:
    """(English notebook, its Vietnamese path) for every notebook of the course."""
    pairs = []
    for english_dir, vi_dir in EDITIONS.items():
        for path in sorted(english_dir.glob("*.ipynb")):
            pairs.append((path, vi_dir / path.name))
    return pairs


def catalog_path(notebook: Path, lang: str = LANG) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{notebook.stem}.po"


def _prose(notebook) -> list:
    return [cell for cell in notebook.cells if cell.cell_type == "markdown" and cell.source.strip()]


def load_catalog(path: Path) -> polib.POFile:
    """The catalog at `path`, or an empty one with the course's header."""
    if path.exists():
        return polib.pofile(str(path), wrapwidth=0)
    catalog = polib.POFile(wrapwidth=0)
    catalog.metadata = dict(HEADER)
    return catalog


def update_catalog(notebook, catalog: polib.POFile, where: str) -> polib.POFile:
    """Bring `catalog` in line with the notebook's markdown cells; return it."""
    by_id = {entry.msgctxt: entry for entry in catalog if not entry.obsolete}
    kept = []
    for cell in _prose(notebook):
        entry = by_id.pop(cell.id, None)
        if entry is None:
            entry = polib.POEntry(msgctxt=cell.id, msgid=cell.source, msgstr="")
        elif entry.msgid != cell.source:
            entry.previous_msgid = entry.msgid
            entry.msgid = cell.source
            if entry.msgstr and "fuzzy" not in entry.flags:
                entry.flags.append("fuzzy")
        entry.occurrences = [(where, "")]
        kept.append(entry)
    for entry in by_id.values():
        entry.obsolete = True
    old = [entry for entry in catalog if entry.obsolete]
    catalog[:] = kept + old
    return catalog


def translated(entry: polib.POEntry | None) -> str | None:
    """The finished translation, or None when missing or fuzzy."""
    if entry is None or not entry.msgstr or "fuzzy" in entry.flags or entry.obsolete:
        return None
    return entry.msgstr


def build_notebook(notebook, catalog: polib.POFile, name: str) -> tuple[object, Tally]:
    """The Vietnamese notebook: markdown from the catalog, everything else unchanged."""
    entries = {entry.msgctxt: entry for entry in catalog if not entry.obsolete}
    result = copy.deepcopy(notebook)
    result.metadata["language"] = LANG
    tally = Tally(name)
    for cell in _prose(result):
        tally.cells += 1
        tally.words += len(cell.source.split())
        entry = entries.get(cell.id)
        text = translated(entry) if entry and entry.msgid == cell.source else None
        if text is None:
            if entry is not None and entry.msgstr:
                tally.fuzzy += 1
            else:
                tally.untranslated += 1
            continue
        cell.source = text
    return result, tally


def _text(notebook) -> str:
    return nbformat.writes(notebook) + "\n"


def helper_strings() -> dict[str, list[tuple[str, str]]]:
    """Every `_("...")` and `N_("...")` in helpers/, with where: what learners read from helpers."""
    found: dict[str, list[tuple[str, str]]] = {}
    for path in sorted((ROOT / "helpers").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("_", "N_")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                where = (path.relative_to(ROOT).as_posix(), str(node.lineno))
                found.setdefault(node.args[0].value, []).append(where)
    for text in quiz.texts():
        found.setdefault(text, []).append(("helpers/quiz.py", "QUESTIONS"))
    return found


def update_helper_catalog(catalog: polib.POFile) -> polib.POFile:
    """Bring the helpers' catalog in line with the `_()` strings in the code."""
    strings = helper_strings()
    by_id = {entry.msgid: entry for entry in catalog if not entry.obsolete}
    kept = []
    for text, where in strings.items():
        entry = by_id.pop(text, None) or polib.POEntry(msgid=text, msgstr="")
        entry.occurrences = where
        kept.append(entry)
    for entry in by_id.values():
        entry.obsolete = True
    catalog[:] = kept + [entry for entry in catalog if entry.obsolete]
    return catalog


def helper_tally(lang: str = LANG) -> Tally:
    catalog = load_catalog(LOCALE / lang / "LC_MESSAGES" / "helpers.po")
    tally = Tally("helpers (printed by the pack)")
    for entry in catalog:
        if entry.obsolete:
            continue
        tally.cells += 1
        tally.words += len(entry.msgid.split())
        if "fuzzy" in entry.flags:
            tally.fuzzy += 1
        elif not entry.msgstr:
            tally.untranslated += 1
    return tally


def update(only: list[str] | None = None, lang: str = LANG) -> None:
    """English notebooks and helpers -> catalogs: new entries empty, changed ones fuzzy.

    `only` limits it to catalogs by name ("helpers", "03_json_rpc"), so a translator's
    open file is left alone.
    """
    helpers_po = LOCALE / lang / "LC_MESSAGES" / "helpers.po"
    helpers_po.parent.mkdir(parents=True, exist_ok=True)
    if not only or "helpers" in only:
        update_helper_catalog(load_catalog(helpers_po)).save(str(helpers_po))
    for english, _ in sources():
        if only and english.stem not in only:
            continue
        path = catalog_path(english, lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        notebook = nbformat.read(english, as_version=4)
        where = str(english.relative_to(ROOT))
        catalog = update_catalog(notebook, load_catalog(path), where)
        catalog.save(str(path))


def build(write: bool = True) -> tuple[list[Tally], list[Path]]:
    """Catalogs -> Vietnamese notebooks. Returns the tallies and the files that differ."""
    tallies, stale = [], []
    for english, target in sources():
        notebook = nbformat.read(english, as_version=4)
        catalog = load_catalog(catalog_path(english))
        result, tally = build_notebook(notebook, catalog, english.stem)
        tallies.append(tally)
        text = _text(result)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            stale.append(target)
            if write:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    return tallies, stale


def report(tallies: list[Tally]) -> str:
    """One line per notebook: cells and words, and what is missing or fuzzy."""
    lines = [f"{'notebook':44} cells  words  untranslated  fuzzy"]
    for t in tallies:
        lines.append(f"{t.notebook:44} {t.cells:5} {t.words:6} {t.untranslated:13} {t.fuzzy:6}")
    return "\n".join(lines)


def check() -> list[str]:
    """Everything that keeps the Vietnamese edition from being complete and current."""
    tallies, stale = build(write=False)
    tallies.append(helper_tally())
    problems = [f"{path.relative_to(ROOT)} is out of date" for path in stale]
    for t in tallies:
        if not t.done:
            problems.append(
                f"{t.notebook}: {t.untranslated} untranslated and {t.fuzzy} fuzzy cells "
                f"(edit locale/{LANG}/LC_MESSAGES/, e.g. with Poedit)"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.translation", description=__doc__)
    parser.add_argument("command", choices=["update", "build", "check"])
    parser.add_argument("only", nargs="*", help="update: these catalogs only (default: all)")
    args = parser.parse_args(argv)
    if args.command == "update":
        update(args.only)
        print(report([*build(write=False)[0], helper_tally()]))
        return 0
    if args.command == "build":
        tallies, stale = build()
        print(report([*tallies, helper_tally()]))
        print(f"{len(stale)} notebooks written")
        return 0
    problems = check()
    for problem in problems:
        print(problem)
    if problems:
        print("Fix: python -m helpers.translation update, translate, then build.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""The language a learner reads the pack's messages in: English, or Vietnamese.

Helpers wrap what a learner reads (check feedback, quiz reasons, plot labels, the
errors that say what to do) in `_()`, or mark it with `N_()` where it is defined and
call `_()` where it is shown. The language comes from `COURSE_LANG` if set,
else from the notebook's folder (the Vietnamese edition lives in `.../vi/`, and a
kernel starts in its notebook's folder), else from the locale (`LANG=vi_VN...`).
Translations live in `locale/vi/LC_MESSAGES/helpers.po`, next to the notebooks'
catalogs; `python -m helpers.translation update` collects the strings.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import polib

LOCALE = Path(__file__).resolve().parent.parent / "locale"
LANGUAGES = ("en", "vi")


def current() -> str:
    """'vi' or 'en', decided afresh each call so that a cell can switch it."""
    chosen = os.environ.get("COURSE_LANG", "").strip().lower()[:2]
    if chosen in LANGUAGES:
        return chosen
    if Path.cwd().name == "vi":
        return "vi"
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:
            return "vi" if value.lower().startswith("vi") else "en"
    return "en"


@functools.cache
def _catalog(lang: str) -> dict[str, str]:
    path = LOCALE / lang / "LC_MESSAGES" / "helpers.po"
    if not path.exists():
        return {}
    return {
        entry.msgid: entry.msgstr
        for entry in polib.pofile(str(path))
        if entry.msgstr and "fuzzy" not in entry.flags and not entry.obsolete
    }


def N_(text: str) -> str:
    """Mark a string for translation where it is defined; `_()` translates it where shown.

    For text kept in tables at import time (quiz questions, check hints): the language
    is decided when the learner reads it, not when the module was imported.
    """
    return text


def translate(text: str, lang: str) -> str:
    """`text` in `lang`; English when no translation is there yet."""
    if lang == "en":
        return text
    return _catalog(lang).get(text, text)


def _(text: str) -> str:
    """`text` in the learner's language; English when no translation is there yet."""
    return translate(text, current())

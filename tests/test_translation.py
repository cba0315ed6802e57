"""The Vietnamese edition: complete, current, and generated from the English only."""

from __future__ import annotations

import re

import nbformat
import polib
import pytest

from helpers import experiments, language, plots, quiz, translation


def _notebook(*texts: str):
    notebook = nbformat.v4.new_notebook()
    for number, text in enumerate(texts):
        cell = nbformat.v4.new_markdown_cell(text)
        cell.id = f"md-{number}"
        notebook.cells.append(cell)
    notebook.cells.append(nbformat.v4.new_code_cell("print('xin chào')"))
    notebook.cells[-1].id = "code-0"
    return notebook


def test_a_changed_english_cell_turns_fuzzy_and_stays_english_until_reviewed():
    catalog = translation.update_catalog(_notebook("Hello", "Channel"), polib.POFile(), "x")
    catalog[0].msgstr, catalog[1].msgstr = "Xin chào", "Kênh (channel)"

    changed = translation.update_catalog(_notebook("Hello there", "Channel"), catalog, "x")

    entry = changed.find("Hello there", msgctxt="md-0")
    assert "fuzzy" in entry.flags and entry.previous_msgid == "Hello"
    result, tally = translation.build_notebook(_notebook("Hello there", "Channel"), changed, "x")
    assert [c.source for c in result.cells] == [
        "Hello there",
        "Kênh (channel)",
        "print('xin chào')",
    ]
    assert (tally.fuzzy, tally.untranslated) == (1, 0)


def test_a_removed_cell_turns_obsolete_and_a_new_one_is_untranslated():
    catalog = translation.update_catalog(_notebook("One", "Two"), polib.POFile(), "x")
    catalog[0].msgstr = "Một"
    notebook = _notebook("One")
    notebook.cells.insert(1, nbformat.v4.new_markdown_cell("Three"))
    notebook.cells[1].id = "md-new"

    catalog = translation.update_catalog(notebook, catalog, "x")

    assert [e.msgctxt for e in catalog if e.obsolete] == ["md-1"]
    _, tally = translation.build_notebook(notebook, catalog, "x")
    assert (tally.cells, tally.untranslated, tally.fuzzy) == (2, 1, 0)


def test_code_cells_and_ids_are_copied_byte_for_byte():
    for english, vietnamese in translation.sources():
        en = nbformat.read(english, as_version=4)
        vi = nbformat.read(vietnamese, as_version=4)
        assert [c.id for c in en.cells] == [c.id for c in vi.cells], vietnamese.name
        for a, b in zip(en.cells, vi.cells, strict=True):
            if a.cell_type != "markdown":
                assert a == b, f"{vietnamese.name}: cell {a.id} differs from the English"


def test_translations_keep_every_placeholder_and_code_span():
    """A `{name}` lost in translation breaks `.format()` in Vietnamese only; a changed
    `code span` tells the learner to type something else."""
    placeholder = re.compile(r"\{[a-z_]*(?:![rs])?(?::[^}]*)?\}")
    code = re.compile(r"`[^`\n]+`")
    wrong = []
    for path in sorted((translation.LOCALE / "vi" / "LC_MESSAGES").glob("*.po")):
        for entry in polib.pofile(str(path)):
            if not entry.msgstr or entry.obsolete:
                continue
            for pattern in (placeholder, code):
                if sorted(pattern.findall(entry.msgid)) != sorted(pattern.findall(entry.msgstr)):
                    wrong.append(f"{path.name} {entry.msgctxt or entry.msgid[:40]!r}")
    assert not wrong, "translations that differ from the English in {…} or `…`:\n" + "\n".join(
        sorted(set(wrong))
    )


def test_the_vietnamese_edition_is_complete_and_current():
    problems = translation.check()
    assert not problems, (
        "Run `make vi`, translate what it reports in locale/vi/LC_MESSAGES/, then `make vi`:\n"
        + "\n".join(problems)
    )


@pytest.mark.parametrize(
    ("env", "folder", "expected"),
    [
        ({"COURSE_LANG": "vi"}, "notebooks", "vi"),
        ({"COURSE_LANG": "en"}, "vi", "en"),
        ({}, "vi", "vi"),
        ({"LANG": "vi_VN.UTF-8"}, "notebooks", "vi"),
        ({"LANG": "C.UTF-8"}, "notebooks", "en"),
    ],
)
def test_the_language_follows_the_setting_then_the_folder_then_the_locale(
    env, folder, expected, tmp_path, monkeypatch
):
    for name in ("COURSE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / folder).mkdir()
    monkeypatch.chdir(tmp_path / folder)
    assert language.current() == expected


def test_helpers_speak_the_learners_language(tmp_path, monkeypatch):
    po = polib.POFile()
    po.append(polib.POEntry(msgid="Expected {expected}", msgstr="Mong đợi {expected}"))
    po.append(polib.POEntry(msgid="Stale", msgstr="Cũ", flags=["fuzzy"]))
    (tmp_path / "vi" / "LC_MESSAGES").mkdir(parents=True)
    po.save(str(tmp_path / "vi" / "LC_MESSAGES" / "helpers.po"))
    monkeypatch.setattr(language, "LOCALE", tmp_path)
    language._catalog.cache_clear()
    try:
        monkeypatch.setenv("COURSE_LANG", "vi")
        assert language._("Expected {expected}").format(expected=3) == "Mong đợi 3"
        assert language._("Stale") == "Stale"  # a fuzzy entry is not used
        monkeypatch.setenv("COURSE_LANG", "en")
        assert language._("Expected {expected}") == "Expected {expected}"
    finally:
        language._catalog.cache_clear()


@pytest.mark.parametrize(
    ("lang", "feedback", "xlabel"),
    [
        ("vi", "Đúng. Nó đếm số kết nối", "độ trễ (µs, thang log)"),
        ("en", "Right. It counts the connections", "latency (µs, log scale)"),
    ],
    ids=["vi", "en"],
)
def test_what_helpers_print_and_draw_is_in_the_course_language(
    lang, feedback, xlabel, capsys, monkeypatch
):
    """The real catalog, through the real helpers: quiz feedback and a plot's axis label."""
    monkeypatch.setenv("COURSE_LANG", lang)
    language._catalog.cache_clear()
    quiz.check("publish-returns", "b")
    assert capsys.readouterr().out.startswith(feedback)
    result = experiments.LatencyResult("pub/sub", [80_000, 95_000, 900_000], 3, 0.003)
    fig = plots.latency(result)
    assert [ax.get_xlabel() for ax in fig.axes] == [xlabel, xlabel]

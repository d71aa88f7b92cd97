"""What the built pages show a reader (issue 23): findings in words, no scaffolding.

Read from the session's smoke-mode build (the ``smoke_book`` fixture in conftest.py), every
page under ``chapters/``:

* no page shows ``assert``, an nbgrader marker or an "ok: hidden tests of ..." line, no Python
  dict repr longer than 80 characters, and no code line longer than 80 characters (the code
  column shows about 80 at 1280 px; the folded Colab setup cell too);
* every chapter page ends with a "Key takeaways" admonition of 3-5 bullets, each with a
  number inserted by MyST-NB glue;
* every *experiment section* states its result with at least one glued number. An experiment
  section is a top-level section (``##``) of a page with a code cell whose output shows
  something computed: text, a table or a figure. Sections that only hold exercises, an
  explorer widget or the sources are not experiments.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import BOOK_ROOT
from dnet_tools import book

pytestmark = pytest.mark.slow        # needs the session's smoke build

MAX_LINE = 80
FORBIDDEN = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN", "BEGIN MARK SCHEME",
             "hidden tests of")
NOT_EXPERIMENTS = re.compile(r"^(exercises?|explore|sources|references|solution)", re.I)
DICT_REPR = re.compile(r"\{\s*['\"][^{}\n]*?['\"]\s*:[^{}]*\}")


def _page_entries() -> list[str]:
    return [e for e in book.toc_entries(BOOK_ROOT) if e.startswith("chapters/")]


def _chapter_entries() -> list[str]:
    return [e for e in _page_entries() if not e.startswith("chapters/exercises/")]


def _soup(html_dir: Path, entry: str):
    from bs4 import BeautifulSoup

    page = html_dir / f"{entry}.html"
    assert page.is_file(), f"{entry} has no page in the smoke build"
    article = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser").find("article")
    assert article is not None, f"{entry}: no <article> in the page"
    return article


def _classes(node) -> list[str]:
    return node.get("class", []) if hasattr(node, "get") else []


@pytest.fixture(scope="module")
def html_dir(smoke_book) -> Path:
    return smoke_book.require_pages()


@pytest.mark.parametrize("entry", _page_entries())
def test_page_shows_no_scaffolding(entry, html_dir):
    article = _soup(html_dir, entry)
    text = article.get_text()
    found = [marker for marker in FORBIDDEN if marker in text]
    assert not found, f"{entry} shows {found}"
    problems = []
    for pre in article.select("div.cell_input pre"):
        for line in pre.get_text().splitlines():
            if re.match(r"\s*assert\b", line):
                problems.append(f"assert line: {line.strip()[:70]}")
            if len(line) > MAX_LINE:
                problems.append(f"{len(line)} characters: {line[:70]}...")
    for pre in article.select("div.cell_output pre"):
        for match in DICT_REPR.finditer(pre.get_text()):
            if len(match.group()) > MAX_LINE:
                problems.append(f"dict repr of {len(match.group())} characters: "
                                f"{match.group()[:60]}...")
    assert not problems, f"{entry}:\n" + "\n".join(problems)


@pytest.mark.parametrize("entry", _chapter_entries())
def test_chapter_ends_with_key_takeaways(entry, html_dir):
    article = _soup(html_dir, entry)
    boxes = [a for a in article.select("div.admonition")
             if a.find(class_="admonition-title")
             and a.find(class_="admonition-title").get_text(strip=True) == "Key takeaways"]
    assert len(boxes) == 1, f"{entry}: {len(boxes)} 'Key takeaways' boxes (want one)"
    bullets = boxes[0].select("li")
    assert 3 <= len(bullets) <= 5, f"{entry}: {len(bullets)} takeaways (want 3-5)"
    unglued = [li.get_text(" ", strip=True)[:60] for li in bullets
               if not li.select("span.pasted-text, .pasted-inline")]
    assert not unglued, f"{entry}: takeaways without a glued number: {unglued}"


def _computes(cell) -> bool:
    out = cell.select_one("div.cell_output")
    return out is not None and bool(out.select("pre, table, img, svg"))


@pytest.mark.parametrize("entry", _page_entries())
def test_every_experiment_section_states_a_glued_number(entry, html_dir):
    article = _soup(html_dir, entry)
    missing = []
    for section in article.select("section > section"):
        heading = section.find(["h2"], recursive=False)
        if heading is None:
            continue
        title = heading.get_text(strip=True).rstrip("#")
        if NOT_EXPERIMENTS.match(title):
            continue
        cells = [c for c in section.select("div.cell") if _computes(c)]
        if cells and not section.select("span.pasted-text, .pasted-inline"):
            missing.append(title)
    assert not missing, f"{entry}: experiment sections without a glued number: {missing}"


def test_the_checks_see_what_they_guard(html_dir):
    """The page checks are not vacuous: pages exist, have code cells and glued numbers."""
    entries = _page_entries()
    assert len(entries) >= 10
    glued = sum(len(_soup(html_dir, e).select("span.pasted-text")) for e in entries)
    cells = sum(len(_soup(html_dir, e).select("div.cell_input pre")) for e in entries)
    assert cells > 50 and glued > 20, (cells, glued)

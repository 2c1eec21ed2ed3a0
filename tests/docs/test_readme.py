"""The README gets a newcomer going in a page: short, the set-up commands and `make smoke` on the first
screen, and a chooser table whose rows lead to one page per pattern, each laid out the same way."""

from __future__ import annotations

import re
from pathlib import Path

from scripts.preflight import pattern_names
from tests.docs.test_links import links, slug

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PATTERN_PAGES = sorted((ROOT / "docs" / "patterns").glob("*.md"))
MAX_LINES = 250
FIRST_SCREEN = 40
SET_UP = ["make synth", "make test"]
# Every pattern page has these sections, in this order.
SECTIONS = [
    "When to use it",
    "How it works",
    "How each failure ends",
    "Knobs",
    "Try it",
    "Operating it",
    "Cost",
    "Limits",
]
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def readme_problems(page: Path) -> list[str]:
    """What keeps `page` from getting a newcomer going on its first screen."""
    text = page.read_text()
    lines = text.splitlines()
    first = "\n".join(lines[:FIRST_SCREEN])
    problems = [f"{len(lines)} lines, over {MAX_LINES}"] if len(lines) > MAX_LINES else []
    blocks = "\n".join(re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S))
    if re.findall(r"^make [a-z-]+", blocks, re.M)[:2] != SET_UP:
        problems.append(f"the first two commands are not {' and '.join(SET_UP)}")
    for command in [*SET_UP, "make smoke"]:
        if not re.search(rf"^{command}\b", first, re.M):
            problems.append(f"{command} is not in the first {FIRST_SCREEN} lines")
    heading = None
    for line in lines:
        heading = line[3:] if line.startswith("## ") else heading
        if line.startswith("| the work takes |"):
            break
    else:
        return [*problems, "no chooser table"]
    if heading is None or f"(#{slug(heading)})" not in first or f"#{slug(heading)}" not in links(page):
        problems.append(f"no link to the chooser table (#{slug(heading or '')}) in the first {FIRST_SCREEN} lines")
    return problems


def sections(page: Path) -> list[str]:
    return re.findall(r"^## (.+)$", FENCE.sub("", page.read_text()), re.M)


def test_the_readme_is_short_and_its_first_screen_gets_a_newcomer_going():
    assert readme_problems(README) == []


def test_a_long_readme_or_a_late_command_is_found(tmp_path):
    page = tmp_path / "README.md"
    page.write_text(
        "# X\n\n## Start here\n\n```sh\nmake test\nmake synth\n```\n\n"
        + "filler\n" * FIRST_SCREEN
        + "make smoke\n\n## Pick one\n\n| the work takes | and |\n"
        + "more\n" * MAX_LINES
    )
    assert readme_problems(page) == [
        f"{9 + FIRST_SCREEN + 5 + MAX_LINES} lines, over {MAX_LINES}",
        "the first two commands are not make synth and make test",
        f"make smoke is not in the first {FIRST_SCREEN} lines",
        f"no link to the chooser table (#pick-one) in the first {FIRST_SCREEN} lines",
    ]


def test_each_chooser_row_links_its_pattern_page():
    rows = [line for line in README.read_text().splitlines() if line.startswith("| ") and "docs/patterns/" in line]
    linked = dict(re.search(r"`(\w+)`\]\(docs/patterns/([\w-]+\.md)\)", row).groups() for row in rows)
    assert sorted(linked) == sorted(pattern_names())
    for stack, page in linked.items():
        assert re.match(rf"# \d+\. {stack}: ", (ROOT / "docs" / "patterns" / page).read_text()), page


def test_every_pattern_has_a_page_with_the_same_sections_in_the_same_order():
    assert len(PATTERN_PAGES) == len(pattern_names())
    for page in PATTERN_PAGES:
        assert sections(page) == SECTIONS, page.name


def test_a_heading_in_a_code_block_is_not_a_section(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# 1. X: y\n## When to use it\n```\n## not a heading\n```\n## Knobs\n")
    assert sections(page) == ["When to use it", "Knobs"]

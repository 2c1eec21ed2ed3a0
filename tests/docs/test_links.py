"""Every link in the README and docs/ resolves: relative paths to files in the repository, and
`#anchors` to a heading of the page they point at (GitHub's rule for heading ids). External links
are not followed: the suite runs offline."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    [
        ROOT / "README.md",
        *ROOT.glob("docs/**/*.md"),
        ROOT / "localcloud" / "README.md",
        ROOT / "tests" / "e2e" / "README.md",
    ]
)
LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
CODE = re.compile(r"`[^`\n]*`")


def heading_ids(page: Path) -> set[str]:
    """The ids GitHub gives the page's headings: lower case, punctuation dropped, spaces to
    hyphens, a repeated id suffixed -1, -2...; plus explicit <a id="..."> / name="..." anchors."""
    text = FENCE.sub("", page.read_text())
    seen: Counter[str] = Counter()
    ids = set(re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", text))
    for title in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", text, re.M):
        id = slug(title)
        ids.add(id if not seen[id] else f"{id}-{seen[id]}")
        seen[id] += 1
    return ids


def slug(title: str) -> str:
    """A heading's id by GitHub's rule (before the -1, -2... of a repeated one)."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def links(page: Path) -> list[str]:
    text = CODE.sub("", FENCE.sub("", page.read_text()))
    return [target for target in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page):
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            broken.append(f"{target}: no {path}")
        elif anchor and destination.suffix == ".md" and anchor not in heading_ids(destination):
            broken.append(f"{target}: no heading #{anchor} in {destination.relative_to(ROOT)}")
        elif destination != page and ROOT not in destination.parents:
            broken.append(f"{target}: outside the repository")
    assert broken == []


def test_the_heading_ids_follow_githubs_rule(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# 1. ApiSync: synchronous API\n## Use `make smoke`!\n## Notes\n## Notes\n```\n# not a heading\n```\n"
    )
    assert heading_ids(page) == {"1-apisync-synchronous-api", "use-make-smoke", "notes", "notes-1"}


def test_a_broken_link_is_found(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\nSee [this](#title), [that](#nowhere), [the code](`x`) and [site](https://example.com).\n")
    assert links(page) == ["#title", "#nowhere"]

"""scripts/soak.py: the command line's refusals and how it rewrites the figures of a report page.
(The soak itself runs in tests/soak/, a small one per pattern.)"""

from __future__ import annotations

import sys
from pathlib import Path

from scripts import soak


def test_the_report_rewrites_only_the_figures_between_its_markers(tmp_path: Path):
    page = tmp_path / "reliability.md"
    page.write_text(f"# Reliability\n\nprose before\n\n{soak.BEGIN}\nold figures\n{soak.END}\n\nprose after\n")
    soak.write_report(page, ["### Seed 1\n\nnew table", "### Seed 2\n\nanother"])
    text = page.read_text()
    assert "old figures" not in text
    assert text.startswith("# Reliability\n\nprose before\n\n")
    assert text.endswith(f"{soak.END}\n\nprose after\n")
    assert text.index("### Seed 1") < text.index("### Seed 2") < text.index(soak.END)


def test_a_report_page_that_does_not_exist_is_made_with_its_markers(tmp_path: Path):
    page = tmp_path / "new.md"
    soak.write_report(page, ["### Seed 1\n\ntable"])
    assert page.read_text() == f"{soak.BEGIN}\n\n### Seed 1\n\ntable\n\n{soak.END}\n"


def test_the_projects_page_has_its_markers_once():
    text = (Path(soak.ROOT) / "docs" / "reliability.md").read_text()
    assert text.count(soak.BEGIN) == text.count(soak.END) == 1


def test_an_unknown_pattern_is_refused_naming_the_known_ones(capsys, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))  # main() puts the repository first; undone after
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "test")  # main() sets it only if unset
    assert soak.main(["--pattern", "NoSuchPattern"]) == 2
    error = capsys.readouterr().err
    assert "no soak driver for NoSuchPattern" in error and "QueueRedrive" in error

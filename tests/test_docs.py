"""The documents in docs/ say what the code does: the transition table is the one the model
declares, every declared transition has its "who fires it" row, and every relative link between
the documents and the README points at a file that exists."""

import re
from pathlib import Path

import pytest

from marketplace.handlers.registry import registered
from scripts.state_table import DOC, declared_transitions, documented_table, render_table

ROOT = Path(__file__).resolve().parent.parent
# Written by other engineers; linked from the index before they land.
NOT_YET_WRITTEN = {ROOT / "docs" / "engine.md", ROOT / "docs" / "operations.md"}
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_documented_transition_table_is_the_declared_one():
    # given the table generated from the model / when compared with the document
    # then they are equal (fix: python scripts/state_table.py --write)
    assert documented_table(DOC.read_text()) == render_table()


def test_every_declared_transition_has_its_who_fires_it_row():
    # given the declared transition methods
    methods = {name for _, name, _ in declared_transitions()}
    # when the "Who fires each transition" section is read
    section = DOC.read_text().split("## Who fires each transition")[1].split("\n## ")[0]
    rows = set(re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE))
    # then there is exactly one row per method
    assert rows == methods


@pytest.mark.parametrize("document", _documents(), ids=lambda path: path.name)
def test_relative_links_point_at_files_that_exist(document):
    # given the relative links of a document
    targets = [
        (document.parent / link).resolve()
        for link in LINK.findall(document.read_text())
        if "://" not in link and not link.startswith("mailto:")
    ]
    # then each names a file or folder of the repository
    missing = [str(t) for t in targets if not t.exists() and t not in NOT_YET_WRITTEN]
    assert missing == []


def test_the_readme_cites_no_design_file_outside_the_repository():
    # given / when / then
    assert "DESIGN §" not in (ROOT / "README.md").read_text()


def test_the_handler_table_of_the_architecture_lists_the_registered_handlers():
    # given the registered (marketplace, action) pairs
    # when the architecture page's table of handlers is read
    text = (ROOT / "docs" / "architecture.md").read_text()
    rows = re.findall(r"^\| (eBay|Etsy|Vinted) \| ([a-z_, ]+) \|$", text, flags=re.MULTILINE)
    documented = {
        (name.lower(), action.strip()) for name, actions in rows for action in actions.split(",")
    }
    # then they are the same
    assert documented == set(registered())

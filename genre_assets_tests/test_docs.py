"""The documents name real things: every test RELIABILITY.md cites exists, docs cite only files
of this repository, and the README stays short."""

from __future__ import annotations

import ast
import re

from genre_assets_tests.support.local import REPO_ROOT

TESTS = REPO_ROOT / "genre_assets_tests"


def _test_names(path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def test_every_test_reliability_md_names_exists():
    text = (REPO_ROOT / "RELIABILITY.md").read_text()
    cited = re.findall(r"`((?:[a-z_]+/)*test_[a-z_0-9]+\.py)::([A-Za-z_0-9]+)", text)
    assert len(cited) >= 30
    for file, name in cited:
        path = TESTS / file
        assert path.is_file(), f"RELIABILITY.md cites {file}, which does not exist"
        assert name in _test_names(path), (
            f"RELIABILITY.md cites {file}::{name}, which does not exist"
        )


def test_docs_and_code_cite_no_document_outside_the_repository():
    for folder in ("genre_assets", "genre_assets_emulator", "sql", "docs"):
        for path in (REPO_ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".j2", ".md"}:
                assert "DESIGN" not in path.read_text(), path
    for cited in re.findall(
        r"\(((?:docs|bench|deploy)/[\w./-]+)\)", (REPO_ROOT / "README.md").read_text()
    ):
        assert (REPO_ROOT / cited.split("#")[0]).exists(), (
            f"README links {cited}, which does not exist"
        )


def test_readme_is_under_200_lines_and_keeps_the_two_commands():
    readme = (REPO_ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 200
    assert "make demo" in readme and "make test" in readme
    assert "docs/aws-fidelity.md" in readme


def test_every_test_the_fidelity_ledger_names_exists_and_every_row_has_a_source():
    text = (REPO_ROOT / "docs" / "aws-fidelity.md").read_text()
    rows = [line for line in text.splitlines() if re.match(r"^\| \d+ \|", line)]
    assert len(rows) >= 25
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 5 and all(cells), row  # number, behaviour, source, emulator, test
    for file, name in re.findall(
        r"`((?:[a-z_]+/)*test_[a-z_0-9]+\.py)(?:::([A-Za-z_0-9]+))?", text
    ):
        path = TESTS / file
        assert path.is_file(), f"docs/aws-fidelity.md cites {file}, which does not exist"
        if name:
            assert name in _test_names(path), f"docs/aws-fidelity.md cites {file}::{name}"

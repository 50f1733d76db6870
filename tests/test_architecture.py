"""The architecture, as docs/architecture.md draws it and pyproject.toml's contracts state it, is
the code's: the contracts cover every module, catch a wrong-way import, and the page names only
files and functions that exist. Nothing in the repository links outside it."""

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def test_the_top_layer_names_every_module_of_portal_outside_its_core():
    top = {m.strip() for m in re.split(r"[:|]", contracts()["layers"]["layers"][0])}
    modules = {
        f"portal.{path.stem if path.is_file() else path.name}"
        for path in (ROOT / "portal").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists() and path.name != "core")
    }
    assert top == modules


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is a dev requirement")
def test_a_wrong_way_import_breaks_the_layers_contract(tmp_path):
    for package in ("portal", "media_assets", "diagnostics", "recommender"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    kept = subprocess.run([LINT_IMPORTS], cwd=tmp_path, capture_output=True, text=True)
    with (tmp_path / "media_assets" / "models.py").open("a") as models:
        models.write("\nfrom diagnostics import models as _upward  # noqa\n")

    broken = subprocess.run([LINT_IMPORTS], cwd=tmp_path, capture_output=True, text=True)

    assert kept.returncode == 0, kept.stdout
    assert broken.returncode == 1
    assert "media_assets is not allowed to import diagnostics" in broken.stdout


def _named_in_architecture() -> list[tuple[str, str | None]]:
    text = ARCHITECTURE.read_text()
    references = []
    for match in re.finditer(r"`([\w/.-]+\.py|[\w/-]+/)`(?::\s*`(\w+)`)?", text):
        references.append((match.group(1), match.group(2)))
    return references


def _top_level_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    } | {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }


def test_every_path_and_function_the_architecture_page_names_exists():
    references = _named_in_architecture()
    assert len(references) > 40
    for path, name in references:
        assert (ROOT / path).exists(), path
        if name is not None:
            assert name in _top_level_names(ROOT / path), f"{path}: {name}"


def test_no_file_in_the_repository_links_outside_it():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    outside = re.compile(r"\.\./shared|DESIGN\.md")
    offenders = [
        name
        for name in tracked
        if not name.startswith(".ci/")
        and (ROOT / name).is_file()
        and name != "tests/test_architecture.py"
        and outside.search((ROOT / name).read_text(errors="ignore"))
    ]
    assert offenders == []

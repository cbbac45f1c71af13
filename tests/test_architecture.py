"""The house's ground rules (docs/architecture.md), checked on the code's own imports.

Every import under scraper/ (lazy ones inside functions included) is read with ``ast`` and held
against the stage it comes from: a stage imports only the stages below it, so the folder list
reads as the pipeline URL -> Page -> Article -> row and no change can quietly tie it back up.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "scraper"

# The stages, and which stages each may import (itself always). The ground floor holds the types,
# the errors and the pure helpers every stage shares; profiles are site rules as data.
GROUND = "ground"
ALLOWED = {
    GROUND: {GROUND},
    "fetch": {GROUND},
    "extract": {GROUND},
    "store": {GROUND},
    "pipeline": {GROUND, "fetch", "extract", "store"},
    "crawl": {GROUND, "fetch", "extract", "store", "pipeline"},
    "use": {GROUND, "fetch", "extract", "store", "pipeline"},
    "commands": {GROUND, "fetch", "extract", "store", "pipeline", "crawl", "use"},
}
STAGE_PACKAGES = {"fetch", "extract", "store", "crawl", "use", "commands"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in STAGE_PACKAGES:
        return parts[1]
    if len(parts) >= 2 and parts[1] == "pipeline":
        return "pipeline"
    return GROUND


def imports_of(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import of the project's own code."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [a.name for a in node.names]
            if target.split(".")[0] != "scraper":
                continue
            # `from scraper.store import listings` imports the module scraper.store.listings.
            submodules = [n for n in names if (PACKAGE.parent / target.replace(".", "/") / f"{n}.py").exists()
                          or (PACKAGE.parent / target.replace(".", "/") / n / "__init__.py").exists()]
            for name in submodules:
                found.append((f"{target}.{name}", [], node.lineno))
            rest = [n for n in names if n not in submodules]
            if rest or not submodules:
                found.append((target, rest, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.split(".")[0] == "scraper"]
    return found


# scraper/__init__.py is the library's face (``from scraper import extract``), above every stage.
SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_each_stage_imports_only_the_stages_below_it(path):
    stage = stage_of(module_name(path))
    wrong = [f"line {line}: {target} ({stage_of(target)})" for target, _, line in imports_of(path)
             if target != "scraper" and stage_of(target) not in ALLOWED[stage] | {stage}]
    assert not wrong, f"{stage} may import only {sorted(ALLOWED[stage])}: " + "; ".join(wrong)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_no_private_name_is_imported_from_another_package(path):
    own = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    wrong = [f"line {line}: {name} from {target}" for target, names, line in imports_of(path)
             for name in names if name.startswith("_") and not name.startswith("__")
             and target.rsplit(".", 1)[0] != own and target != own]
    assert not wrong, "; ".join(wrong)


def test_the_rules_see_every_stage():
    """A new top-level folder must be placed in the rules before it can pass them."""
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders <= STAGE_PACKAGES | {"profiles"}, folders - STAGE_PACKAGES


def test_the_map_names_every_module():
    """docs/architecture.md is the newcomer's map: a module it does not name is a room nobody finds."""
    doc = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [str(p.relative_to(PACKAGE)) for p in SOURCES
               if p.name != "__init__.py" and p.parent.name != "commands" and p.name not in doc]
    assert not missing, missing

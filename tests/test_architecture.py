"""The house's ground rules (docs/architecture.md), checked on the code's own imports.

Every import under scraper/ (lazy ones inside functions included) is read with ``ast`` and held
against the stage it comes from: a stage imports only the stages below it, so the folder list
reads as the pipeline URL -> Page -> Article -> row and no change can quietly tie it back up.
"""
from __future__ import annotations

import ast
import re
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
    "workers": {GROUND, "fetch", "extract", "store", "pipeline", "crawl", "use"},
    "commands": {GROUND, "fetch", "extract", "store", "pipeline", "crawl", "use", "workers"},
}
STAGE_PACKAGES = {"fetch", "extract", "store", "crawl", "use", "workers", "commands"}


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
def test_no_private_name_is_imported_from_another_module(path):
    """A name with a leading underscore is its module's own business: one another module needs is
    part of an interface, and gets a public name (and a docstring) where it is defined."""
    wrong = [f"line {line}: {name} from {target}" for target, names, line in imports_of(path)
             for name in names if name.startswith("_") and not name.startswith("__")]
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


# -- no circle ---------------------------------------------------------------------------------------

def module_graph() -> dict[str, set[str]]:
    """{module: the project's modules it imports}, every module of scraper/ (the package's face too)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        graph[module_name(path)] = {target for target, _, _ in imports_of(path)}
    return {module: {t for t in targets if t in graph and t != module} for module, targets in graph.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each a circle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_circle_check_sees_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_back_through_others():
    """No circle of imports between modules, lazy imports included: each module can be read, and
    moved, with what it stands on and nothing that stands on it."""
    assert circles(module_graph()) == []


# -- one door to the database -------------------------------------------------------------------------

STORE = PACKAGE / "store"
# An SQL statement in a string: a keyword that starts one, then what it works on.
SQL = re.compile(r"\b(SELECT\b.*\bFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
                 r"CREATE\s+(VIRTUAL\s+)?(TABLE|INDEX|TRIGGER)|DROP\s+(TABLE|INDEX|TRIGGER)|ALTER\s+TABLE|PRAGMA\s+\w)",
                 re.S)
OUTSIDE_STORE = [p for p in SOURCES if STORE not in p.parents] + [PACKAGE.parent / "cli.py"]


@pytest.mark.parametrize("path", OUTSIDE_STORE, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_only_the_store_touches_the_database(path):
    """Every statement goes through the Archive (scraper/store/): no connection, no `.db`, no SQL
    elsewhere, so its guard and lock apply to all of them and a second backend lives in one folder."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    wrong = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("db", "_db", "_conn", "conn"):
            wrong.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            if any(n and n.split(".")[0] in ("sqlite3", "sqlite_utils") for n in names):
                wrong.append(f"line {node.lineno}: imports {', '.join(filter(None, names))}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            wrong.append(f"line {node.lineno}: SQL {node.value[:40]!r}")
    assert not wrong, "; ".join(wrong)


def test_the_door_check_sees_sql():
    assert SQL.search("SELECT url FROM queue") and SQL.search("INSERT OR IGNORE INTO t VALUES (1)")
    assert SQL.search("PRAGMA integrity_check") and SQL.search("CREATE VIRTUAL TABLE x USING fts5(a)")
    assert not SQL.search("Select the articles from a site") and not SQL.search("UPDATE")


@pytest.mark.parametrize("path", [p for p in SOURCES if p.name != "clock.py"] + [PACKAGE.parent / "cli.py"],
                         ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_one_clock(path):
    """Every moment the scraper records comes from a Clock passed in (scraper/clock.py): a call to
    the wall clock elsewhere would escape the run's clock, and a test that moves time."""
    wrong = [f"line {node.lineno}: {ast.unparse(node.func)}()" for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
             and (node.func.attr in ("now", "utcnow", "today") and ast.unparse(node.func.value) in ("datetime", "date")
                  or ast.unparse(node.func) == "time.time")]
    assert not wrong, "; ".join(wrong)

"""The library's layout, read from its import statements (ast, nothing is imported): models at
the bottom, no import cycles, no module reaching into another module's private names."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dnet_lib"
MODELS_MAY_IMPORT = {"dnet_lib.validate", "dnet_lib.units"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str):
    """(target module, imported name or None, node) for every dnet_lib import in ``name``,
    at module level or inside a function."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    package = name if _is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "dnet_lib":
                    yield alias.name, None, node
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != "dnet_lib":
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in MODULES:            # ``from . import x``: the module x
                    yield submodule, None, node
                else:
                    yield source, alias.name, node


GRAPH = {name: {target for target, _, _ in _imports(name) if target != name} for name in MODULES}


def test_the_graph_reads_real_modules():
    assert "dnet_lib.models.densenet" in GRAPH and "dnet_lib.arith" in GRAPH
    assert all(target in MODULES for targets in GRAPH.values() for target in targets)
    assert "dnet_lib.models" in GRAPH["dnet_lib.arith"]          # arith counts the models


def test_no_import_cycles():
    done, path = set(), []

    def visit(node):
        if node in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(node):] + [node]))
        if node in done:
            return
        path.append(node)
        for target in sorted(GRAPH[node]):
            visit(target)
        path.pop()
        done.add(node)

    for name in sorted(GRAPH):
        visit(name)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("dnet_lib.models")))
def test_models_are_the_bottom_layer(name):
    outside = {t for t in GRAPH[name] if not t.startswith("dnet_lib.models")} - MODELS_MAY_IMPORT
    assert not outside, f"{name} imports {sorted(outside)}; models may use only validate and units"


def test_no_module_imports_another_modules_private_names():
    found = []
    for name in MODULES:
        tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
        bound = set()              # local names bound to dnet_lib modules
        for target, imported, node in _imports(name):
            if imported is not None and imported.startswith("_"):
                found.append(f"{name}: from {target} import {imported}")
            if imported is None:
                bound.update(a.asname or a.name.rpartition(".")[2] for a in node.names)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in bound and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                found.append(f"{name}: {node.value.id}.{node.attr}")
    assert not found, found

"""The code's layout holds: no import cycles (also not hidden inside functions), and no service imports
another service's code (they meet on the bus and over HTTP only)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imports() -> dict[str, set[str]]:
    """module -> the project modules it imports, anywhere in the file (TYPE_CHECKING blocks excepted)."""
    graph: dict[str, set[str]] = {}
    files = [p for d in ("services", "shared") for p in (ROOT / d).rglob("*.py") if "migrations" not in p.parts]
    modules = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__") for p in files}
    for p in files:
        name = ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(p.read_text(encoding="utf-8"))
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        found = set()
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    found.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_module_imports_itself_back_through_others():
    graph = imports()
    assert len(graph) > 50
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == path[0]:
                cycles.append(" -> ".join(path + [nxt]))
            elif nxt not in path and len(path) < 8:
                visit(nxt, path + [nxt])

    for start in graph:
        visit(start, [start])
    assert cycles == []


def test_services_meet_only_on_the_bus_and_over_http():
    crossing = [f"{m} imports {d}" for m, deps in imports().items() if m.startswith("services.")
                for d in deps if d.startswith("services.") and d.split(".")[1] != m.split(".")[1]]
    assert crossing == []

"""The rules of the code base's shape, checked on the source: short functions, imports that point one way, a CLI
that starts without torch, and one optimizer step in the whole library (the training core's)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "adaptlang"
MAX_FUNCTION_LINES = 80

# Imports inside a function that close a cycle, each with the reason it is acceptable. Any other cycle, and every
# cycle of module-level imports, fails the test.
ARGUED_LAZY_EDGES = {
    ("adaptlang.translit.base", "adaptlang.translit"): "the backend registry loads its plug-ins on first lookup",
    ("adaptlang.translit.base", "adaptlang.translit.diacritics"): "plug-in loaded by the registry",
    ("adaptlang.translit.base", "adaptlang.translit.epitran_backend"): "plug-in loaded by the registry",
    ("adaptlang.translit.base", "adaptlang.translit.table"): "plug-in loaded by the registry (and its table list "
                                                             "for pick_scheme)",
    ("adaptlang.translit.base", "adaptlang.translit.uroman_backend"): "plug-in loaded by the registry",
}


def _modules() -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package's __init__)."""
    mods = {}
    for f in sorted(PACKAGE.rglob("*.py")):
        parts = list(f.relative_to(SRC).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        mods[".".join(parts[:-1] if is_pkg else parts)] = (f, is_pkg)
    return mods


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or \
        (isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _import_nodes(body: list[ast.stmt], level: str) -> list[tuple[ast.stmt, str]]:
    """Every import statement under ``body`` with where it runs: "top" (at import time), "lazy" (inside a function
    or class body run later) or "typing" (under ``if TYPE_CHECKING:``, never run)."""
    out: list[tuple[ast.stmt, str]] = []
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append((node, level))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out += _import_nodes(node.body, "typing" if level == "typing" else "lazy")
        elif isinstance(node, ast.If) and _is_type_checking(node):
            out += _import_nodes(node.body, "typing") + _import_nodes(node.orelse, level)
        else:
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list):
                    stmts = [c for c in children if isinstance(c, ast.stmt)]
                    stmts += [s for h in children if isinstance(h, ast.ExceptHandler) for s in h.body]
                    out += _import_nodes(stmts, level)
    return out


def _targets(node: ast.stmt, module: str, is_pkg: bool, mods: dict) -> set[str]:
    """The adaptlang modules an import statement loads (``from adaptlang.x import y``: x, and x.y when y is a
    submodule)."""
    def owner(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
        return {m for m in map(owner, names) if m and m.startswith("adaptlang")}
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        base = (module if is_pkg else module.rpartition(".")[0]).split(".")
        base = base[:len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    if not source.startswith("adaptlang"):
        return set()
    found = {owner(source)} | {f"{source}.{a.name}" for a in node.names if f"{source}.{a.name}" in mods}
    return {m for m in found if m}


def import_graph() -> dict[str, dict[str, str]]:
    """module -> {imported module: "top" | "lazy" | "typing"} (the strongest kind when imported several ways)."""
    mods = _modules()
    rank = {"typing": 0, "lazy": 1, "top": 2}
    graph: dict[str, dict[str, str]] = {m: {} for m in mods}
    for module, (path, is_pkg) in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, kind in _import_nodes(tree.body, "top"):
            for target in _targets(node, module, is_pkg, mods) - {module}:
                if rank[kind] > rank.get(graph[module].get(target, ""), -1):
                    graph[module][target] = kind
    return graph


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted: every import cycle lies in
    one of them."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _describe(cycle: list[str], graph: dict[str, dict[str, str]]) -> str:
    inside = set(cycle)
    edges = [f"{a} -> {b} ({kind})" for a in cycle for b, kind in sorted(graph[a].items()) if b in inside]
    return "; ".join(edges)


def test_functions_are_at_most_80_lines() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):  # nested functions are counted inside their parent too
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n_lines = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if n_lines > MAX_FUNCTION_LINES:
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({n_lines} lines)")
    assert not offenders, f"functions over {MAX_FUNCTION_LINES} lines: " + ", ".join(offenders)


def test_cycle_finder_finds_cycles() -> None:
    """The checker itself: a cycle is found (with every module in it), a chain is not."""
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_import_graph_sees_module_level_lazy_and_typing_imports() -> None:
    graph = import_graph()
    assert graph["adaptlang.engine.loop"]["adaptlang.engine.checkpoint"] == "top"
    assert graph["adaptlang.pipeline.categorize"]["adaptlang.report"] == "lazy"
    assert graph["adaptlang.pipeline.results"]["adaptlang.pipeline.categorize"] == "typing"
    assert graph["adaptlang.tasks"]["adaptlang.tasks.parse"] == "top"  # from-import of a submodule's names


def test_no_module_level_import_cycle() -> None:
    graph = import_graph()
    top = {m: {t for t, kind in targets.items() if kind == "top"} for m, targets in graph.items()}
    cycles = find_cycles(top)
    assert not cycles, "import cycles at module level: " + " | ".join(_describe(c, graph) for c in cycles)


def test_no_import_cycle_closed_by_an_unargued_lazy_import() -> None:
    graph = import_graph()
    runtime = {m: {t for t, kind in targets.items() if kind != "typing" and (m, t) not in ARGUED_LAZY_EDGES}
               for m, targets in graph.items()}
    cycles = find_cycles(runtime)
    assert not cycles, "import cycles (lazy imports included): " + " | ".join(_describe(c, graph) for c in cycles)
    stale = [f"{a} -> {b}" for a, b in ARGUED_LAZY_EDGES if graph.get(a, {}).get(b) != "lazy"]
    assert not stale, f"ARGUED_LAZY_EDGES lists imports that are no longer lazy imports: {stale}"


def test_cli_starts_without_torch() -> None:
    code = ("import sys, adaptlang.cli.main; "
            "print(','.join(sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=SRC.parent)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"importing adaptlang.cli.main loads {proc.stdout.strip()}"


def _optimizer_calls(path: Path) -> list[str]:
    """``<optimizer>.step(...)`` calls (the receiver's name mentions opt/optim/optimizer) and optimizer
    constructions (``torch.optim.X(...)``, ``optim.X(...)``) in one file, as ``file:line what``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        func = node.func
        receiver = func.value
        name = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
        if func.attr == "step" and "opt" in name.lower():
            found.append(f"{path.relative_to(SRC)}:{node.lineno} {name}.step()")
        elif name == "optim" and func.attr[:1].isupper():
            found.append(f"{path.relative_to(SRC)}:{node.lineno} optim.{func.attr}()")
    return found


def test_one_optimizer_step_in_the_library() -> None:
    calls = [c for path in sorted(PACKAGE.rglob("*.py")) for c in _optimizer_calls(path)]
    steps = [c for c in calls if c.endswith(".step()")]
    assert len(steps) == 1 and steps[0].startswith("adaptlang/engine/loop.py:"), \
        f"optimizer steps outside the training core (or not exactly one): {steps}"
    outside = [c for c in calls if not c.startswith("adaptlang/engine/")]
    assert not outside, f"optimizers built outside the training core: {outside}"


@pytest.mark.parametrize("text, expected", [
    ("self.optimizer.step()\n", 1), ("opt.step()\n", 1), ("torch.optim.SGD(params)\n", 1),
    ("scheduler.step()\nself.step()\n", 0),
])
def test_optimizer_call_finder(tmp_path: Path, text: str, expected: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker itself finds what it looks for and nothing else."""
    monkeypatch.setattr(sys.modules[__name__], "SRC", tmp_path)
    f = tmp_path / "m.py"
    f.write_text(text, encoding="utf-8")
    assert len(_optimizer_calls(f)) == expected

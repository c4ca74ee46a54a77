"""The package's architecture, checked from its source (docs/design.md, "Dependency rules").

Every check reads the source with :mod:`ast` (nothing is imported or run) and is a plain
function of a source tree, so each is also run on a small planted tree that breaks its
rule: a check that could not find a violation would fail its self-test.

1. The import graph: the stages run
   core < data < families < models < estimation < posterior < present < interfaces;
   a module imports only its own or earlier stages, except ``present``, which computes
   nothing: it imports ``core``, ``families`` (what a family says about itself: titles,
   symbols, its density for a figure), itself, and from ``data``, ``models`` and
   ``posterior`` only the display types named in :data:`PRESENT_TYPES`; never
   ``estimation``. Every import counts: module level, inside functions (lazy
   imports), under ``if TYPE_CHECKING:``, and ``importlib.import_module("...")`` with a
   literal name.
2. Nothing inside the package imports the package's ``__init__`` (``import lossbridge``,
   ``from lossbridge import fit``, ``from .. import fit`` resolving to the root).
3. Subpackage ``__init__`` files hold a docstring and nothing else.
4. No module outside ``families/`` compares or branches on a family name or an exact
   solver's key, looks one up as a literal key, or parses a model label back with
   ``split("-")``.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import lossbridge.families.registry
from lossbridge.estimation.exact import SOLVERS
from lossbridge.families.registry import FAMILIES

PACKAGE = "lossbridge"
SRC = Path(lossbridge.families.registry.__file__).resolve().parents[2]
ROOT = SRC.parent

STAGES: tuple[str, ...] = ("core", "data", "families", "models", "estimation", "posterior",
                           "present", "interfaces")
# Top-level modules: the public facade (lazy names) and ``python -m lossbridge``.
FACADE = ("__init__", "__main__")
# What ``present`` may import besides core, families and itself: display types only, by name.
PRESENT_FREE = ("core", "families", "present")
PRESENT_TYPES: dict[str, frozenset[str]] = {
    "lossbridge.models.identity": frozenset({"ModelId"}),
}
# The family names and exact-solver keys as of this writing; the registry and SOLVERS add
# any more, and this floor keeps the check from shrinking to nothing with them.
FLOOR_NAMES = frozenset({"normal", "laplace", "ols", "lad"})
LOOKUP_METHODS = frozenset({"get", "pop", "setdefault"})
LABEL_SPLITS = frozenset({"split", "rsplit", "partition", "rpartition"})


# ---------------------------------------------------------------------------- the source tree
@dataclass(frozen=True)
class Module:
    name: str  # dotted: lossbridge.posterior.loo; a package is named by its folder
    path: Path
    is_package: bool

    @property
    def tree(self) -> ast.Module:
        return ast.parse(self.path.read_text(encoding="utf-8"), filename=str(self.path))


@dataclass(frozen=True)
class Import:
    source: Module
    line: int
    target: str  # dotted module name, resolved
    names: tuple[str, ...]  # for ``from target import names``; () for ``import target``


def modules(src: Path, package: str = PACKAGE) -> dict[str, Module]:
    """Every module of ``src/package``, by dotted name."""
    out = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        out[".".join(parts)] = Module(".".join(parts), path, is_package)
    return out


def _where(module: Module, line: int) -> str:
    try:
        shown = module.path.relative_to(ROOT)
    except ValueError:
        shown = module.path
    return f"{shown}:{line}"


def imports(src: Path, package: str = PACKAGE) -> list[Import]:
    """Every import in the package, wherever it stands, with relative names resolved.

    ``from pkg import name`` is an import of ``pkg.name`` when that is a module of the
    tree (``from . import plots``), else of ``pkg`` (names from its ``__init__``).
    """
    tree = modules(src, package)
    found: list[Import] = []
    for module in tree.values():
        here = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found.append(Import(module, node.lineno, alias.name, ()))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[: len(here) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                submodules = [a.name for a in node.names if f"{target}.{a.name}" in tree]
                for name in submodules:
                    found.append(Import(module, node.lineno, f"{target}.{name}", ()))
                rest = tuple(a.name for a in node.names if a.name not in submodules)
                if rest:
                    found.append(Import(module, node.lineno, target, rest))
            elif (isinstance(node, ast.Call) and node.args
                  and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                  and _called(node) in {"import_module", "__import__"}):
                name = node.args[0].value
                if name.startswith(".") and len(node.args) > 1:  # relative to a literal package
                    anchor = node.args[1]
                    if isinstance(anchor, ast.Constant) and isinstance(anchor.value, str):
                        name = anchor.value + name
                    elif isinstance(anchor, ast.Name) and anchor.id == "__name__":
                        name = module.name + name
                found.append(Import(module, node.lineno, name, ()))
    return found


def _called(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def stage_of(name: str, package: str = PACKAGE) -> str | None:
    """The stage of a dotted module name of the package (``"facade"`` for top-level files)."""
    parts = name.split(".")
    if parts[0] != package:
        return None
    if len(parts) == 1 or parts[1] in FACADE:
        return "facade"
    return parts[1] if parts[1] in STAGES else f"<not a stage: {parts[1]}>"


# ---------------------------------------------------------------------------- the checks
def dependency_violations(src: Path, package: str = PACKAGE) -> list[str]:
    """Imports that run against the stage order (see the module docstring)."""
    out = []
    for mod in modules(src, package).values():
        stage = stage_of(mod.name, package)
        if stage is not None and stage.startswith("<"):
            out.append(f"{_where(mod, 1)}: {mod.name} is in no stage ({', '.join(STAGES)})")
    for imp in imports(src, package):
        source, target = stage_of(imp.source.name, package), stage_of(imp.target, package)
        if target is None or source == "facade" or target == "facade":
            continue  # outside the package; the root itself is import_of_root's business
        if source.startswith("<") or target.startswith("<"):
            continue  # reported above
        what = f"{imp.source.name} ({source}) imports {imp.target} ({target})"
        if source == "present":
            allowed = PRESENT_TYPES.get(imp.target.removeprefix(package + "."), None)
            allowed = PRESENT_TYPES.get(imp.target, allowed)
            if target in PRESENT_FREE:
                continue
            if allowed is not None and imp.names and set(imp.names) <= allowed:
                continue
            out.append(f"{_where(imp.source, imp.line)}: {what}"
                       f"{' ' + str(list(imp.names)) if imp.names else ''}; present imports only "
                       f"{', '.join(PRESENT_FREE)} and the display types in PRESENT_TYPES")
        elif STAGES.index(target) > STAGES.index(source):
            out.append(f"{_where(imp.source, imp.line)}: {what}, a later stage")
    return out


def root_import_violations(src: Path, package: str = PACKAGE) -> list[str]:
    """Imports of the package's own ``__init__`` from inside the package."""
    return [f"{_where(imp.source, imp.line)}: {imp.source.name} imports the package root "
            f"({'from ' + imp.target + ' import ' + ', '.join(imp.names) if imp.names else 'import ' + imp.target})"
            for imp in imports(src, package)
            if imp.target == package and imp.source.name != package]


def init_violations(src: Path, package: str = PACKAGE) -> list[str]:
    """Subpackage ``__init__`` files holding more than their docstring."""
    out = []
    for mod in modules(src, package).values():
        if not mod.is_package or mod.name == package:
            continue
        body = mod.tree.body
        docstring = (len(body) >= 1 and isinstance(body[0], ast.Expr)
                     and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str))
        for node in body[1:] if docstring else body:
            out.append(f"{_where(mod, node.lineno)}: {mod.name}/__init__.py holds "
                       f"{type(node).__name__}; a subpackage __init__ is its docstring only")
        if not body:
            out.append(f"{_where(mod, 1)}: {mod.name}/__init__.py has no docstring")
    return out


def _named(node: ast.AST, names: frozenset[str]) -> str | None:
    """The family name or solver key ``node`` is, or holds as a literal collection."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        # case-insensitive ("Normal" is a title compared as a name); "normal-learned" is a
        # model label spelled out, which keys by the family name just the same
        word = node.value.lower()
        return node.value if word in names or word.split("-", 1)[0] in names and "-" in word else None
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return next((hit for e in node.elts if (hit := _named(e, names))), None)
    if isinstance(node, ast.IfExp):
        return _named(node.body, names) or _named(node.orelse, names)
    if isinstance(node, ast.Dict):
        return next((hit for k in node.keys if k is not None and (hit := _named(k, names))), None)
    return None


def family_violations(src: Path, names: frozenset[str], package: str = PACKAGE,
                      exempt: str = "families") -> list[str]:
    """Places outside ``package.exempt`` that treat a family name or solver key as data to
    branch on, or parse a label back."""
    out = []
    for mod in modules(src, package).values():
        if mod.name.split(".")[1:2] == [exempt]:
            continue
        for node in ast.walk(mod.tree):
            found = None
            if isinstance(node, ast.Compare):
                ops = (ast.Eq, ast.NotEq, ast.In, ast.NotIn, ast.Is, ast.IsNot)
                if any(isinstance(op, ops) for op in node.ops):
                    hit = next((h for side in [node.left, *node.comparators] if (h := _named(side, names))), None)
                    found = hit and f"compares with {hit!r}"
            elif isinstance(node, ast.MatchValue):
                hit = _named(node.value, names)
                found = hit and f"matches case {hit!r}"
            elif isinstance(node, ast.Subscript):
                hit = _named(node.slice, names)
                found = hit and f"looks up [{hit!r}]"
            elif isinstance(node, ast.Call):
                called = _called(node)
                literal = node.args[0] if node.args else None
                if called == "get_family" and isinstance(literal, ast.Constant):
                    found = f"get_family({literal.value!r})"
                elif (called in LOOKUP_METHODS and isinstance(node.func, ast.Attribute)
                      and literal is not None and (hit := _named(literal, names))):
                    found = f".{called}({hit!r})"
                elif (called in LABEL_SPLITS and isinstance(node.func, ast.Attribute)
                      and isinstance(literal, ast.Constant) and literal.value == "-"):
                    found = f".{called}('-') (a label parsed back)"
                elif called in {"startswith", "endswith"} and literal is not None \
                        and (hit := _named(literal, names)):
                    found = f".{called}({hit!r})"
            if found:
                out.append(f"{_where(mod, node.lineno)}: {found}")
    return out


def family_names() -> frozenset[str]:
    return FLOOR_NAMES | frozenset(FAMILIES) | frozenset(SOLVERS)


def _report(violations: list[str]) -> str:
    return f"{len(violations)} violation(s):\n" + "\n".join(violations)


# ---------------------------------------------------------------------------- the package
def test_stage_list_matches_the_tree():
    subpackages = {p.name for p in (SRC / PACKAGE).iterdir()
                   if p.is_dir() and (p / "__init__.py").exists()}
    assert subpackages == set(STAGES)


def test_imports_run_one_way():
    assert not (violations := dependency_violations(SRC)), _report(violations)


def test_nothing_imports_the_package_root():
    assert not (violations := root_import_violations(SRC)), _report(violations)


def test_subpackage_inits_are_docstrings():
    assert not (violations := init_violations(SRC)), _report(violations)


def test_no_module_outside_families_branches_on_a_family_name():
    assert not (violations := family_violations(SRC, family_names())), _report(violations)


def test_the_graph_sees_lazy_imports():
    """Function-level imports are in the graph (the planted tree covers TYPE_CHECKING)."""
    found = {(i.source.name, i.target) for i in imports(SRC)}
    assert ("lossbridge.interfaces.cli", "lossbridge.interfaces.pipeline") in found  # lazy: start-up
    assert len(found) > 100


# ---------------------------------------------------------------------------- self-tests
def plant(tmp_path: Path, files: dict[str, str]) -> Path:
    """A package ``lossbridge`` under ``tmp_path/src`` with every stage and ``files``."""
    src = tmp_path / "src"
    for stage in ("", *STAGES):
        folder = src / PACKAGE / stage
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").write_text('"""Docstring."""\n')
    for name, text in files.items():
        path = src / PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return src


def test_dependency_check_catches_planted_violations(tmp_path):
    src = plant(tmp_path, {
        "core/ok.py": "import numpy\n",
        "data/table.py": "from ..core import ok\nfrom ..models.spec import ModelSpec\n",  # line 2
        "models/spec.py": "from ..families.base import Family\nModelSpec = 1\n",
        "families/base.py": "Family = 1\n",
        "estimation/fit.py": textwrap.dedent("""\
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from ..posterior.loo import Loo
            def f():
                from lossbridge.posterior import loo
            """),
        "posterior/loo.py": "Loo = 1\nimport importlib\nimportlib.import_module('lossbridge.present.text')\n",
        "present/text.py": textwrap.dedent("""\
            from ..core import ok
            from . import plots
            from ..models.identity import ModelId
            from ..models.identity import ModelId, make_id
            from ..posterior.loo import Loo
            from ..families.registry import FAMILIES
            from ..data import design
            def f():
                from ..estimation.map import find_map
            """),
        "present/plots.py": "",
        "data/design.py": "",
        "families/registry.py": "FAMILIES = {}\n",
        "estimation/map.py": "find_map = 1\n",
        "models/identity.py": "ModelId = make_id = 1\n",
        "interfaces/cli.py": "from ..present import text\nfrom ..posterior import loo\n",
        "extra/thing.py": "",
    })
    got = dependency_violations(src)
    where = sorted(v.split(": ")[0].split("src/lossbridge/")[-1] for v in got)
    assert where == ["data/table.py:2", "estimation/fit.py:3", "estimation/fit.py:5",
                     "extra/thing.py:1", "posterior/loo.py:3",
                     "present/text.py:4", "present/text.py:5", "present/text.py:7",
                     "present/text.py:9"], got
    assert any("a later stage" in v for v in got)
    assert any("PRESENT_TYPES" in v and "make_id" in v for v in got)


def test_root_import_check_catches_planted_violations(tmp_path):
    src = plant(tmp_path, {
        "posterior/a.py": "import lossbridge\n",
        "posterior/b.py": "from lossbridge import fit\n",
        "posterior/c.py": "def f():\n    from .. import compare\n",
        "posterior/d.py": "from .. import core\nfrom ..core import x\nimport lossbridge.core\n",
        "core/x.py": "",
        "__main__.py": "from .interfaces import cli\n",
    })
    got = root_import_violations(src)
    where = sorted(v.split(": ")[0].split("src/lossbridge/")[-1] for v in got)
    assert where == ["posterior/a.py:1", "posterior/b.py:1", "posterior/c.py:2"], got


def test_init_check_catches_planted_violations(tmp_path):
    src = plant(tmp_path, {"data/__init__.py": '"""Doc."""\nfrom .table import read\n',
                           "models/__init__.py": "X = 1\n",
                           "present/__init__.py": ""})
    got = init_violations(src)
    where = sorted(v.split(": ")[0].split("src/lossbridge/")[-1] for v in got)
    assert where == ["data/__init__.py:2", "models/__init__.py:1", "present/__init__.py:1"], got


PLANTED_FAMILY_BRANCHES = """\
\"\"\"Docstrings may say "normal" and "lad"; lines marked # flag are violations.\"\"\"
from ..families.registry import get_family
def f(spec, fits, label, family, colors):
    if spec.likelihood == "normal":  # flag
        pass
    ok = "lad" != spec.solver  # flag
    if spec.likelihood in ("normal", "laplace"):  # flag
        pass
    exact = fits["ols"]  # flag
    other = fits.get("lad")  # flag
    fam = get_family("laplace")  # flag
    likelihood, scale = label.split("-")  # flag
    head = label.partition("-")[0]  # flag
    match family.name:
        case "laplace":  # flag
            pass
        case "x" | "ols":  # flag
            pass
    shown = family.title == "Normal"  # flag
    color = colors["normal-learned"]  # flag
    other_color = colors["laplace-fixed" if ok else "x"]  # flag
    title = f"{family.title} likelihood, fitted by {family.exact_name}"
    fine = family.exact_solver is None and label.split(",") and colors[label]
    return "normal" not in label, label.startswith("lad")  # flag
"""


def test_family_check_catches_planted_violations(tmp_path):
    exempt = 'name = "normal"\nif name == "normal":\n    pass\n'
    src = plant(tmp_path, {"families/normal.py": exempt, "estimation/map.py": PLANTED_FAMILY_BRANCHES})
    got = family_violations(src, FLOOR_NAMES)
    where = [v.split(": ")[0].split("src/lossbridge/")[-1] for v in got]
    assert all(w.startswith("estimation/map.py:") for w in where), got  # families/ is exempt
    flagged = sorted({int(w.rsplit(":", 1)[1]) for w in where})
    marked = [i for i, line in enumerate(PLANTED_FAMILY_BRANCHES.splitlines(), start=1)
              if line.endswith("# flag")]
    assert flagged == marked, got
    assert any("(a label parsed back)" in v for v in got)


@pytest.mark.parametrize("name", sorted(FLOOR_NAMES))
def test_family_names_include_the_registry(name):
    assert name in family_names()
    assert frozenset(FAMILIES) | frozenset(SOLVERS) <= family_names()


# ---------------------------------------------------------------------------- entry points
def test_python_m_lossbridge_runs_the_cli(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    runs = {module: subprocess.run([sys.executable, "-m", module, "datasets"], capture_output=True,
                                   text=True, cwd=tmp_path, env=env, timeout=120)
            for module in ("lossbridge", "lossbridge.interfaces.cli")}
    assert {r.returncode for r in runs.values()} == {0}, runs
    assert runs["lossbridge"].stdout == runs["lossbridge.interfaces.cli"].stdout
    assert "engel" in runs["lossbridge"].stdout
    bad = subprocess.run([sys.executable, "-m", "lossbridge", "fit", "engel", "--bogus"],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("lossbridge: error: unrecognized arguments")


def test_compare_is_an_interface():
    """``lossbridge.compare`` knows the results objects, so it lives in interfaces/."""
    import lossbridge
    import lossbridge.posterior.comparison as computing

    assert lossbridge.compare.__module__ == "lossbridge.interfaces.compare"
    assert not hasattr(computing, "compare")


# ---------------------------------------------------------------------------- docs/design.md
def design_example() -> str:
    """The family registered from outside the package in docs/design.md's example."""
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    start = text.index("```python\n", text.index("A family from outside the package")) + len("```python\n")
    return text[start:text.index("```", start)]


def test_design_notes_family_example_registers_and_means_what_it_says():
    from scipy import stats

    from lossbridge.families.registry import get_family, unregister_family

    namespace: dict = {}
    exec(compile(design_example(), "docs/design.md", "exec"), namespace)  # noqa: S102 - our own doc
    try:
        family = get_family("gauss")
        assert isinstance(family, namespace["Gauss"])
        rng = np.random.default_rng(0)
        y, mu, scale = rng.normal(size=50), rng.normal(size=50), 1.7
        np.testing.assert_allclose(family.logpdf(y, mu, scale), stats.norm.logpdf(y, mu, scale), rtol=1e-13)
        import pytensor.tensor as pt

        tensor = family.logp(pt.as_tensor(y), pt.as_tensor(mu), pt.as_tensor(scale)).eval()
        np.testing.assert_allclose(tensor, stats.norm.logpdf(y, mu, scale), rtol=1e-13)
        r = y - mu
        loss = family.loss(r)
        nll = family.nll_constant(r.size, scale) + family.nll_loss_term(loss, scale)
        assert nll == pytest.approx(-stats.norm.logpdf(r, scale=scale).sum(), rel=1e-13)
        assert family.scale_mle(loss, r.size) == pytest.approx(stats.norm.fit(r, floc=0)[1], rel=1e-12)
        assert family.exact_solver in SOLVERS
        draws = family.replicate(np.zeros(20_000), scale, rng)
        assert abs(draws.std() - scale) < 4 * scale / np.sqrt(2 * draws.size)  # sd of the sd
    finally:
        unregister_family("gauss")


def test_design_notes_name_every_subpackage_and_rule():
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    for stage in STAGES:
        assert f"`{stage}/`" in text
    assert " < ".join(STAGES) in " ".join(text.split())
    for module in modules(SRC).values():
        if not module.is_package and module.path.stem not in FACADE:
            assert f"`{module.path.stem}`" in text, f"docs/design.md does not name {module.name}"

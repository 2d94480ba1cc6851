"""The method protocol and the engine's layers: one dtype rule, options from signatures, no import cycle."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import fieldgrad
from fieldgrad.conventions import result_dtype
from fieldgrad.plugin import AxisCoord, DerivativeMethod, StencilMethod, check_method, stencil_from_rows

PACKAGE = Path(fieldgrad.__file__).parent


# --------------------------------------------------------------------------- a method from the public module only


class ThreePoint(StencilMethod):
    """Centred differences with an option, written against ``fieldgrad.plugin`` alone."""

    name = "three-point-protocol-test"
    description = "centred differences times a scale"
    max_order = 1
    supports_nonuniform = True

    def halo(self, coord: AxisCoord, order: int, *, scale: float = 1.0) -> int:
        return 1

    def min_points(self, coord: AxisCoord, order: int, *, scale: float = 1.0) -> int:
        return 3 if coord.period is not None else 2

    def stencil(self, coord: AxisCoord, order: int, *, scale: float = 1.0):  # type: ignore[no-untyped-def]
        x, n = coord.values, coord.size
        rows = []
        for i in range(n):
            lo, hi = (i - 1, i + 1) if 0 < i < n - 1 else ((0, 1) if i == 0 else (n - 2, n - 1))
            w = scale / (x[hi] - x[lo])
            rows.append([(lo, -w), (hi, w)])
        return stencil_from_rows(n, rows)


class Gradient(DerivativeMethod):
    """numpy.gradient behind the protocol, with one option."""

    name = "numpy-gradient-protocol-test"
    max_order = 1
    supports_nonuniform = True

    def halo(self, coord: AxisCoord, order: int, *, edge_order: int = 1) -> int:
        return edge_order

    def min_points(self, coord: AxisCoord, order: int, *, edge_order: int = 1) -> int:
        return edge_order + 1

    def derivative(
        self, values: np.ndarray, coord: AxisCoord, *, axis: int, order: int, edge_order: int = 1
    ) -> np.ndarray:
        assert values.dtype.kind == "f", "the engine hands methods floating arrays"
        return np.gradient(values, coord.values, axis=axis, edge_order=edge_order)


def test_options_are_declared_by_the_signature() -> None:
    assert ThreePoint.options == {"scale": 1.0}
    assert Gradient.options == {"edge_order": 1}
    assert fieldgrad.get_method("fd").options == {"accuracy": 2, "edge_order": None}
    with pytest.raises(TypeError, match=r"unexpected keyword 'window'.*options of method .*: edge_order"):
        xr.DataArray(np.arange(5.0), dims="x").grad.partial("x", method=Gradient, window=3)


@pytest.mark.parametrize("cls", [ThreePoint, Gradient])
def test_a_method_written_to_the_public_protocol_passes_every_check(cls: type) -> None:
    counts = check_method(cls, orders=[1])
    # every boundary kind the engine offers it (one-sided, periodic emulated, fill) and both policies
    assert counts["chunked"] >= 3 * 3 * 3 * 2


def test_a_public_protocol_method_works_in_every_operation() -> None:
    x = np.linspace(0.0, 2.0, 41)
    y = np.linspace(-1.0, 1.0, 31)
    f = xr.DataArray(np.sin(x)[:, None] * np.cos(y)[None, :], dims=("x", "y"), coords={"x": x, "y": y})
    for method in (ThreePoint, Gradient):
        want = f.grad.gradient(method="fd", edge_order=1)
        got = f.grad.gradient(method=method)
        np.testing.assert_allclose(got.values, want.values, rtol=1e-12, atol=1e-12)
        lazy = f.chunk(x=7, y=5).grad.gradient(method=method)
        np.testing.assert_allclose(lazy.values, got.values, rtol=1e-12, atol=1e-12)
        ds = xr.Dataset({"u": f, "v": -f})
        div = ds.grad.divergence({"x": "u", "y": "v"}, method=method)
        np.testing.assert_allclose(
            div.values, got.sel(component="x").values - got.sel(component="y").values, rtol=1e-12, atol=1e-12
        )
        for boundary in ("periodic", "fill"):
            mem = f.grad.partial("x", method=method, boundary=boundary)
            lazy = f.chunk(x=4).grad.partial("x", method=method, boundary=boundary)
            np.testing.assert_allclose(lazy.values, mem.values, rtol=1e-12, atol=1e-12, equal_nan=True)
        gappy = f.where(np.abs(f.x - 1.0) > 0.06)
        mem = gappy.grad.partial("x", method=method, nan_policy="omit")
        lazy = gappy.chunk(x=3).grad.partial("x", method=method, nan_policy="omit")
        np.testing.assert_allclose(lazy.values, mem.values, rtol=1e-12, atol=1e-12, equal_nan=True)


# --------------------------------------------------------------------------- one dtype rule

METHODS = [("fd", {}), ("polyfit", {"window": 5, "degree": 2}), ("spline", {"smoothing": None})]


@pytest.mark.parametrize(("method", "options"), METHODS)
@pytest.mark.parametrize("dtype", ["uint8", "int16", "bool", "float16", "float32", "float64"])
def test_every_method_follows_the_dtype_rule(method: str, options: dict, dtype: str) -> None:
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 2 if dtype == "bool" else 200, size=(12, 10))
    f = xr.DataArray(
        raw.astype(dtype), dims=("x", "y"), coords={"x": np.arange(12.0) * 0.5, "y": np.linspace(0, 1, 10)}
    )
    want = result_dtype(np.dtype(dtype))
    as64 = f.astype(np.float64)
    for op in ("partial", "gradient"):
        args = ("x",) if op == "partial" else ()
        got = getattr(f.grad, op)(*args, method=method, **options)
        assert got.dtype == want, (op, got.dtype)
        lazy = getattr(f.chunk(x=4, y=5).grad, op)(*args, method=method, **options)
        assert lazy.dtype == want  # declared
        assert lazy.compute().dtype == want  # computed
        assert lazy.data.blocks[(0,) * lazy.ndim].compute().dtype == want  # every block, not only the total
        ref = getattr(as64.grad, op)(*args, method=method, **options)
        # integers are exact in float64: the same numbers as the float64 field; float16/32 to their precision
        tol = 0 if want == np.float64 else 2e-6 * float(np.abs(ref).max())
        np.testing.assert_allclose(got.values, ref.values.astype(want), rtol=0, atol=tol)
        np.testing.assert_allclose(got.values, lazy.values, rtol=0, atol=tol)


def test_gradient_components_equal_partials_for_every_method() -> None:
    f = xr.DataArray(np.random.default_rng(1).integers(0, 255, (20, 16)).astype(np.uint8), dims=("x", "y"))
    for method, options in METHODS:
        g = f.grad.gradient(method=method, **options)
        for dim in ("x", "y"):
            np.testing.assert_array_equal(
                g.sel(component=dim).values, f.grad.partial(dim, method=method, **options).values
            )


# --------------------------------------------------------------------------- layers


def _imports(path: Path) -> set[str]:
    """The fieldgrad modules a module imports, at the top or inside functions."""
    depth = len(path.relative_to(PACKAGE).parts)  # 1 for fieldgrad/x.py, 2 in a subpackage
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == depth:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fieldgrad."):
            out.add(node.module.split(".")[1])
    return out - {"__init__"}


def _module_graph() -> dict[str, set[str]]:
    """fieldgrad's modules and subpackages (a subpackage's files read as one module) and what each imports."""
    files = {p.stem: [p] for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__")}
    files.update({p.name: sorted(p.glob("*.py")) for p in PACKAGE.iterdir() if (p / "__init__.py").exists()})
    return {name: (set().union(*map(_imports, paths)) - {name}) & files.keys() for name, paths in files.items()}


def test_no_import_cycle_among_the_modules() -> None:
    graph = _module_graph()
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep) :] + [dep] if dep in stack else [node, dep]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_the_engine_layers_import_only_downward() -> None:
    graph = _module_graph()
    assert "chunked" not in graph["engine"] and "dispatch" not in graph["engine"]
    assert "dispatch" not in graph["chunked"]
    for low in ("conventions", "reuse", "options", "coords", "stencil", "kernels", "method", "plan", "boundary"):
        assert not graph[low] & {"engine", "chunked", "dispatch", "calculus", "accessor"}, low


def test_boundary_and_nan_policy_names_are_defined_once() -> None:
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        if path.name == "conventions.py":
            continue
        assert '("one-sided", "periodic", "fill")' not in text, path
        assert '("propagate", "omit")' not in text, path


def test_the_plugin_module_exports_what_the_example_plugins_import() -> None:
    plugin = importlib.import_module("fieldgrad.plugin")
    for name in plugin.__all__:
        assert hasattr(plugin, name), name
    root = PACKAGE.parent
    for path in [*root.glob("plugins/*/src/*/__init__.py"), *root.glob("examples/custom_method/src/*/__init__.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fieldgrad"):
                assert node.module == "fieldgrad.plugin", f"{path}: imports {node.module}"

"""The method registry: lazy entry points, broken plugins, duplicates, name/class/instance lookup.

Entry points are faked as xarray's tests/test_plugins.py does: hand-built
``importlib.metadata.EntryPoint`` objects tied to fake distributions, returned by a
monkeypatched ``fieldgrad.registry.entry_points``. The plugin modules are real files written to
a temporary directory on ``sys.path``, so loading goes through the real import machinery.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import uuid
import warnings
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

import fieldgrad
from fieldgrad import registry
from fieldgrad.fd import FiniteDifference
from fieldgrad.registry import GROUP, FieldgradPluginWarning

GOOD_PLUGIN = """
import numpy as np
import fieldgrad

IMPORTS = [1]

class {cls}(fieldgrad.DerivativeMethod):
    name = "{name}"
    description = "{description}"
    max_order = 1
    supports_nonuniform = True

    def halo(self, coord, order, **options):
        return 1

    def derivative(self, values, coord, *, axis, order, **options):
        return np.gradient(values, coord.values, axis=axis, edge_order=1)
"""


@dataclass(frozen=True)
class FakeDist:
    name: str


@dataclass(frozen=True)
class FakeEntryPoint:
    """Stand-in for EntryPoint where ``_for`` is unavailable; also used for load() that raises."""

    name: str
    value: str
    dist: Any
    error: BaseException | None = None
    group: str = GROUP

    def load(self) -> Any:
        if self.error is not None:
            raise self.error
        return EntryPoint(self.name, self.value, self.group).load()


def make_ep(name: str, value: str, dist: str | None) -> Any:
    ep = EntryPoint(name=name, value=value, group=GROUP)
    if dist is None:
        return ep
    if hasattr(ep, "_for"):
        return ep._for(FakeDist(dist))
    return FakeEntryPoint(name, value, FakeDist(dist))


class Registry:
    """Controls what the registry sees: fake entry points and plugin modules on sys.path."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        self.eps: list[Any] = []
        self.scans = 0
        self.tmp = tmp_path
        self.modules: list[str] = []
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.setattr(registry, "entry_points", self._entry_points)

    def _entry_points(self, group: str | None = None) -> list[Any]:
        assert group == GROUP
        self.scans += 1
        return list(self.eps)

    def module(self, source: str, name: str | None = None) -> str:
        """Write a module file (unique name) and return its name."""
        name = name or f"fgplugin_{uuid.uuid4().hex[:10]}"
        path = self.tmp.joinpath(*name.split("."))
        if "." in name:
            for parent in list(path.parents)[: name.count(".")]:
                parent.mkdir(parents=True, exist_ok=True)
                init = parent / "__init__.py"
                if not init.exists():
                    init.write_text("import sys\nsys.modules[__name__].LOADED = True\n")
        path.with_suffix(".py").write_text(textwrap.dedent(source))
        self.modules.append(name)
        return name

    def plugin(
        self,
        name: str,
        dist: str = "fake-dist",
        description: str = "a fake method",
        cls: str = "Method",
        module: str | None = None,
    ) -> str:
        mod = self.module(GOOD_PLUGIN.format(cls=cls, name=name, description=description), module)
        self.add(name, f"{mod}:{cls}", dist)
        return mod

    def add(self, name: str, value: str, dist: str | None = "fake-dist") -> None:
        self.eps.append(make_ep(name, value, dist))
        registry.refresh_methods()


@pytest.fixture
def reg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    saved = dict(registry._registered)
    registry.refresh_methods()
    r = Registry(monkeypatch, tmp_path)
    yield r
    registry._registered.clear()
    registry._registered.update(saved)
    for mod in r.modules:
        for key in [k for k in sys.modules if k == mod or k.startswith(mod.split(".")[0])]:
            sys.modules.pop(key, None)
    monkeypatch.undo()
    registry.refresh_methods()


def plugin_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, FieldgradPluginWarning)]


# --------------------------------------------------------------------------- built-ins


def test_fd_lookup_never_scans_entry_points(reg: Registry) -> None:
    reg.eps.append(make_ep("other", "nowhere:Nothing", "x"))
    assert isinstance(fieldgrad.get_method("fd"), FiniteDifference)
    da = xr.DataArray(np.arange(5.0) ** 2, dims="x")
    np.testing.assert_allclose(da.grad.partial("x", method="fd").values, np.gradient(da.values, edge_order=2))
    np.testing.assert_allclose(da.grad.partial("x").values, np.gradient(da.values, edge_order=2))
    assert reg.scans == 0


def test_builtin_entry_point_of_fieldgrad_itself_is_silent(reg: Registry) -> None:
    reg.add("fd", registry.BUILTIN["fd"], "fieldgrad")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        methods = fieldgrad.available_methods()
    assert plugin_warnings(record) == []
    assert methods["fd"] == FiniteDifference.description


def test_entry_point_shadowing_a_builtin_is_ignored_with_a_warning(reg: Registry) -> None:
    reg.plugin("fd", dist="evil-fd", cls="FakeFd")
    with pytest.warns(FieldgradPluginWarning, match=r"'fd' from \['evil-fd'\] is ignored"):
        methods = fieldgrad.available_methods()
    assert methods["fd"] == FiniteDifference.description
    assert type(fieldgrad.get_method("fd")) is FiniteDifference


# --------------------------------------------------------------------------- lazy loading


def test_listing_never_imports_a_plugin(reg: Registry) -> None:
    mod = reg.plugin("lazy", dist="lazy-dist")
    pkg = reg.plugin("lazypkg", dist="pkg-dist", module="fgpkg_lazy_parent.sub")
    methods = fieldgrad.available_methods()
    assert methods["lazy"] == "plugin from lazy-dist"
    assert methods["lazypkg"] == "plugin from pkg-dist"
    assert mod not in sys.modules
    assert "fgpkg_lazy_parent" not in sys.modules and pkg not in sys.modules
    method = fieldgrad.get_method("lazy")
    assert mod in sys.modules and method.name == "lazy"
    assert fieldgrad.available_methods()["lazy"] == "a fake method"  # loaded: its own description
    assert reg.scans == 1  # scanned once, cached


def test_scan_is_cached_until_refresh(reg: Registry) -> None:
    fieldgrad.available_methods()
    n = reg.scans
    mod = reg.module(GOOD_PLUGIN.format(cls="Method", name="late", description="installed later"))
    reg.eps.append(make_ep("late", f"{mod}:Method", "late-dist"))  # "pip install" after the scan
    assert "late" not in fieldgrad.available_methods()
    assert reg.scans == n
    fieldgrad.refresh_methods()
    assert "late" in fieldgrad.available_methods()
    assert reg.scans == n + 1


def test_plugin_works_through_the_accessor(reg: Registry) -> None:
    reg.plugin("viaep")
    x = np.array([0.0, 1.0, 3.0, 4.0, 7.0])
    da = xr.DataArray(x**2, dims="x", coords={"x": x})
    out = da.grad.partial("x", method="viaep")
    np.testing.assert_allclose(out.values, np.gradient(x**2, x, edge_order=1))


def test_concurrent_first_use_loads_once(reg: Registry) -> None:
    mod = reg.plugin("threaded")
    results: list[type] = []

    def use() -> None:
        results.append(type(fieldgrad.get_method("threaded")))

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 8
    assert sys.modules[mod].IMPORTS == [1]


# --------------------------------------------------------------------------- broken plugins


def test_plugin_failing_to_import(reg: Registry) -> None:
    mod = reg.module("raise ImportError('needs libfoo, which is not installed')\n")
    reg.add("broken", f"{mod}:Method", "broken-dist")
    reg.plugin("fine")
    # listing cannot know yet (it imports nothing): the broken one is listed
    assert "broken" in fieldgrad.available_methods()
    with pytest.warns(FieldgradPluginWarning, match="broken-dist") as record:
        with pytest.raises(ValueError, match=r"'broken'.*'broken-dist'.*needs libfoo"):
            fieldgrad.get_method("broken")
    assert len(plugin_warnings(record.list)) == 1
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="broken-dist"):
            fieldgrad.get_method("broken")
        methods = fieldgrad.available_methods()
    assert plugin_warnings(again) == []  # reported once
    assert "broken" not in methods and "fine" in methods and "fd" in methods
    assert "broken" in registry.method_failures()
    # the rest of fieldgrad is unaffected
    assert fieldgrad.get_method("fine").name == "fine"


def test_plugin_whose_load_raises_any_exception(reg: Registry) -> None:
    reg.eps.append(FakeEntryPoint("explodes", "whatever:Thing", FakeDist("boom-dist"), error=RuntimeError("kaboom")))
    registry.refresh_methods()
    with pytest.warns(FieldgradPluginWarning, match="boom-dist"):
        with pytest.raises(ValueError, match=r"'explodes'.*'boom-dist'.*RuntimeError: kaboom"):
            fieldgrad.get_method("explodes")


def test_missing_module_is_warned_once_when_listing(reg: Registry) -> None:
    reg.add("ghost", "fg_no_such_module_anywhere.sub:Ghost", "ghost-dist")
    with pytest.warns(FieldgradPluginWarning, match=r"'ghost'.*'ghost-dist'.*no module named") as record:
        methods = fieldgrad.available_methods()
    assert len(plugin_warnings(record.list)) == 1
    assert "ghost" not in methods and "fd" in methods
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        fieldgrad.available_methods()
        with pytest.raises(ValueError, match="ghost-dist"):
            fieldgrad.get_method("ghost")
    assert plugin_warnings(again) == []


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("class Method:\n    name = 'badcls'\n", "subclass of fieldgrad.DerivativeMethod"),
        (GOOD_PLUGIN.format(cls="Method", name="othername", description="d"), "names must match"),
        (
            (
                "import fieldgrad\nclass Method(fieldgrad.DerivativeMethod):\n    name = 'badcls'\n"
                "    def halo(self, coord, order, **kw):\n        return 1\n"
            ),
            "must implement derivative",
        ),
        (
            GOOD_PLUGIN.format(cls="Method", name="badcls", description="d")
            + "    def __init__(self, needed):\n        pass\n",
            "cannot be instantiated",
        ),
        (
            GOOD_PLUGIN.format(cls="Method", name="badcls", description="d") + "    boundaries = ('reflect',)\n",
            "boundaries",
        ),
        (GOOD_PLUGIN.format(cls="Method", name="badcls", description="d") + "    max_order = -1\n", "max_order"),
    ],
)
def test_plugin_failing_validation(reg: Registry, source: str, why: str) -> None:
    mod = reg.module(source)
    reg.add("badcls", f"{mod}:Method", "bad-dist")
    with pytest.warns(FieldgradPluginWarning, match="bad-dist"):
        with pytest.raises(ValueError, match=why):
            fieldgrad.get_method("badcls")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        assert "badcls" not in fieldgrad.available_methods()


def test_entry_point_scan_failure_does_not_break_listing(reg: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(group: str | None = None) -> list[Any]:
        raise OSError("unreadable site-packages")

    monkeypatch.setattr(registry, "entry_points", broken)
    registry.refresh_methods()
    with pytest.warns(FieldgradPluginWarning, match="unreadable"):
        assert "fd" in fieldgrad.available_methods()


def test_refresh_after_fixing_a_plugin(reg: Registry) -> None:
    mod = reg.module("raise ImportError('not yet')\n")
    reg.add("fixme", f"{mod}:Method", "fix-dist")
    with pytest.warns(FieldgradPluginWarning), pytest.raises(ValueError, match="not yet"):
        fieldgrad.get_method("fixme")
    sys.modules.pop(mod, None)
    (reg.tmp / f"{mod}.py").write_text(GOOD_PLUGIN.format(cls="Method", name="fixme", description="d"))
    import importlib

    importlib.invalidate_caches()
    fieldgrad.refresh_methods()
    assert fieldgrad.get_method("fixme").name == "fixme"


# --------------------------------------------------------------------------- duplicates


@pytest.mark.parametrize("order", [["a-dist", "z-dist"], ["z-dist", "a-dist"]])
def test_duplicate_entry_points_resolve_the_same_on_every_path(reg: Registry, order: list[str]) -> None:
    for dist in order:
        reg.plugin("twin", dist=dist, description=f"from {dist}")
    with pytest.warns(FieldgradPluginWarning, match=r"several distributions \['a-dist', 'z-dist'\].*'a-dist'"):
        listed = fieldgrad.available_methods()
    assert listed["twin"] == "plugin from a-dist"
    method = fieldgrad.get_method("twin")
    assert method.description == "from a-dist"
    assert fieldgrad.available_methods()["twin"] == "from a-dist"


def test_same_distribution_listed_twice_is_not_a_duplicate(reg: Registry) -> None:
    mod = reg.plugin("once", dist="one-dist")
    reg.add("once", f"{mod}:Method", "one-dist")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fieldgrad.available_methods()
        fieldgrad.get_method("once")
    assert plugin_warnings(record) == []


def _local_method(name: str, description: str = "registered here") -> type[fieldgrad.DerivativeMethod]:
    class Local(fieldgrad.DerivativeMethod):
        max_order = 1
        supports_nonuniform = True

        def halo(self, coord: Any, order: int, **options: Any) -> int:
            return 1

        def derivative(self, values: np.ndarray, coord: Any, *, axis: int, order: int, **options: Any) -> np.ndarray:
            return np.gradient(values, coord.values, axis=axis)

    Local.name = name
    Local.description = description
    return Local


@pytest.mark.parametrize("register_first", [True, False])
def test_registration_wins_over_entry_point(reg: Registry, register_first: bool) -> None:
    reg.plugin("mine", dist="plugin-dist", description="from the plugin")
    local = _local_method("mine")
    if register_first:
        fieldgrad.register_method(local)
        with pytest.warns(FieldgradPluginWarning, match=r"'mine'.*'plugin-dist' is ignored.*registered"):
            listed = fieldgrad.available_methods()
    else:
        fieldgrad.available_methods()  # scanned before the registration
        with pytest.warns(FieldgradPluginWarning, match=r"'mine'.*'plugin-dist' is ignored.*registered"):
            fieldgrad.register_method(local)
        listed = fieldgrad.available_methods()
    assert listed["mine"] == "registered here"
    assert type(fieldgrad.get_method("mine")) is local


def test_register_builtin_name_refused(reg: Registry) -> None:
    with pytest.raises(ValueError, match="built-in"):
        fieldgrad.register_method(_local_method("fd"))


def test_register_again_replaces_with_warning(reg: Registry) -> None:
    first, second = _local_method("again", "first"), _local_method("again", "second")
    fieldgrad.register_method(first)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fieldgrad.register_method(first)  # same class: silent
    with pytest.warns(FieldgradPluginWarning, match="replacing"):
        fieldgrad.register_method(second)
    assert fieldgrad.available_methods()["again"] == "second"


def test_register_validates(reg: Registry) -> None:
    class NoHalo(fieldgrad.DerivativeMethod):
        name = "nohalo"

        def derivative(self, values, coord, *, axis, order, **options):  # type: ignore[no-untyped-def]
            return values

    with pytest.raises(TypeError, match="halo"):
        fieldgrad.register_method(NoHalo)
    with pytest.raises(TypeError, match="subclass"):
        fieldgrad.register_method(object)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- lookup forms


def test_unknown_name_lists_available_methods(reg: Registry) -> None:
    reg.plugin("listed-plugin")
    fieldgrad.register_method(_local_method("listed-local"))
    with pytest.raises(ValueError, match="unknown derivative method 'nope'") as info:
        fieldgrad.get_method("nope")
    for name in ("fd", "listed-plugin", "listed-local"):
        assert repr(name) in str(info.value)
    da = xr.DataArray(np.arange(5.0), dims="x")
    with pytest.raises(ValueError, match=r"available methods: \[.*'fd'"):
        da.grad.partial("x", method="nope")


def test_method_accepts_name_class_or_instance(reg: Registry) -> None:
    local = _local_method("by-every-form")
    fieldgrad.register_method(local)
    x = np.array([0.0, 0.5, 2.0, 2.5, 4.0, 6.0])
    da = xr.DataArray(np.sin(x), dims="x", coords={"x": x})
    expected = np.gradient(np.sin(x), x)
    for method in ("by-every-form", local, local()):
        np.testing.assert_allclose(da.grad.partial("x", method=method).values, expected)
    # a class or instance need not be registered
    unregistered = _local_method("never-registered")
    np.testing.assert_allclose(da.grad.partial("x", method=unregistered()).values, expected)
    assert isinstance(fieldgrad.get_method(FiniteDifference), FiniteDifference)
    fd = FiniteDifference()
    assert fieldgrad.get_method(fd) is fd
    with pytest.raises(TypeError, match="method must be"):
        fieldgrad.get_method(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="subclass"):
        da.grad.partial("x", method=int)


def test_method_refusing_nonuniform_coordinates(reg: Registry) -> None:
    class UniformOnly(fieldgrad.DerivativeMethod):
        name = "uniform-only"
        supports_nonuniform = False
        max_order = 1

        def halo(self, coord: Any, order: int, **options: Any) -> int:
            return 1

        def derivative(self, values: np.ndarray, coord: Any, *, axis: int, order: int) -> np.ndarray:
            assert coord.spacing is not None  # the engine never calls it on a non-uniform axis
            return np.gradient(values, coord.spacing, axis=axis)

    x = np.linspace(0.0, 1.0, 7)
    uniform = xr.DataArray(x**2, dims="x", coords={"x": x})
    np.testing.assert_allclose(uniform.grad.partial("x", method=UniformOnly).values, np.gradient(x**2, x))
    np.testing.assert_allclose(uniform.chunk(x=3).grad.partial("x", method=UniformOnly).values, np.gradient(x**2, x))
    xn = x**2
    nonuniform = xr.DataArray(xn, dims="x", coords={"x": xn})
    with pytest.raises(ValueError, match=r"'uniform-only' needs uniformly spaced.*'x'"):
        nonuniform.grad.partial("x", method=UniformOnly)
    with pytest.raises(ValueError, match="needs uniformly spaced"):
        nonuniform.chunk(x=3).grad.partial("x", method=UniformOnly)


def test_method_objects_hold_no_state(reg: Registry) -> None:
    """get_method by name returns a fresh, stateless object; equal methods compare equal."""
    a, b = fieldgrad.get_method("fd"), fieldgrad.get_method("fd")
    assert a == b and hash(a) == hash(b)
    assert vars(a) == {}


# --------------------------------------------------------------------------- import cost

CHECK_IMPORTS = """
import sys
import fieldgrad
def heavy():
    names = ("scipy", "fieldgrad_polyfit", "fieldgrad_spline", "fieldgrad_spectral")
    return sorted(m for m in sys.modules
                  if m.split(".")[0] in names or m == "dask.array" or m.startswith("dask.array."))
first = heavy()
methods = fieldgrad.available_methods()
second = heavy()
print(repr((first, second, sorted(methods))))
"""


@pytest.mark.slow  # needs a fresh interpreter (a subprocess): the test process has imported everything
def test_import_and_listing_import_no_scipy_dask_array_or_plugin() -> None:
    out = subprocess.run([sys.executable, "-c", CHECK_IMPORTS], capture_output=True, text=True, check=True)
    first, second, methods = eval(out.stdout.strip().splitlines()[-1])
    assert first == [], f"`import fieldgrad` imported {first}"
    assert second == [], f"`fieldgrad.available_methods()` imported {second}"
    assert "fd" in methods

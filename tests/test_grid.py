"""fieldgrad.Grid, the keyword table and the one Dataset loop: one grid, resolved once.

* every operator gives the same numbers with ``grid=`` as without, on every geometry, in memory
  and chunked; a Grid pickles and runs on a cluster; reusing one costs no pyproj call after the first;
* CF files whose grid mapping is a data variable (as ``xr.open_dataset`` reads them) work in every
  Dataset form; ``fieldgrad.partial`` takes geometry keywords; one default-dims rule;
* a keyword that belongs to no group is a TypeError naming the groups; ``on_missing`` says what
  happens to variables that lack the dims.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from test_geometry import lambert, planar, rossby_haurwitz, rotated_pole

import fieldgrad
import fieldgrad.datasets
from fieldgrad.keywords import KeywordError

pytest.importorskip("pyproj")
pytest.importorskip("h5netcdf")


# ----------------------------------------------------------------------------- the same numbers with grid=


def cases() -> dict[str, tuple[xr.Dataset, dict, list[str], dict[str, str]]]:
    """name -> (dataset with a field f and a wind u, v; geometry keywords; the directions; the wind's components)."""
    ds_sphere, _, _ = rossby_haurwitz(10.0)
    ds_sphere = ds_sphere.assign(f=ds_sphere.psi)
    ds_lambert, _, _ = lambert(21)
    ds_planar = planar(15)
    ds_planar = ds_planar.assign(u=ds_planar.f * 2, v=ds_planar.f**2)
    ds_rotated = rotated_pole(12)
    x = np.linspace(0, 1, 12)
    flat = xr.Dataset(
        {"f": (("x", "y"), np.add.outer(np.sin(3 * x), x**3)), "u": (("x", "y"), np.outer(x, x))},
        coords={"x": ("x", x, {"units": "m"}), "y": ("y", x**1.5, {"units": "m"})},
    )
    flat = flat.assign(v=flat.f * flat.u)
    xy = {"x": "u", "y": "v"}
    return {
        "flat": (flat, {}, ["x", "y"], xy),
        "curvilinear": (ds_planar, {}, ["x", "y"], xy),
        "sphere": (ds_sphere, {"geometry": "sphere"}, ["latitude", "longitude"], {"latitude": "v", "longitude": "u"}),
        "latlon2d": (ds_rotated, {"geometry": "sphere"}, ["lat", "lon"], {"lat": "v", "lon": "u"}),
        "projected": (ds_lambert, {"geometry": "projected"}, ["y", "x"], {"y": "v", "x": "u"}),
    }


def operator_calls(ds: xr.Dataset, dims: list[str], comps: dict[str, str]) -> dict[str, object]:
    F = fieldgrad.datasets.vector_from(ds, comps)
    return {
        "gradient": lambda f, kw: f.grad.gradient(**kw),
        "laplacian": lambda f, kw: f.grad.laplacian(**kw),
        "hessian": lambda f, kw: f.grad.hessian(**kw),
        "directional": lambda f, kw: f.grad.directional({dims[0]: 1.0, dims[1]: 2.0}, **kw),
        "partial": lambda f, kw: f.grad.partial(dims[1], **kw),
        "divergence": lambda f, kw: F.grad.divergence(**kw),
        "curl": lambda f, kw: F.grad.curl(**kw),
        "jacobian": lambda f, kw: F.grad.jacobian(**kw),
        "advection": lambda f, kw: f.grad.advection(F, **kw),
    }


@pytest.mark.parametrize("case", list(cases()))
def test_every_operator_gives_the_same_numbers_with_a_grid(case: str) -> None:
    ds, geo, dims, comps = cases()[case]
    f = ds.f
    scalar_dims = {"dims": dims} if case in ("flat", "curvilinear") else {}
    grid = fieldgrad.Grid(ds, **geo)
    for name, op in operator_calls(ds, dims, comps).items():
        kw = {**scalar_dims} if name in ("gradient", "laplacian", "hessian") else {}
        want = op(f, {**kw, **geo})
        got = op(f, {**kw, "grid": grid})
        xr.testing.assert_identical(got, want)
        again = op(f, {**kw, "grid": grid})  # what the grid derived is kept: still the same
        xr.testing.assert_identical(again, want)


@pytest.mark.parametrize("case", ["sphere", "latlon2d", "projected", "curvilinear"])
def test_a_grid_on_chunked_fields_gives_the_in_memory_numbers(case: str) -> None:
    ds, geo, dims, comps = cases()[case]
    grid = fieldgrad.Grid(ds, **geo)
    chunked = ds.chunk({d: max(3, n // 3) for d, n in ds.sizes.items()})
    for name, op in operator_calls(ds, dims, comps).items():
        if name in ("jacobian", "hessian"):
            continue
        F_lazy = fieldgrad.datasets.vector_from(chunked, comps)
        kw = {"dims": dims} if case == "curvilinear" and name in ("gradient", "laplacian") else {}
        want = op(ds.f, {**kw, **geo})
        if name in ("divergence", "curl"):
            got = getattr(F_lazy.grad, name)(grid=grid)
        elif name == "advection":
            got = chunked.f.grad.advection(F_lazy, grid=grid)
        else:
            got = op(chunked.f, {**kw, "grid": grid})
        assert got.chunks is not None, name
        xr.testing.assert_allclose(got.compute(), want, rtol=1e-12, atol=1e-18)


def test_a_grid_pickles_and_gives_the_same_numbers() -> None:
    ds, geo, _, _ = cases()["projected"]
    grid = fieldgrad.Grid(ds, **geo)
    first = ds.f.grad.laplacian(grid=grid)
    copy = pickle.loads(pickle.dumps(grid))
    xr.testing.assert_identical(ds.f.grad.laplacian(grid=copy), first)
    assert repr(copy) == repr(grid)


def test_reusing_a_grid_computes_its_map_factors_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyproj

    ds, _, _ = lambert(31)
    calls = {"n": 0}
    real = pyproj.Transformer.transform

    def counting(self, *args, **kwargs):
        calls["n"] += 1
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pyproj.Transformer, "transform", counting)
    grid = fieldgrad.Grid(ds, geometry="projected")
    ds.f.grad.gradient(grid=grid)
    first = calls["n"]
    assert first > 0
    for _ in range(5):
        ds.f.grad.gradient(grid=grid)
        ds.grad.laplacian(grid=grid)
        ds.f.grad.laplacian(grid=grid, accuracy=4)  # other derivative keywords: the same map factors
    assert calls["n"] == first


def test_the_grid_repr_shows_what_was_detected() -> None:
    ds, _, _ = rossby_haurwitz(10.0)
    text = repr(fieldgrad.Grid(ds, geometry="sphere"))
    for part in ("sphere", "latitude: latitude", "longitude: longitude", "radius: 6.371e+06 m", "periodic: longitude"):
        assert part in text, text
    assert "south pole at latitude" in text and "north pole at latitude" in text, text
    lam, _, _ = lambert(11)
    text = repr(fieldgrad.Grid(lam, geometry="projected"))
    assert "Lambert" in text or "lambert" in text.lower(), text
    assert "grid_mapping variable 'lambert'" in text, text


def test_a_cartesian_grid_repr_shows_its_default_dims_and_2d_coordinates() -> None:
    text = repr(fieldgrad.Grid(planar(5)))
    assert "default dims: j, i" in text and "2-D coordinates (a curvilinear grid when named): x('j', 'i')" in text
    t = np.datetime64("2000-01-01", "ns") + np.arange(3) * np.timedelta64(1, "h")
    text = repr(fieldgrad.Grid(xr.Dataset(coords={"time": t, "x": np.arange(3.0)})))
    assert "default dims: none without naming them (no dims named, and the field has the time dim 'time'" in text


def test_a_vector_labelled_by_2d_lat_lon_beside_1d_rotated_coordinates() -> None:
    """A rotated-pole file has 1-D grid_latitude/grid_longitude and 2-D latitude/longitude: a wind
    labelled by the 2-D ones is differentiated through them (not through rlat/rlon plus them)."""
    ds = rotated_pole(12)
    rlat, rlon = np.linspace(-25, 25, 12), np.linspace(-30, 30, 16)
    ds = ds.assign_coords(
        rlat=("rlat", rlat, {"standard_name": "grid_latitude", "units": "degrees"}),
        rlon=("rlon", rlon, {"standard_name": "grid_longitude", "units": "degrees"}),
    )
    vort = fieldgrad.datasets.vector_from(ds, {"lat": "v", "lon": "u"}).grad.curl(geometry="sphere")
    want = fieldgrad.datasets.vector_from(ds.drop_vars(["rlat", "rlon"]), {"lat": "v", "lon": "u"}).grad.curl(
        geometry="sphere"
    )
    np.testing.assert_allclose(vort.values, want.values, rtol=1e-12)


def test_a_grid_refuses_a_field_that_is_not_on_it() -> None:
    ds, _, _ = rossby_haurwitz(10.0)
    grid = fieldgrad.Grid(ds, geometry="sphere")
    other, _, _ = rossby_haurwitz(20.0)
    with pytest.raises(ValueError, match="does not lie on this grid"):
        other.psi.grad.gradient(grid=grid)
    shifted = ds.psi.assign_coords(longitude=ds.longitude + 1.0)
    with pytest.raises(ValueError, match="coordinate 'longitude' differs"):
        shifted.grad.gradient(grid=grid)
    nudged = ds.psi.assign_coords(longitude=np.nextafter(ds.longitude, np.inf))  # one ulp
    with pytest.raises(ValueError, match="coordinate 'longitude' differs"):
        nudged.grad.gradient(grid=grid)


def test_a_grid_accepts_its_fields_with_nan_and_nat_in_their_coordinates() -> None:
    x = np.arange(5.0)
    times = np.array(["2000-01-01", "NaT", "2000-01-03"], dtype="datetime64[ns]")
    ds = xr.Dataset(
        {"f": (("t", "x"), np.outer([1.0, 2.0, 3.0], x**2))},
        coords={"x": x, "t": ("t", np.arange(3.0)), "when": ("t", times), "depth": ("x", [0.0, np.nan, 2, 3, 4])},
    )
    grid = fieldgrad.Grid(ds)
    copy = ds.copy(deep=True)  # equal values in other arrays
    got = copy.f.grad.partial("x", grid=grid)
    np.testing.assert_array_equal(got.values, ds.f.grad.partial("x").values)
    later = copy.assign_coords(when=("t", times + np.timedelta64(1, "s")))
    with pytest.raises(ValueError, match="coordinate 'when' differs"):
        later.f.grad.partial("x", grid=grid)


def test_grid_and_geometry_keywords_together_are_refused() -> None:
    ds, _, _ = rossby_haurwitz(10.0)
    grid = fieldgrad.Grid(ds, geometry="sphere")
    with pytest.raises(TypeError, match="either grid= or the geometry keywords"):
        ds.psi.grad.gradient(grid=grid, geometry="sphere")
    with pytest.raises(TypeError, match=r"grid must be a fieldgrad\.Grid"):
        ds.psi.grad.gradient(grid="sphere")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"geometry": "spherical"}, r"geometry must be one of \('cartesian', 'sphere', 'projected'\)"),
        ({"geometry": "cartesian", "latitude": "latitude"}, "latitude= applies to geometry='sphere' only"),
        ({"geometry": "sphere", "crs": "EPSG:3857"}, "crs= applies to geometry='projected' only"),
        ({"geometry": "sphere", "radius": -1.0}, "radius must be a positive"),
        ({"geometry": "sphere", "frame": "north"}, "frame must be one of"),
    ],
)
def test_a_grid_checks_its_keywords(kwargs: dict, match: str) -> None:
    ds, _, _ = rossby_haurwitz(10.0)
    with pytest.raises(ValueError, match=match):
        fieldgrad.Grid(ds, **kwargs)


def test_periodic_can_be_said_once_on_the_grid() -> None:
    x = np.arange(16) * 2 * np.pi / 16
    ds = xr.Dataset({"f": (("x", "y"), np.outer(np.sin(x), np.cos(x)))}, coords={"x": x, "y": x})
    grid = fieldgrad.Grid(ds, periodic=["x", "y"])
    assert "periodic: x, y" in repr(grid)
    xr.testing.assert_identical(
        ds.f.grad.laplacian(["x", "y"], grid=grid), ds.f.grad.laplacian(["x", "y"], boundary="periodic")
    )
    # a boundary the call names wins over the grid's
    xr.testing.assert_identical(
        ds.f.grad.partial("x", grid=grid, boundary="one-sided"), ds.f.grad.partial("x", boundary="one-sided")
    )
    sphere, _, _ = rossby_haurwitz(10.0)
    off = fieldgrad.Grid(sphere, geometry="sphere", periodic=False)
    assert "periodic" not in repr(off)
    open_lon = sphere.psi.grad.partial("longitude", grid=off)
    xr.testing.assert_identical(
        open_lon, sphere.psi.grad.partial("longitude", geometry="sphere", boundary={"longitude": "one-sided"})
    )


@pytest.mark.slow
def test_a_grid_works_on_a_cluster() -> None:
    distributed = pytest.importorskip("distributed")
    ds, geo, _, comps = cases()["latlon2d"]
    grid = fieldgrad.Grid(ds, **geo)
    want = fieldgrad.datasets.vector_from(ds, comps).grad.curl(**geo)
    chunked = ds.chunk({d: max(3, n // 3) for d, n in ds.sizes.items()})
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        with distributed.Client(c):
            lazy = fieldgrad.datasets.vector_from(chunked, comps).grad.curl(grid=grid)
            got = lazy.compute()
    xr.testing.assert_allclose(got, want, rtol=1e-12)


# ----------------------------------------------------------------------------- CF files as they arrive


@pytest.fixture(scope="module")
def lambert_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Lambert file written by xarray with its grid mapping a data variable, as WRF/CORDEX products
    and ``xr.open_dataset`` (decode_coords=True) have it."""
    ds, _, _ = lambert(21)
    ds = ds.reset_coords("lambert")
    path = tmp_path_factory.mktemp("cf") / "lambert.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    return path


def test_a_grid_mapping_data_variable_works_in_every_dataset_form(lambert_file: Path) -> None:
    with xr.open_dataset(lambert_file, engine="h5netcdf") as ds:
        ds = ds.load()
    assert "lambert" in ds.data_vars  # as a reader gives it: not a coordinate
    with_coord = ds.set_coords("lambert")
    kw = {"geometry": "projected"}
    runs = {
        "gradient": lambda obj: obj.grad.gradient(**kw),
        "laplacian": lambda obj: obj.grad.laplacian(**kw),
        "hessian": lambda obj: obj.grad.hessian(**kw),
        "directional": lambda obj: obj.grad.directional({"x": 1.0, "y": 1.0}, **kw),
        "partial": lambda obj: obj.grad.partial("x", **kw),
        "advection": lambda obj: obj.grad.advection({"x": "u", "y": "v"}, **kw),
    }
    for name, run in runs.items():
        out = run(ds)
        assert "lambert" in out.data_vars, name  # kept as it was, not a coordinate beside a variable
        assert "f" in out.data_vars and out["f"].attrs["grid_mapping"] == "lambert", name
        want = (
            run(with_coord.f)
            if name != "advection"
            else with_coord.f.grad.advection(fieldgrad.datasets.vector_from(with_coord, {"x": "u", "y": "v"}), **kw)
        )
        np.testing.assert_array_equal(out["f"].values, want.values)
    for name in ("divergence", "curl"):
        got = getattr(ds.grad, name)({"x": "u", "y": "v"}, **kw)
        assert np.isfinite(got.values).all(), name
        assert "lambert" in got.coords  # the DataArray result carries its grid mapping


def test_partial_takes_geometry_keywords() -> None:
    ds, _, _ = rossby_haurwitz(10.0)
    north = fieldgrad.partial(ds.psi, "latitude", geometry="sphere")
    g = ds.psi.grad.gradient(geometry="sphere")
    np.testing.assert_array_equal(north.values, g.sel(component="latitude").values)
    assert north.name == "dpsi_dlatitude" and north.attrs["units"] == "m s-1"  # m2 s-1 per metre


@pytest.mark.filterwarnings("ignore::fieldgrad.GeometryWarning")  # per-degree calls on purpose
def test_one_default_dims_rule() -> None:
    t = np.datetime64("2000-01-01", "ns") + np.arange(3) * np.timedelta64(6, "h")
    lat, lon = np.linspace(-10, 10, 5), np.linspace(0, 20, 6)
    ds = xr.Dataset(
        {"T": (("time", "lat", "lon"), np.random.default_rng(0).normal(size=(3, 5, 6)))},
        coords={
            "time": t,
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
        },
    )
    assert list(ds.T.grad.gradient().component.values) == ["lat", "lon"]
    assert list(ds.grad.gradient()["T"].component.values) == ["lat", "lon"]
    mixed = ds.assign_coords(lat=("lat", lat * 111.0, {"units": "km"}))
    for obj in (mixed.T, mixed):
        with pytest.raises(ValueError, match=r"different units: lat \(km\), lon \(degree\)"):
            obj.grad.gradient()
    assert list(mixed.T.grad.gradient(["lat", "lon"]).component.values) == ["lat", "lon"]  # named: the user's


# ----------------------------------------------------------------------------- keywords and Dataset policy


@pytest.mark.parametrize("op", ["partial", "gradient", "laplacian", "divergence", "advection"])
def test_a_keyword_of_no_group_is_a_type_error_naming_the_groups(op: str) -> None:
    x = np.linspace(0, 1, 9)
    f = xr.DataArray(np.outer(x, x), dims=("x", "y"), coords={"x": x, "y": x})
    F = xr.concat([f, f], "component").assign_coords(component=["x", "y"])
    call = {
        "partial": lambda **kw: f.grad.partial("x", **kw),
        "gradient": lambda **kw: f.grad.gradient(**kw),
        "laplacian": lambda **kw: f.grad.laplacian(**kw),
        "divergence": lambda **kw: F.grad.divergence(**kw),
        "advection": lambda **kw: f.grad.advection(F, **kw),
    }[op]
    with pytest.raises(TypeError) as err:
        call(lattitude="x")
    text = str(err.value)
    for part in ("unexpected keyword 'lattitude'", "Derivative keywords: method, boundary", "geometry keywords"):
        assert part in text, text
    assert "options of method 'fd': accuracy, edge_order" in text
    assert isinstance(err.value, KeywordError)
    call(accuracy=4)  # and the process goes on


def test_on_missing_keep_drop_raise() -> None:
    x = np.linspace(0, 1, 6)
    ds = xr.Dataset(
        {"f": (("x", "y"), np.outer(x, x), {"grid_mapping": "crs"}), "g": ("t", [1.0, 2.0]), "crs": ((), 0)},
        coords={"x": x, "y": x, "t": [0.0, 1.0]},
    )
    kept = ds.grad.laplacian(["x", "y"])
    assert list(kept.data_vars) == ["f", "g", "crs"]
    xr.testing.assert_identical(kept.g, ds.g)
    dropped = ds.grad.laplacian(["x", "y"], on_missing="drop")
    assert list(dropped.data_vars) == ["f", "crs"]  # a grid mapping is always kept
    with pytest.raises(ValueError, match=r"\['g'\] lack the dims"):
        ds.grad.laplacian(["x", "y"], on_missing="raise")
    with pytest.raises(ValueError, match="on_missing must be one of"):
        ds.grad.laplacian(["x", "y"], on_missing="ignore")
    with pytest.raises(TypeError, match="on_missing= applies to Datasets"):
        ds.f.grad.laplacian(["x", "y"], on_missing="drop")

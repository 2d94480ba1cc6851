"""What a call reuses from earlier calls, and what it must not.

Small fields cost more in set-up than in arithmetic, so fieldgrad keeps a few things between
calls: the positions of a dimension coordinate (validated once per pandas Index), the kernel's
tables of a set of stencils, and results labelled on the field's own coordinates without
xarray's validation. Each must give what the unshared path gives, and none may leak a change
from one object to another.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import fieldgrad
from fieldgrad import kernels, labelled
from fieldgrad.coords import AxisCoord, axis_coord, index_axis_coord
from fieldgrad.stencil import build_stencil


def fields() -> list[xr.DataArray]:
    rng = np.random.default_rng(0)
    x = np.linspace(0.0, 1.0, 7)
    y = np.cumsum(rng.uniform(0.5, 1.5, 6))
    plain = xr.DataArray(rng.normal(size=(7, 6)), dims=("x", "y"), coords={"x": x, "y": y}, name="f")
    plain.attrs.update(units="K", long_name="temperature")
    plain["x"].attrs["units"] = "m"
    extra = plain.assign_coords(label=("x", list("abcdefg")), scalar=3.0, yy=("y", y * 2))
    no_coords = xr.DataArray(rng.normal(size=(5, 4)), dims=("a", "b"))
    stacked = xr.DataArray(
        rng.normal(size=(4, 5)),
        dims=("s", "t"),
        coords={"s": pd.MultiIndex.from_product([[1, 2], ["u", "v"]], names=("one", "two")), "t": np.arange(5.0)},
    )
    times = xr.DataArray(
        rng.normal(size=(6, 3)),
        dims=("time", "z"),
        coords={"time": pd.date_range("2000-01-01", periods=6, freq="6h"), "z": [0.0, 10.0, 30.0]},
    )
    return [plain, extra, no_coords, stacked, times, plain.chunk({"x": 3})]


@pytest.mark.parametrize("field", fields(), ids=["plain", "extra-coords", "no-coords", "multiindex", "time", "dask"])
def test_results_built_directly_equal_the_public_constructor(field: xr.DataArray, monkeypatch) -> None:
    data = field.data + 1
    stacked = np.stack([np.asarray(field.values)] * 2)
    direct = labelled.like_field(field, data), labelled.with_component_dim(field, stacked, "component", ["p", "q"])
    monkeypatch.setattr(labelled, "_DIRECT", False)
    public = labelled.like_field(field, data), labelled.with_component_dim(field, stacked, "component", ["p", "q"])
    for a, b in zip(direct, public, strict=True):
        xr.testing.assert_identical(a, b)
        assert set(a.xindexes) == set(b.xindexes)
        assert a.name is None and a.attrs == {}
    assert direct[1]["component"].values.tolist() == ["p", "q"]


def test_a_result_does_not_share_coordinate_attrs_with_its_field() -> None:
    f = fields()[0]
    for out in (f.grad.partial("x"), f.grad.gradient()):
        out["x"].attrs["units"] = "km"
        out["x"].attrs["new"] = 1
        assert f["x"].attrs == {"units": "m"}
    with pytest.raises(ValueError, match="cannot be labelled"):
        labelled.like_field(f, np.zeros((2, 2)))


def test_the_positions_of_an_index_are_validated_once_and_read_only() -> None:
    index = pd.Index(np.linspace(0.0, 2.0, 9))
    a = index_axis_coord(index, "x")
    assert index_axis_coord(index, "x") is a
    assert not a.values.flags.writeable
    ref = axis_coord(np.asarray(index), "x")
    np.testing.assert_array_equal(a.values, ref.values)
    assert a.spacing == ref.spacing and a.period is None
    # the period and the time unit are part of what is reused
    assert index_axis_coord(index, "x", period=5.0).period == 5.0
    assert index_axis_coord(index, "x").period is None
    times = pd.date_range("2000-01-01", periods=4, freq="h")
    np.testing.assert_array_equal(index_axis_coord(times, "t", datetime_unit="m").values, [0, 60, 120, 180])
    np.testing.assert_array_equal(index_axis_coord(times, "t", datetime_unit="h").values, [0, 1, 2, 3])
    # an invalid index raises every time (nothing is kept)
    bad = pd.Index([0.0, 2.0, 1.0])
    for _ in range(2):
        with pytest.raises(ValueError, match="monotonic"):
            index_axis_coord(bad, "x")


def test_a_new_coordinate_gives_new_positions() -> None:
    """The reuse follows the index object: assign_coords with other values is seen at once."""
    x = np.linspace(0.0, 1.0, 11)
    f = xr.DataArray(x**2, dims="x", coords={"x": x})
    np.testing.assert_allclose(f.grad.partial("x").values[1:-1], 2 * x[1:-1])
    g = f.assign_coords(x=2 * x)  # same values of f, twice the spacing
    np.testing.assert_allclose(g.grad.partial("x").values[1:-1], x[1:-1])
    np.testing.assert_allclose(f.grad.partial("x").values[1:-1], 2 * x[1:-1])


def test_a_method_cannot_change_the_shared_positions() -> None:
    seen = []

    class Mutating(fieldgrad.DerivativeMethod):
        name = "mutating-test"

        def derivative(self, values, coord, *, axis, order):  # type: ignore[no-untyped-def]
            seen.append(coord.values.flags.writeable)
            with pytest.raises(ValueError, match="read-only"):
                coord.values[0] = 99.0
            return np.zeros(values.shape)

        def halo(self, coord, order):  # type: ignore[no-untyped-def]
            return 1

    f = fields()[0]
    f.grad.partial("x", method=Mutating())
    assert seen == [False]
    np.testing.assert_array_equal(f["x"].values, np.linspace(0.0, 1.0, 7))


def test_kept_kernel_tables_do_not_keep_their_stencils_alive() -> None:
    import gc
    import weakref

    x = np.cumsum(np.random.default_rng(2).uniform(0.5, 1.5, 50))  # not shared: a stencil of its own
    st = build_stencil(axis_coord(x), 1, 2, 2, "one-sided")
    kernels.apply_stencils(np.ones((4, 50)), [(1, st)])
    assert kernels._PACKED.get((st,), ((4, 50), (1,))) is not None  # its tables are kept
    gone = weakref.ref(st)
    del st
    gc.collect()
    assert gone() is None


def test_the_kernel_tables_are_reused_only_for_the_same_stencils() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(size=(8, 9))
    s0 = build_stencil(axis_coord(np.cumsum(rng.uniform(0.5, 1.5, 8))), 1, 2, 2, "one-sided")
    s1 = build_stencil(axis_coord(np.linspace(0.0, 1.0, 9)), 1, 4, 4, "one-sided")
    terms = [(0, s0), (1, s1)]
    packed = kernels._packed(values.shape, terms)
    assert kernels._packed(values.shape, terms) is packed
    rows, length, *tables = kernels._pack(values.shape, terms)
    assert (rows, length) == (packed.rows, packed.length) == (8, 9)
    got = [(packed.ints, packed.int_ptr), (packed.floats, packed.float_ptr)]
    for got_table, want in zip(got, tables, strict=True):
        for x, y in zip(got_table, want, strict=True):  # the concatenated tables and their offsets
            np.testing.assert_array_equal(x, y)
    # other stencils of the same shape get their own tables
    s2 = build_stencil(axis_coord(np.cumsum(rng.uniform(0.5, 1.5, 8))), 1, 2, 2, "one-sided")
    assert kernels._packed(values.shape, [(0, s2), (1, s1)]) is not packed
    want = np.stack([s0.dense() @ values, values @ s1.dense().T])
    np.testing.assert_allclose(kernels.apply_stencils(values, terms), want, rtol=1e-12, atol=1e-12)


def test_a_non_uniform_stencil_is_built_once_per_shared_coordinate() -> None:
    rng = np.random.default_rng(2)
    x = np.cumsum(rng.uniform(0.5, 1.5, 40))
    shared = index_axis_coord(pd.Index(x), "x")
    a = build_stencil(shared, 1, 4, 4, "one-sided")
    assert build_stencil(shared, 1, 4, 4, "one-sided") is a
    assert build_stencil(shared, 1, 2, 2, "one-sided") is not a
    # writable positions may change between calls: built afresh, from the current values
    own = axis_coord(x.copy(), "x")
    b = build_stencil(own, 1, 2, 1, "one-sided")
    own.values[:] = 2 * x
    c = build_stencil(own, 1, 2, 1, "one-sided")
    np.testing.assert_allclose(c.dense(), b.dense() / 2, rtol=1e-12, atol=1e-12)
    # so may a read-only view of a writable array (read-only is not the same as unchanging)
    base = x.copy()
    view = base.view()
    view.flags.writeable = False
    seen = AxisCoord(view, None)
    d = build_stencil(seen, 1, 2, 1, "one-sided")
    base[:] = 2 * x
    np.testing.assert_allclose(build_stencil(seen, 1, 2, 1, "one-sided").dense(), d.dense() / 2, rtol=1e-12)
    # and the labelled call on a non-uniform dimension coordinate still gives numpy's numbers, call after call
    f = xr.DataArray(np.sin(x), dims="x", coords={"x": x})
    for _ in range(2):
        np.testing.assert_allclose(f.grad.partial("x").values, np.gradient(np.sin(x), x, edge_order=2), rtol=1e-13)


def test_plans_of_the_built_in_method_are_reused_and_others_are_not() -> None:
    from fieldgrad.plan import make_plan

    a = make_plan("fd", (1,), boundary={0: "periodic"}, accuracy=4)
    assert make_plan("fd", (1,), boundary={0: "periodic"}, accuracy=4) is a
    assert make_plan("fd", (1,), boundary={0: "one-sided"}, accuracy=4) is not a
    nan_fill, zero_fill = make_plan("fd", fill_value=np.nan), make_plan("fd", fill_value=0.0)
    assert np.isnan(nan_fill.fill_value) and zero_fill.fill_value == 0.0
    assert make_plan("fd", fill_value=np.nan) is nan_fill
    with pytest.raises(ValueError, match="accuracy must be one of"):  # errors are raised every time
        make_plan("fd", accuracy=3)
    with pytest.raises(ValueError, match="accuracy must be one of"):
        make_plan("fd", accuracy=3)

    class First(fieldgrad.DerivativeMethod):
        name = "reuse-test"

        def halo(self, coord, order):  # type: ignore[no-untyped-def]
            return 1

        def derivative(self, values, coord, *, axis, order):  # type: ignore[no-untyped-def]
            return np.ones(values.shape)

    class Second(First):
        def derivative(self, values, coord, *, axis, order):  # type: ignore[no-untyped-def]
            return np.full(values.shape, 2.0)

    f = xr.DataArray(np.zeros(5), dims="x")
    try:
        fieldgrad.register_method(First)
        assert float(f.grad.partial("x", method="reuse-test")[0]) == 1.0
        with pytest.warns(fieldgrad.FieldgradPluginWarning, match="replacing"):
            fieldgrad.register_method(Second)  # a notebook cell run again: the new class is used at once
        assert float(f.grad.partial("x", method="reuse-test")[0]) == 2.0
    finally:
        from fieldgrad import registry

        registry._unregister("reuse-test")


def test_an_entry_is_not_given_to_a_new_object_that_has_the_id_of_a_dead_one() -> None:
    from fieldgrad.reuse import IdentityCache

    cache = IdentityCache(size=4)
    first = np.zeros(3)
    cache.put((first,), "k", "value of the first array")
    old_id = id(first)
    del first
    other = None
    for _ in range(10_000):  # CPython soon hands the freed memory, hence the id, to a new array
        candidate = np.zeros(3)
        if id(candidate) == old_id:
            other = candidate
            break
        del candidate
    if other is None:
        pytest.skip("no array reused the id on this run")
    assert cache.get((other,), "k") is None
    # and the size bound holds: the oldest entries go
    arrays = [np.zeros(1) for _ in range(6)]
    for k, a in enumerate(arrays):
        cache.put((a,), "k", k)
    assert [cache.get((a,), "k") for a in arrays] == [None, None, 2, 3, 4, 5]


@pytest.mark.parametrize("with_coordinate", [False, True])
def test_a_period_given_as_a_zero_dimensional_array_still_works(with_coordinate: bool) -> None:
    """(The reused positions are keyed by the period: it must be read as a number first.)"""
    n = 8
    f = xr.DataArray(np.sin(np.arange(n) * 2 * np.pi / n), dims="x")
    if with_coordinate:
        f = f.assign_coords(x=np.arange(float(n)))
    got = f.grad.partial("x", boundary="periodic", period=np.array(float(n)))
    want = f.grad.partial("x", boundary="periodic", period=float(n))
    xr.testing.assert_identical(got, want)
    assert abs(float(got[0]) - np.sin(2 * np.pi / n)) < 1e-12  # (f[1] - f[-1]) / 2 = sin(h)


def test_a_coordinate_array_of_the_numpy_drop_in_is_found_by_its_values() -> None:
    """A spacing array given to ``fieldgrad.gradient`` may change between calls: it is found by its
    values, compared bit for bit, and stands for a read-only copy that fieldgrad shares (so its
    stencils and the kernel's tables are built once); never by the array object."""
    from fieldgrad.coords import is_shared
    from fieldgrad.numpy_compat import _array_coord

    x = np.cumsum(np.random.default_rng(3).uniform(0.5, 1.5, 30))
    a = _array_coord(x)
    assert a.values is not x and is_shared(a.values) and x.flags.writeable
    np.testing.assert_array_equal(a.values, x)
    assert _array_coord(x.copy()) is a and _array_coord(x[::-1][::-1]) is a  # other objects, same values
    assert _array_coord(x.astype(np.float32)) is not a  # the dtype is part of the values
    # every bit of every value: one ulp, or the sign of a zero, is another array
    for k, changed in ((17, np.nextafter(x[17], np.inf)), (0, -0.0)):
        y = x.copy()
        y[k] = changed
        assert _array_coord(y) is not a
        np.testing.assert_array_equal(_array_coord(y).values.view(np.uint64), y.view(np.uint64))
    x[3] += 1e-3  # changed in place
    b = _array_coord(x)
    assert b is not a
    np.testing.assert_array_equal(b.values, x)
    # the stencils of the shared copy, and the kernel's tables, are built once
    st = build_stencil(b, 1, 2, 1, "one-sided")
    assert build_stencil(_array_coord(x.copy()), 1, 2, 1, "one-sided") is st
    values = np.ones((4, 30))
    assert kernels._packed(values.shape, [(1, st)]) is kernels._packed(
        values.shape, [(1, build_stencil(_array_coord(x.copy()), 1, 2, 1, "one-sided"))]
    )
    # an exactly uniform array is a uniform coordinate, as numpy decides
    assert _array_coord(np.arange(30) * 0.5).spacing == 0.5


def test_the_coordinate_arrays_kept_are_bounded_and_what_is_built_on_them_goes_with_them() -> None:
    import gc
    import weakref

    from fieldgrad import numpy_compat, stencil
    from fieldgrad.coords import _SHARED

    cache = numpy_compat._ARRAY_COORDS
    rng = np.random.default_rng(4)
    for n in (20, 300, 5000):
        for _ in range(cache.size + 10):
            fieldgrad.gradient(np.ones(n), np.cumsum(rng.uniform(0.5, 1.5, n)))
            assert len(cache) <= cache.size and cache.nbytes <= cache.max_bytes
    assert len(cache) == cache.size  # full, not grown
    # nothing keeps the user's array alive
    x = np.cumsum(rng.uniform(0.5, 1.5, 50))
    fieldgrad.gradient(np.ones(50), x)
    gone = weakref.ref(x)
    del x
    gc.collect()
    assert gone() is None
    # an evicted coordinate takes its stencils and the kernel's tables with it
    y = np.cumsum(rng.uniform(0.5, 1.5, 40))
    coord = numpy_compat._array_coord(y)
    st = build_stencil(coord, 1, 2, 1, "one-sided")
    kernels.apply_stencils(np.ones((3, 40)), [(1, st)])
    dead_positions, dead_stencil = weakref.ref(coord.values), weakref.ref(st)
    shared_before, stencils_before, packed_before = len(_SHARED), len(stencil._STENCILS), len(kernels._PACKED)
    del coord, st
    cache.clear()
    gc.collect()
    assert dead_positions() is None and dead_stencil() is None
    assert len(_SHARED) < shared_before and len(stencil._STENCILS) < stencils_before
    assert len(kernels._PACKED) < packed_before
    # an axis too long for the bound is used as it is: not copied, not kept
    long = np.cumsum(rng.uniform(0.5, 1.5, cache.max_bytes // numpy_compat._STENCIL_BYTES_PER_POINT))
    assert numpy_compat._array_coord(long).values is long
    assert len(cache) == 0


def test_an_identity_cache_entry_goes_with_its_objects() -> None:
    import gc

    from fieldgrad.reuse import IdentityCache

    cache = IdentityCache(size=8)
    a, b = np.zeros(3), np.ones(3)
    cache.put((a,), "k", 1)
    cache.put((a, b), "k", 2)
    cache.put((b,), "k", 3)
    assert len(cache) == 3
    del a
    gc.collect()
    assert len(cache) == 1 and cache.get((b,), "k") == 3
    # an entry put again replaces the first, whose references go with it: no callback drops the new one
    c = np.zeros(2)
    cache.put((c,), "k", 4)
    cache.put((c,), "k", 5)
    gc.collect()
    assert cache.get((c,), "k") == 5
    del b, c
    gc.collect()
    assert len(cache) == 0


def test_a_value_cache_drops_its_least_recently_used_entries() -> None:
    from fieldgrad.reuse import ValueCache

    cache = ValueCache(size=3, max_bytes=1000)
    arrays = [np.full(10, float(k)) for k in range(5)]  # 80 bytes of key each
    for k in range(3):
        entry, value = cache.get(arrays[k], "k")
        assert value is None
        cache.put(entry, k, nbytes=100)
    assert cache.get(arrays[0], "k")[1] == 0  # used: now the most recent
    cache.put(cache.get(arrays[3], "k")[0], 3, nbytes=100)  # a fourth: the least recently used (1) goes
    assert [cache.get(a, "k")[1] for a in arrays[:4]] == [0, None, 2, 3]
    assert cache.nbytes == 3 * 180
    cache.put(cache.get(arrays[4], "k")[0], 4, nbytes=700)  # too many bytes: the oldest go until it fits
    assert [cache.get(a, "k")[1] for a in arrays] == [None, None, None, 3, 4]
    assert cache.nbytes == 180 + 780
    cache.put(cache.get(arrays[0], "k")[0], 0, nbytes=1000)  # larger than the whole bound: not kept
    assert cache.get(arrays[0], "k")[1] is None and cache.nbytes == 960
    # the key is part of the entry, and so are the dtype and shape of the values
    assert cache.get(arrays[3], "other")[1] is None
    assert cache.get(arrays[3].astype(np.float32), "k")[1] is None
    assert cache.get(arrays[3].reshape(2, 5), "k")[1] is None
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0

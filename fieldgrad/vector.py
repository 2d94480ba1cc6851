"""Vector calculus on labelled fields: divergence, curl, Laplacian, Hessian, Jacobian, magnitude,
directional and along-path derivatives.

A vector field is a DataArray with a ``component`` dimension whose coordinate labels name the
spatial dimensions the components point along (``component=["x", "y", "z"]``). Every operation
is built from :func:`fieldgrad.calculus.partial`, so it runs with any registered method, on
numpy- or dask-backed data, with the same keywords (``method``, ``accuracy``, ``boundary``, ...).
``geometry="sphere"`` switches to latitude/longitude operators (:mod:`fieldgrad.sphere`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from .calculus import gradient as _cartesian_gradient
from .calculus import partial
from .units import base_label as _base
from .units import component_labels, divide_units
from .units import label_result as _finish
from .units import prefixed_name

__all__ = [
    "components",
    "gradient",
    "divergence",
    "curl",
    "laplacian",
    "hessian",
    "jacobian",
    "magnitude",
    "directional",
    "along",
]

GEOMETRIES = ("cartesian", "sphere")


def components(field: xr.DataArray, component_dim: Hashable = "component") -> dict[str, xr.DataArray]:
    """The components of a vector field by the dimension they point along.

    Examples
    --------
    >>> E = xr.DataArray(np.zeros((2, 3, 4)), dims=("component", "x", "y"),
    ...                  coords={"component": ["x", "y"]})
    >>> list(components(E))
    ['x', 'y']
    """
    if component_dim not in field.dims:
        raise ValueError(f"a vector field needs a {component_dim!r} dimension (component_dim=), "
                         f"got dims {[str(d) for d in field.dims]}")
    if component_dim not in field.coords:
        raise ValueError(f"the {component_dim!r} dimension needs a coordinate whose labels name the "
                         f"dimensions the components point along, e.g. ['x', 'y']")
    labels = [str(v) for v in field[component_dim].values.tolist()]
    spatial = [str(d) for d in field.dims if d != component_dim]
    for label in labels:
        if label not in spatial and label not in field.coords:
            raise ValueError(f"component {label!r} does not name a dimension of the field; dims: {spatial}")
    return {label: field.isel({component_dim: k}, drop=True) for k, label in enumerate(labels)}


def _check_geometry(geometry: str) -> None:
    if geometry not in GEOMETRIES:
        raise ValueError(f"geometry must be one of {GEOMETRIES}, got {geometry!r}")


def _common_units(parts: Iterable[xr.DataArray]) -> str | None:
    units = {p.attrs.get("units") for p in parts}
    return units.pop() if len(units) == 1 else None


def _stack(parts: dict[str, xr.DataArray], dim: Hashable) -> xr.DataArray:
    out = xr.concat(list(parts.values()), dim=dim, coords="minimal", compat="override", join="override")
    return out.assign_coords({dim: component_labels(parts)})


def gradient(field: xr.DataArray, dims: Iterable[Hashable] | None = None, *,
             component_dim: Hashable = "component", geometry: str = "cartesian",
             latitude: Hashable | None = None, longitude: Hashable | None = None,
             radius: float | None = None, **kwargs: Any) -> xr.DataArray:
    """Gradient, with ``geometry="sphere"`` for latitude/longitude in degrees (per metre).

    See :func:`fieldgrad.calculus.gradient` for the Cartesian form and its keywords.

    Examples
    --------
    >>> lat = np.linspace(-60, 60, 25)
    >>> lon = np.arange(0, 360, 7.5)
    >>> T = xr.DataArray(np.outer(np.sin(np.deg2rad(lat)), np.ones(lon.size)), dims=("lat", "lon"),
    ...                  coords={"lat": lat, "lon": lon}, attrs={"units": "K"})
    >>> g = gradient(T, ["lat", "lon"], geometry="sphere", latitude="lat", longitude="lon")
    >>> g.attrs["units"], float(abs(g.sel(component="lon")).max())
    ('K m-1', 0.0)
    """
    _check_geometry(geometry)
    if geometry == "sphere":
        from . import sphere

        return sphere.gradient(field, dims, component_dim=component_dim, latitude=latitude,
                               longitude=longitude, radius=radius, **kwargs)
    _no_sphere_options(latitude, longitude, radius)
    return _cartesian_gradient(field, dims, component_dim=component_dim, **kwargs)


def _no_sphere_options(latitude: Any, longitude: Any, radius: Any) -> None:
    if latitude is not None or longitude is not None or radius is not None:
        raise ValueError("latitude=, longitude= and radius= apply to geometry='sphere' only")


def divergence(field: xr.DataArray, *, component_dim: Hashable = "component", geometry: str = "cartesian",
               latitude: Hashable | None = None, longitude: Hashable | None = None,
               radius: float | None = None, **kwargs: Any) -> xr.DataArray:
    """Divergence ``Σ ∂F_i/∂i`` of a vector field.

    Parameters
    ----------
    field : DataArray
        Vector field with a ``component_dim`` dimension labelled by the dims the components
        point along.
    component_dim : str, default "component"
    geometry : {"cartesian", "sphere"}
        ``"sphere"``: components along latitude/longitude (degrees) of a sphere of ``radius``
        (default the Earth's mean radius), with the metric terms.
    latitude, longitude : str, optional
        Names of the latitude/longitude dims (default: found from CF attributes).
    radius : float, optional
        Sphere radius in metres.
    **kwargs
        As :func:`fieldgrad.calculus.partial` (``method``, ``accuracy``, ``boundary``, ...).

    Examples
    --------
    >>> x = np.linspace(0, 1, 11)
    >>> X, Y = np.meshgrid(x, x, indexing="ij")
    >>> F = xr.DataArray(np.stack([X**2, 3 * Y]), dims=("component", "x", "y"),
    ...                  coords={"component": ["x", "y"], "x": x, "y": x})
    >>> float(abs(divergence(F) - (2 * F.x + 3)).max()) < 1e-12
    True
    """
    _check_geometry(geometry)
    comps = components(field, component_dim)
    if geometry == "sphere":
        from . import sphere

        return sphere.divergence(field, comps, latitude=latitude, longitude=longitude, radius=radius, **kwargs)
    _no_sphere_options(latitude, longitude, radius)
    terms = [partial(c, dim, **kwargs) for dim, c in comps.items()]
    out = sum(terms[1:], terms[0])
    name = prefixed_name("div", field.name)
    return _finish(out, field, name, f"divergence of {_base(field)}", _common_units(terms))


def curl(field: xr.DataArray, *, component_dim: Hashable = "component", geometry: str = "cartesian",
         latitude: Hashable | None = None, longitude: Hashable | None = None,
         radius: float | None = None, **kwargs: Any) -> xr.DataArray:
    """Curl of a vector field: 3 components give a vector, 2 components the scalar normal component.

    The components ``(a, b, c)`` form a right-handed system in the order of their labels:
    ``curl = (∂F_c/∂b − ∂F_b/∂c, ∂F_a/∂c − ∂F_c/∂a, ∂F_b/∂a − ∂F_a/∂b)``; in 2-D
    ``∂F_b/∂a − ∂F_a/∂b``. With ``geometry="sphere"`` (2-D, latitude/longitude) it is the
    relative vorticity.

    Examples
    --------
    >>> x = np.linspace(-1, 1, 9)
    >>> X, Y = np.meshgrid(x, x, indexing="ij")
    >>> F = xr.DataArray(np.stack([-Y, X]), dims=("component", "x", "y"),
    ...                  coords={"component": ["x", "y"], "x": x, "y": x})   # solid rotation
    >>> np.allclose(curl(F), 2.0)
    True
    """
    _check_geometry(geometry)
    comps = components(field, component_dim)
    if geometry == "sphere":
        from . import sphere

        return sphere.curl(field, comps, latitude=latitude, longitude=longitude, radius=radius, **kwargs)
    _no_sphere_options(latitude, longitude, radius)
    name = prefixed_name("curl", field.name)
    labels = list(comps)
    if len(labels) == 2:
        a, b = labels
        db_da, da_db = partial(comps[b], a, **kwargs), partial(comps[a], b, **kwargs)
        return _finish(db_da - da_db, field, name, f"curl of {_base(field)}", _common_units([db_da, da_db]))
    if len(labels) != 3:
        raise ValueError(f"curl needs 2 or 3 components, got {len(labels)}: {labels}")
    parts, units = {}, []
    for i, label in enumerate(labels):
        b, c = labels[(i + 1) % 3], labels[(i + 2) % 3]
        plus, minus = partial(comps[c], b, **kwargs), partial(comps[b], c, **kwargs)
        units += [plus, minus]
        parts[label] = plus - minus
    out = _stack(parts, component_dim).transpose(*field.dims)
    return _finish(out, field, name, f"curl of {_base(field)}", _common_units(units))


def laplacian(field: xr.DataArray, dims: Iterable[Hashable] | None = None, *, geometry: str = "cartesian",
              latitude: Hashable | None = None, longitude: Hashable | None = None,
              radius: float | None = None, **kwargs: Any) -> xr.DataArray:
    """Laplacian ``Σ ∂²f/∂i²`` with true second-derivative stencils (not div∘grad).

    Examples
    --------
    >>> x = np.linspace(0, 1, 11)
    >>> f = xr.DataArray(np.add.outer(x**2, 2 * x**2), dims=("x", "y"), coords={"x": x, "y": x})
    >>> np.allclose(laplacian(f), 6.0)
    True
    """
    _check_geometry(geometry)
    if geometry == "sphere":
        from . import sphere

        return sphere.laplacian(field, dims, latitude=latitude, longitude=longitude, radius=radius, **kwargs)
    _no_sphere_options(latitude, longitude, radius)
    keys = list(field.dims) if dims is None else ([dims] if isinstance(dims, str) else list(dims))
    terms = [partial(field, d, order=2, **kwargs) for d in keys]
    out = sum(terms[1:], terms[0])
    name = prefixed_name("laplacian", field.name)
    return _finish(out, field, name, f"Laplacian of {_base(field)}", _common_units(terms))


def hessian(field: xr.DataArray, dims: Iterable[Hashable] | None = None, *,
            component_dim: Hashable = "component", component_dim2: Hashable = "component2",
            **kwargs: Any) -> xr.DataArray:
    """Hessian ``∂²f/∂i∂j`` with dims ``component`` and ``component2`` (true mixed stencils).

    Examples
    --------
    >>> x = np.linspace(0, 1, 6)
    >>> f = xr.DataArray(np.multiply.outer(x**2, x), dims=("x", "y"), coords={"x": x, "y": x})
    >>> H = hessian(f)
    >>> round(float(H.sel(component="x", component2="y").isel(x=3, y=2)), 12)  # ∂²(x²y)/∂x∂y = 2x
    1.2
    """
    keys = [str(k) for k in (list(field.dims) if dims is None else ([dims] if isinstance(dims, str) else list(dims)))]
    cache: dict[tuple[str, str], xr.DataArray] = {}
    for i, a in enumerate(keys):
        for b in keys[i:]:
            spec = {a: 2} if a == b else {a: 1, b: 1}
            cache[a, b] = cache[b, a] = partial(field, spec, **kwargs)
    rows = {a: _stack({b: cache[a, b] for b in keys}, component_dim2) for a in keys}
    out = _stack(rows, component_dim).transpose(component_dim, component_dim2, *field.dims)
    name = prefixed_name("hessian", field.name)
    return _finish(out, field, name, f"Hessian of {_base(field)}", _common_units(cache.values()))


def jacobian(field: xr.DataArray, dims: Iterable[Hashable] | None = None, *,
             component_dim: Hashable = "component", component_dim2: Hashable = "component2",
             **kwargs: Any) -> xr.DataArray:
    """Jacobian ``∂F_i/∂j`` of a vector field; ``component`` indexes F, ``component2`` the dim j.

    Examples
    --------
    >>> x = np.linspace(0, 1, 5)
    >>> X, Y = np.meshgrid(x, x, indexing="ij")
    >>> F = xr.DataArray(np.stack([X * Y, X + 2 * Y]), dims=("component", "x", "y"),
    ...                  coords={"component": ["x", "y"], "x": x, "y": x})
    >>> J = jacobian(F)
    >>> float(J.sel(component="y", component2="y").mean())
    2.0
    """
    comps = components(field, component_dim)
    keys = list(comps) if dims is None else [str(d) for d in ([dims] if isinstance(dims, str) else dims)]
    parts = []
    rows = {}
    for label, comp in comps.items():
        row = {d: partial(comp, d, **kwargs) for d in keys}
        parts += list(row.values())
        rows[label] = _stack(row, component_dim2)
    spatial = [d for d in field.dims if d != component_dim]
    out = _stack(rows, component_dim).transpose(component_dim, component_dim2, *spatial)
    name = prefixed_name("jacobian", field.name)
    return _finish(out, field, name, f"Jacobian of {_base(field)}", _common_units(parts))


def magnitude(field: xr.DataArray, *, component_dim: Hashable = "component") -> xr.DataArray:
    """Euclidean norm ``|F|`` over the components (``abs`` for complex fields).

    Examples
    --------
    >>> g = xr.DataArray([[3.0], [4.0]], dims=("component", "x"), coords={"component": ["x", "y"]})
    >>> magnitude(g).values
    array([5.])
    """
    if component_dim not in field.dims:
        raise ValueError(f"magnitude needs a {component_dim!r} dimension (component_dim=), "
                         f"got dims {[str(d) for d in field.dims]}")
    out = np.sqrt((abs(field) ** 2).sum(component_dim))
    name = f"{field.name}_magnitude" if field.name is not None else None
    return _finish(out, field, name, f"magnitude of {_base(field)}", field.attrs.get("units"))


def _unit_vector(direction: Mapping[Hashable, float]) -> dict[Hashable, float]:
    vec = {k: float(v) for k, v in direction.items()}
    norm = float(np.sqrt(sum(v * v for v in vec.values())))
    if not vec or not np.isfinite(norm) or norm == 0:
        raise ValueError(f"direction must be a non-zero finite {{dim: component}} mapping, got {dict(direction)!r}")
    return {k: v / norm for k, v in vec.items()}


def directional(field: xr.DataArray, direction: Mapping[Hashable, float], **kwargs: Any) -> xr.DataArray:
    """Derivative along a direction ``{dim: component}`` (normalised to unit length).

    Examples
    --------
    >>> x = np.linspace(0, 1, 5)
    >>> f = xr.DataArray(np.add.outer(x, 2 * x), dims=("x", "y"), coords={"x": x, "y": x})
    >>> np.allclose(directional(f, {"x": 1, "y": 1}), 3 / np.sqrt(2))
    True
    """
    unit = _unit_vector(direction)
    terms = [c * partial(field, d, **kwargs) for d, c in unit.items() if c != 0]
    out = sum(terms[1:], terms[0])
    name = f"d{field.name}_ds" if field.name is not None else None
    return _finish(out, field, name, f"directional derivative of {_base(field)}", _directional_units(field, unit))


def _directional_units(field: xr.DataArray, unit: Mapping[Hashable, float]) -> str | None:
    """Field units per coordinate unit, when every coordinate along the direction has the same units."""
    coord_units = {field[d].attrs.get("units") if d in field.coords else None for d in unit}
    if len(coord_units) != 1 or None in coord_units or "units" not in field.attrs:
        return None
    return divide_units(field.attrs["units"], {coord_units.pop(): 1})


def along(field: xr.DataArray, path: Mapping[Hashable, Any], *, interp: str = "linear",
          path_dim: Hashable = "distance", **kwargs: Any) -> xr.DataArray:
    """Rate of change of a field with respect to arc length along a path of points.

    The gradient over the path's dims is interpolated to the points and projected on the
    path's unit tangent (from second-order differences of the points against arc length).

    Parameters
    ----------
    field : DataArray
    path : mapping of dim -> 1-D array
        Positions of the path's points, in coordinate units (all arrays of one length ≥ 2).
    interp : str, default "linear"
        Interpolation method of :meth:`xarray.DataArray.interp`.
    path_dim : str, default "distance"
        Name of the new dimension along the path; its coordinate is the arc length from the
        first point, and the path's positions are attached as coordinates along it.
    **kwargs
        As :func:`fieldgrad.calculus.partial`.

    Examples
    --------
    >>> x = np.linspace(0, 1, 11)
    >>> f = xr.DataArray(np.add.outer(3 * x, 4 * x), dims=("x", "y"), coords={"x": x, "y": x})
    >>> r = along(f, {"x": [0.1, 0.4, 0.7], "y": [0.1, 0.5, 0.9]})   # direction (3, 4)/5
    >>> np.allclose(r, 5.0), r.distance.values.round(3).tolist()
    (True, [0.0, 0.5, 1.0])
    """
    dims = list(path)
    pts = {d: np.asarray(path[d], dtype=np.float64).ravel() for d in dims}
    sizes = {p.size for p in pts.values()}
    if len(sizes) != 1 or sizes.pop() < 2:
        raise ValueError("path needs arrays of one common length of at least 2 points, one per dim")
    steps = np.sqrt(sum(np.diff(p) ** 2 for p in pts.values()))
    if np.any(steps == 0) or not np.all(np.isfinite(steps)):
        raise ValueError("path points must be finite and consecutive points distinct")
    s = np.concatenate([[0.0], np.cumsum(steps)])
    from .numpy_compat import gradient as np_gradient

    edge = 2 if s.size > 2 else 1
    tangent = {d: np_gradient(p, s, edge_order=edge) for d, p in pts.items()}
    norm = np.sqrt(sum(t**2 for t in tangent.values()))
    g = _cartesian_gradient(field, dims, **kwargs)
    at = {d: xr.DataArray(pts[d], dims=path_dim) for d in dims}
    gi = g.interp(at, method=interp)
    parts = [gi.sel(component=str(d), drop=True) * xr.DataArray(tangent[d] / norm, dims=path_dim) for d in dims]
    out = sum(parts[1:], parts[0]).assign_coords({path_dim: s})
    name = f"d{field.name}_d{path_dim}" if field.name is not None else None
    return _finish(out, field, name, f"rate of change of {_base(field)} along the path",
                   _directional_units(field, {d: 1.0 for d in dims}))

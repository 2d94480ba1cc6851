"""Analytic cases on 2-D grids: latitude/longitude grids of any orientation, and a planar curvilinear grid.

A grid is a regular grid in rotated coordinates ``(rlat, rlon)`` turned onto the sphere by
rotation matrices (built here, independently of fieldgrad): its latitude and longitude are 2-D.
The fields are restrictions of polynomials in the Cartesian coordinates of the unit vector ``r̂``,
so every derivative is known in closed form, in 3-D vectors, and projected onto any frame:

* ``f = r̂ᵀ A r̂`` (``A`` symmetric and traceless: a spherical harmonic of degree 2), with
  ``∇f = P 2A r̂ / R``, ``∇²f = −6 f / R²`` and Hessian ``P 2A P / R² − 2 f P / R²``
  (``P = I − r̂ r̂ᵀ``, the projection onto the tangent plane);
* ``V = R Ω × r̂ + κ R² ∇f``: a solid-body rotation about the axis ``Ω`` (vorticity ``2 Ω·r̂``)
  plus a divergent part (divergence ``κ R² ∇²f``); its Jacobian ``∇_b V_a = e_a·(Ω × e_b) +
  κ R² H_ab``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from fieldgrad.geometry import EARTH_RADIUS

R = EARTH_RADIUS
A = np.array([[0.3, 0.5, -0.2], [0.5, -0.7, 0.4], [-0.2, 0.4, 0.4]])  # symmetric, trace 0
OMEGA = 1e-5 * np.array([0.3, -0.5, 0.8])  # s-1
KAPPA = 1e-5  # s-1
DIMS = ("rlat", "rlon")


def _rotation(axis: int, angle_deg: float) -> np.ndarray:
    c, s = np.cos(np.deg2rad(angle_deg)), np.sin(np.deg2rad(angle_deg))
    i, j = [k for k in range(3) if k != axis]
    m = np.eye(3)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("a...,a...->...", a, b)


@dataclass
class SphereCase:
    """A 2-D lat/lon grid with the analytic values of every operator on it.

    ``ds`` holds the coordinates ``lat``, ``lon`` (degrees) on dims ``(rlat, rlon)`` and the
    fields ``f`` (scalar), ``u``, ``v`` (east, north components of ``V``) and ``ui``, ``vj``
    (its components along the grid's ``rlon`` lines and 90° counter-clockwise from them).
    ``exact`` holds the analytic results, ``pole_distance`` the great-circle distance of every
    point from the nearest geographic pole, in degrees.
    """

    ds: xr.Dataset
    exact: dict[str, np.ndarray]
    pole_distance: np.ndarray
    step: float

    @property
    def wind(self) -> xr.DataArray:
        return xr.concat([self.ds.v, self.ds.u], "component").assign_coords(component=["lat", "lon"])

    @property
    def grid_wind(self) -> xr.DataArray:
        return xr.concat([self.ds.ui, self.ds.vj], "component").assign_coords(component=["rlon", "rlat"])


def sphere_case(
    step: float,
    rlat: tuple[float, float] = (-6.0, 14.0),
    rlon: tuple[float, float] = (-9.0, 11.0),
    *,
    centre: float = 90.0,
    roll: float = 0.0,
    turn: float = 37.0,
    offset: tuple[float, float] = (0.3, 0.6),
) -> SphereCase:
    """A rotated grid of spacing ``step`` (degrees) whose point ``(rlat, rlon) = (0, 0)`` lies at
    latitude ``centre`` (90: the North Pole, on the rotated equator), turned by ``roll`` about its
    own centre and by ``turn`` degrees of longitude. Points sit at ``(k + offset) * step``, so
    with ``centre=90`` the pole lies at the same place in its cell on every refinement (between
    points unless ``offset`` is ``(0, 0)``: then it is a grid point).
    """
    ks = [np.arange(round(lo / step), round(hi / step)) for lo, hi in (rlat, rlon)]
    rl, rn = ((k + o) * step for k, o in zip(ks, offset, strict=True))
    RLAT, RLON = np.meshgrid(np.deg2rad(rl), np.deg2rad(rn), indexing="ij")
    M = _rotation(2, turn) @ _rotation(1, centre) @ _rotation(0, roll)  # (1, 0, 0) to latitude `centre`
    local = np.stack([np.cos(RLAT) * np.cos(RLON), np.cos(RLAT) * np.sin(RLON), np.sin(RLAT)])
    d_rlon = np.stack([-np.cos(RLAT) * np.sin(RLON), np.cos(RLAT) * np.cos(RLON), 0 * RLAT])
    r = np.einsum("ab,b...->a...", M, local)
    t_i = np.einsum("ab,b...->a...", M, d_rlon)
    phi = np.arctan2(r[2], np.hypot(r[0], r[1]))  # exactly ±π/2 at a pole
    lam = np.arctan2(r[1], r[0])
    lat, lon = np.rad2deg(phi), np.rad2deg(lam)
    phi, lam = np.deg2rad(lat), np.deg2rad(lon)  # the frame of the stored coordinates
    east = np.stack([-np.sin(lam), np.cos(lam), 0 * lam])
    north = np.stack([-np.sin(phi) * np.cos(lam), -np.sin(phi) * np.sin(lam), np.cos(phi)])
    up = np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])
    t_i = t_i - _dot(t_i, up) * up
    e_i = t_i / np.sqrt(_dot(t_i, t_i))
    e_j = np.cross(up, e_i, axis=0)

    f = _dot(up, np.einsum("ab,b...->a...", A, up))
    Ar = np.einsum("ab,b...->a...", A, up)
    grad = (2 * Ar - 2 * f * up) / R  # P 2A r̂ / R
    omega_x_r = np.cross(OMEGA[:, None, None], up, axis=0)
    V = R * omega_x_r + KAPPA * R**2 * grad

    def hess(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (2 * _dot(a, np.einsum("ab,b...->a...", A, b)) - 2 * f * _dot(a, b)) / R**2

    def jac(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _dot(a, np.cross(OMEGA[:, None, None], b, axis=0)) + KAPPA * R**2 * hess(a, b)

    frame = {"lat": north, "lon": east}
    exact = {
        "f": f,
        "grad_lat": _dot(grad, north),
        "grad_lon": _dot(grad, east),
        "grad_rlon": _dot(grad, e_i),
        "grad_rlat": _dot(grad, e_j),
        "lap": -6 * f / R**2,
        "div": -6 * KAPPA * f,
        "curl": 2 * _dot(OMEGA[:, None, None], up),
        "advection": -_dot(V, grad),
        "directional": (_dot(grad, north) + _dot(grad, east)) / np.sqrt(2),
    }
    for a, ea in frame.items():
        for b, eb in frame.items():
            exact[f"hess_{a}_{b}"] = hess(ea, eb)
            exact[f"jac_{a}_{b}"] = jac(ea, eb)
    coords = {
        "lat": (DIMS, lat, {"units": "degrees_north", "standard_name": "latitude"}),
        "lon": (DIMS, lon, {"units": "degrees_east", "standard_name": "longitude"}),
    }
    ds = xr.Dataset(
        {
            "f": (DIMS, f, {"units": "K"}),
            "u": (DIMS, _dot(V, east), {"units": "m s-1"}),
            "v": (DIMS, _dot(V, north), {"units": "m s-1"}),
            "ui": (DIMS, _dot(V, e_i), {"units": "m s-1"}),
            "vj": (DIMS, _dot(V, e_j), {"units": "m s-1"}),
        },
        coords=coords,
    )
    distance = np.rad2deg(np.pi / 2 - np.abs(phi))
    return SphereCase(ds=ds, exact=exact, pole_distance=distance, step=step)


def results(case: SphereCase, **kw: object) -> dict[str, np.ndarray]:
    """Every operator of fieldgrad on the case (``kw``: derivative keywords), as plain arrays."""
    ds, U, kw = case.ds, case.wind, {"geometry": "sphere", **kw}
    g = ds.f.grad.gradient(**kw)
    gg = ds.f.grad.gradient(frame="grid", **kw)
    H = ds.f.grad.hessian(**kw)
    J = U.grad.jacobian(**kw)
    out = {
        "grad_lat": g.sel(component="lat").values,
        "grad_lon": g.sel(component="lon").values,
        "grad_rlon": gg.sel(component="rlon").values,
        "grad_rlat": gg.sel(component="rlat").values,
        "lap": ds.f.grad.laplacian(**kw).values,
        "div": U.grad.divergence(**kw).values,
        "curl": U.grad.curl(**kw).values,
        "div_grid": case.grid_wind.grad.divergence(frame="grid", **kw).values,
        "curl_grid": case.grid_wind.grad.curl(frame="grid", **kw).values,
        "advection": ds.f.grad.advection(U, **kw).values,
        "directional": ds.f.grad.directional({"lat": 1.0, "lon": 1.0}, **kw).values,
    }
    for a in ("lat", "lon"):
        for b in ("lat", "lon"):
            out[f"hess_{a}_{b}"] = H.sel(component=a, component2=b).values
            out[f"jac_{a}_{b}"] = J.sel(component=a, component2=b).values
    return out


#: what each result is compared with, and the scale its error is measured relative to
REFERENCE = {
    "grad_lat": ("grad_lat", 1 / R),
    "grad_lon": ("grad_lon", 1 / R),
    "grad_rlon": ("grad_rlon", 1 / R),
    "grad_rlat": ("grad_rlat", 1 / R),
    "lap": ("lap", 1 / R**2),
    "div": ("div", KAPPA),
    "curl": ("curl", 1e-5),
    "div_grid": ("div", KAPPA),
    "curl_grid": ("curl", 1e-5),
    "advection": ("advection", 1e-5),
    "directional": ("directional", 1 / R),
    **{f"hess_{a}_{b}": (f"hess_{a}_{b}", 1 / R**2) for a in ("lat", "lon") for b in ("lat", "lon")},
    **{f"jac_{a}_{b}": (f"jac_{a}_{b}", 1e-5) for a in ("lat", "lon") for b in ("lat", "lon")},
}


def relative_errors(case: SphereCase, got: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``|result − exact| / scale`` per operator (NaN where the result is NaN)."""
    return {k: np.abs(v - case.exact[REFERENCE[k][0]]) / REFERENCE[k][1] for k, v in got.items()}


def edge_mask(shape: tuple[int, ...], width: int) -> np.ndarray:
    """Points within ``width`` rows or columns of the grid's edges."""
    mask = np.zeros(shape, bool)
    mask[:width, :] = mask[-width:, :] = mask[:, :width] = mask[:, -width:] = True
    return mask


# ----------------------------------------------------------------------------- planar curvilinear


@dataclass
class PlanarCase:
    """A stretched, sheared and rotated planar grid ``x(j, i)``, ``y(j, i)`` (ROMS-like) with the
    analytic values of every operator; ``ds`` holds ``f``, ``u``, ``v`` (along x, y) and ``ui``,
    ``vj`` (along the grid's ``i`` lines and 90° counter-clockwise from them)."""

    ds: xr.Dataset
    exact: dict[str, np.ndarray]
    step: float

    @property
    def wind(self) -> xr.DataArray:
        return xr.concat([self.ds.u, self.ds.v], "component").assign_coords(component=["x", "y"])

    @property
    def grid_wind(self) -> xr.DataArray:
        return xr.concat([self.ds.ui, self.ds.vj], "component").assign_coords(component=["i", "j"])


def planar_case(n: int, angle: float = 0.6) -> PlanarCase:
    s = np.linspace(0.0, 1.0, n)
    S, T = np.meshgrid(s, s, indexing="ij")  # (j, i)
    c, sn = np.cos(angle), np.sin(angle)
    u_, w_ = T + 0.15 * T**2, S + 0.1 * np.sin(np.pi * T)
    x, y = c * u_ - sn * w_, sn * u_ + c * w_
    du, dw = 1 + 0.3 * T, 0.1 * np.pi * np.cos(np.pi * T)  # ∂/∂T of (u_, w_): the i lines
    ti = np.stack([c * du - sn * dw, sn * du + c * dw])
    e_i = ti / np.hypot(*ti)
    e_j = np.stack([-e_i[1], e_i[0]])
    f = np.sin(2 * x) * np.cos(3 * y)
    grad = np.stack([2 * np.cos(2 * x) * np.cos(3 * y), -3 * np.sin(2 * x) * np.sin(3 * y)])
    U = np.stack([np.sin(x) * y, np.cos(y) * x**2])
    jac = {"x_x": y * np.cos(x), "x_y": np.sin(x), "y_x": 2 * x * np.cos(y), "y_y": -(x**2) * np.sin(y)}
    hess = {"x_x": -4 * f, "y_y": -9 * f, "x_y": -6 * np.cos(2 * x) * np.sin(3 * y)}
    hess["y_x"] = hess["x_y"]
    exact = {
        "grad_x": grad[0],
        "grad_y": grad[1],
        "grad_i": _dot(grad, e_i),
        "grad_j": _dot(grad, e_j),
        "lap": -13 * f,
        "div": jac["x_x"] + jac["y_y"],
        "curl": jac["y_x"] - jac["x_y"],
        "advection": -_dot(U, grad),
        **{f"hess_{k}": v for k, v in hess.items()},
        **{f"jac_{k}": v for k, v in jac.items()},
    }
    dims = ("j", "i")
    ds = xr.Dataset(
        {
            "f": (dims, f),
            "u": (dims, U[0]),
            "v": (dims, U[1]),
            "ui": (dims, _dot(U, e_i)),
            "vj": (dims, _dot(U, e_j)),
        },
        coords={"x": (dims, x, {"units": "m"}), "y": (dims, y, {"units": "m"})},
    )
    return PlanarCase(ds=ds, exact=exact, step=1.0 / (n - 1))


def planar_results(case: PlanarCase, **kw: object) -> dict[str, np.ndarray]:
    """Every operator on the planar case (``kw``: derivative keywords), as plain arrays."""
    ds, U, xy = case.ds, case.wind, ["x", "y"]
    g = ds.f.grad.gradient(xy, **kw)
    gg = ds.f.grad.gradient(xy, frame="grid", **kw)
    H = ds.f.grad.hessian(xy, **kw)
    J = U.grad.jacobian(**kw)
    out = {
        "grad_x": g.sel(component="x").values,
        "grad_y": g.sel(component="y").values,
        "grad_i": gg.sel(component="i").values,
        "grad_j": gg.sel(component="j").values,
        "lap": ds.f.grad.laplacian(xy, **kw).values,
        "div": U.grad.divergence(**kw).values,
        "curl": U.grad.curl(**kw).values,
        "div_grid": case.grid_wind.grad.divergence(frame="grid", **kw).values,
        "curl_grid": case.grid_wind.grad.curl(frame="grid", **kw).values,
        "advection": ds.f.grad.advection(U, **kw).values,
    }
    for a in ("x", "y"):
        for b in ("x", "y"):
            out[f"hess_{a}_{b}"] = H.sel(component=a, component2=b).values
            out[f"jac_{a}_{b}"] = J.sel(component=a, component2=b).values
    return out


def planar_errors(case: PlanarCase, got: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``|result − exact|`` per operator (the fields are of order one)."""
    reference = {"div_grid": "div", "curl_grid": "curl"}
    return {k: np.abs(v - case.exact[reference.get(k, k)]) for k, v in got.items()}


# ----------------------------------------------------------------------------- the tables of measured orders


def _middle(shape: tuple[int, ...]) -> np.ndarray:
    """The middle 60% of the grid along each dim (the same region at every resolution)."""
    inside = np.ones(shape, bool)
    for axis, n in enumerate(shape):
        inside &= np.expand_dims(np.abs(np.arange(n) / (n - 1) - 0.5) <= 0.3, 1 - axis)
    return inside


GROUPS = {
    "gradient, directional, advection": ("grad_", "directional", "advection"),
    "divergence, curl": ("div", "curl"),
    "the same, grid-relative wind": ("div_grid", "curl_grid"),
    "Laplacian": ("lap",),
    "Hessian": ("hess_",),
    "Jacobian": ("jac_",),
}


def _group(op: str) -> str:
    return next(
        g for g, names in GROUPS.items() if any(op == n or (n.endswith("_") and op.startswith(n)) for n in names)
    )


def print_orders(title: str, runs: list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]) -> None:
    """Per group of operators and band of points: the least and largest order over the group's
    operators and the refinements, and the largest error on the finest grid."""
    errs: dict[tuple[str, str], dict[str, list[float]]] = {}
    for errors, bands in runs:
        for op, e in errors.items():
            for band, mask in bands.items():
                errs.setdefault((_group(op), band), {}).setdefault(op, []).append(float(np.nanmax(e[mask])))
    bands = list(runs[0][1])
    print(f"\n{title}\n{'':34s}" + "".join(f"{b:>22s}" for b in bands))
    for g in GROUPS:
        row = f"{g:34s}"
        for b in bands:
            d = errs[g, b]
            orders = [np.log2(v[i] / v[i + 1]) for v in d.values() for i in range(len(v) - 1)]
            row += f"{min(orders):6.2f} -{max(orders):5.2f} {max(v[-1] for v in d.values()):8.1e}"
        print(row)


def main() -> None:
    """Print the orders measured by the tests, on their grids and finer (``python tests/analytic_grids.py``)."""
    for offset, name in (((0.3, 0.6), "between grid points"), ((0.0, 0.0), "on a grid point")):
        for accuracy, steps in ((2, (0.5, 0.25, 0.125)), (4, (1.0, 0.5, 0.25))):
            runs = []
            for step in steps:
                case = sphere_case(step, offset=offset)
                d = case.pole_distance
                bands = {
                    "within 1°": d < 1,
                    "1-2°": (d >= 1) & (d < 2),
                    "2-5°": (d >= 2) & (d < 5),
                    "beyond 5°": d >= 5,
                    "edge rows": edge_mask(d.shape, 1),
                }
                runs.append((relative_errors(case, results(case, accuracy=accuracy)), bands))
            print_orders(f"North Pole {name}, accuracy {accuracy}, steps {steps}°", runs)
    for accuracy, steps in ((2, (0.5, 0.25, 0.125)), (4, (1.0, 0.5, 0.25))):
        runs = []
        for step in steps:
            case = sphere_case(step, (-10.0, 10.0), (-12.0, 12.0), centre=30.0, roll=20.0, offset=(0.0, 0.0))
            shape = case.pole_distance.shape
            bands = {"edge rows": edge_mask(shape, 1), "interior": _middle(shape)}
            runs.append((relative_errors(case, results(case, accuracy=accuracy)), bands))
        print_orders(f"rotated pole at 30° N, no pole near, accuracy {accuracy}, steps {steps}°", runs)
    for accuracy, sizes in ((2, (41, 81, 161)), (4, (21, 41, 81))):
        runs = []
        for n in sizes:
            planar = planar_case(n)
            shape = planar.ds.f.shape
            bands = {"edge rows": edge_mask(shape, 1), "interior": _middle(shape)}
            runs.append((planar_errors(planar, planar_results(planar, accuracy=accuracy)), bands))
        print_orders(f"planar curvilinear, accuracy {accuracy}, {sizes} points a side", runs)


if __name__ == "__main__":
    main()

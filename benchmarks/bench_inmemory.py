#!/usr/bin/env python3
"""In-memory 3-axis gradient of a 256³ float64 field: fieldgrad against numpy and xarray.

Times, in one process and side by side (issue 2, "How we will check it"):

* ``fieldgrad.gradient(f, x, y, z, edge_order=2)``              (numpy drop-in)
* ``da.grad.gradient(accuracy=2, edge_order=2)``                 (xarray accessor)
* ``numpy.gradient(f, x, y, z, edge_order=2)``                   (anchor)
* ``[da.differentiate(d, edge_order=2) for d in dims]``          (anchor)
* diagnostics, not user calls: ``fieldgrad.gradient`` in ``fieldgrad.set_options(reuse_buffers=False)``
  (every output allocated afresh instead of reusing the memory of freed outputs), and
  ``apply_stencils(f, terms, out=prealloc)`` (the kernel alone, outputs preallocated)

on uniform coordinates (``np.arange(n) * 0.25``, bit-uniform, so numpy takes its uniform path)
and non-uniform ones (``cumsum(uniform(0.2, 1.8))``). Output allocation is included, as a user
calls it. Every result is checked against ``numpy.gradient`` before timing.

Protocol: one warm-up/verification call per case, then ``--repeats`` rounds in which every case
runs once, in a freshly shuffled order each round (page-fault and cache effects of the previous
case hit every case alike); medians are reported. For each case the table shows

* the median, min and max wall time;
* effective bandwidth: useful bytes (the field read once + 3 outputs written once, 4·N·8 B)
  over the median, and × floor: the median over the time those bytes take at ``--floor-gbps``
  (38.4 GB/s, this machine's 2-thread copy bandwidth; see the project's perf-baselines report);
* load: the CPU share of *other* processes during the case's timed runs (from /proc/stat), and
  cpu/w: our CPU time over wall time (about 2 when both cores worked for us). Re-run when load
  is high: the machine is shared.

Then the speed-up of each fieldgrad call over each anchor (anchor median ÷ fieldgrad median).

Further sections, each in fresh subprocesses:

* peak RSS of one call (default allocator; the peak watermark is reset through
  /proc/self/clear_refs before the call), over the 3 outputs' size;
* first-call (JIT) cost of fieldgrad's compiled kernel: with an empty numba cache (cold:
  compiles and writes the cache; ``NUMBA_CACHE_DIR`` points to a new temporary directory) and
  with that cache filled (warm: loads it), for float64 and then float32 input (each input dtype
  is a specialisation of its own); ``import numba``, which the first call also pays, apart;
* ``import fieldgrad`` time: total in a fresh process, and incremental over ``import xarray``.

Usage (from the repository root)::

    uv run python benchmarks/bench_inmemory.py                 # 256³, ~3 min
    uv run python benchmarks/bench_inmemory.py --quick         # 128³, ~1 min
    uv run python benchmarks/bench_inmemory.py --json out.json --wait-idle 120
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

MiB = 1024 * 1024
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DIMS = ("x", "y", "z")

# --------------------------------------------------------------------------------------------
# load metering (the machine is shared): CPU used by other processes while we measure
# --------------------------------------------------------------------------------------------

_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_NCPU = os.cpu_count() or 1


def _snap() -> tuple[float, float, float]:
    """(wall s, machine busy cpu-s, our own cpu-s incl. children)."""
    try:
        with open("/proc/stat") as fh:
            v = [int(x) for x in fh.readline().split()[1:9]]
        busy = (v[0] + v[1] + v[2] + v[5] + v[6]) / _TCK  # user nice system irq softirq
    except OSError:
        busy = float("nan")
    ru = resource.getrusage(resource.RUSAGE_SELF)
    rc = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter(), busy, ru.ru_utime + ru.ru_stime + rc.ru_utime + rc.ru_stime


def _foreign(a: tuple, b: tuple) -> tuple[float, float]:
    """(foreign cpu-s, capacity cpu-s) between two snapshots."""
    cap = max(b[0] - a[0], 1e-9) * _NCPU
    return max(0.0, (b[1] - a[1]) - (b[2] - a[2])), cap


def foreign_load(seconds: float = 1.0) -> float:
    a = _snap()
    time.sleep(seconds)
    fo, cap = _foreign(a, _snap())
    return min(fo / cap, 1.0)


def wait_idle(max_wait: float, threshold: float = 0.15) -> float | None:
    """Wait up to ``max_wait`` s until other processes use less than ``threshold`` of the machine."""
    if max_wait <= 0:
        return None
    t0 = time.perf_counter()
    while True:
        fl = foreign_load(1.0)
        if fl < threshold or time.perf_counter() - t0 > max_wait:
            if fl >= threshold:
                print(f"  (still {fl:.0%} foreign CPU load after {max_wait:.0f} s; measuring anyway)", flush=True)
            return fl


# --------------------------------------------------------------------------------------------
# the workload
# --------------------------------------------------------------------------------------------


def make_field(n: int, uniform: bool, seed: int = 42) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    f = rng.random((n, n, n))
    if uniform:
        coords = [np.arange(n) * 0.25 for _ in range(3)]  # exactly representable: bit-uniform
    else:
        coords = [np.cumsum(rng.uniform(0.2, 1.8, n)) for _ in range(3)]
    return f, coords


def make_calls(f: np.ndarray, coords: list[np.ndarray], kernel_case: bool = True) -> dict:
    """name -> zero-argument callable returning a list of the 3 derivatives (as arrays)."""
    import xarray as xr

    import fieldgrad
    from fieldgrad.coords import AxisCoord
    from fieldgrad.kernels import apply_stencils
    from fieldgrad.stencil import build_stencil

    da = xr.DataArray(f, dims=DIMS, coords=dict(zip(DIMS, coords, strict=True)), name="f")
    stencils = []
    for x in coords:
        d = np.diff(x)
        h = float(d[0]) if bool((d == d[0]).all()) else None
        stencils.append(build_stencil(AxisCoord(values=x, spacing=h), 1, 2, 2, "one-sided"))
    terms = list(enumerate(stencils))

    calls = {
        "fieldgrad.gradient": lambda: list(fieldgrad.gradient(f, *coords, edge_order=2)),
        "da.grad.gradient": lambda: list(da.grad.gradient(accuracy=2, edge_order=2).data),
        "numpy.gradient": lambda: list(np.gradient(f, *coords, edge_order=2)),
        "xarray .differentiate": lambda: [da.differentiate(d, edge_order=2).data for d in DIMS],
    }

    def no_reuse():
        with fieldgrad.set_options(reuse_buffers=False):
            return list(fieldgrad.gradient(f, *coords, edge_order=2))

    if kernel_case:
        calls[NO_REUSE] = no_reuse
        prealloc = np.empty((3,) + f.shape)
        prealloc.fill(0.0)  # page-faulted once, outside the timings
        calls[KERNEL] = lambda: list(apply_stencils(f, terms, out=prealloc))
    return calls


KERNEL = "fieldgrad kernel, out= (no alloc)"
NO_REUSE = "fieldgrad.gradient, no buffer reuse"
FIELDGRAD = ("fieldgrad.gradient", "da.grad.gradient")
ANCHORS = ("numpy.gradient", "xarray .differentiate")


def max_relerr(res: list, ref: tuple) -> float:
    return max(float(np.abs(np.asarray(r) - q).max() / np.abs(q).max()) for r, q in zip(res, ref, strict=True))


def time_workload(n: int, uniform: bool, repeats: int, warmup: int, floor_gbps: float) -> dict:
    f, coords = make_field(n, uniform)
    calls = make_calls(f, coords)
    ref = np.gradient(f, *coords, edge_order=2)
    cases = {name: dict(times=[], cpu=[], foreign=0.0, cap=0.0) for name in calls}
    for name, fn in calls.items():  # warm-up (JIT, caches) and verification
        for w in range(max(warmup, 1)):
            r = fn()
            if w == 0:
                cases[name]["max_rel_err"] = max_relerr(r, ref)
            del r
    del ref
    gc.collect()
    names = list(calls)
    rng = np.random.default_rng(12345)
    for _ in range(repeats):
        for i in rng.permutation(len(names)):
            name = names[i]
            c = cases[name]
            gc.collect()
            a = _snap()
            r = calls[name]()
            b = _snap()
            del r
            c["times"].append(b[0] - a[0])
            c["cpu"].append(b[2] - a[2])
            fo, cap = _foreign(a, b)
            c["foreign"] += fo
            c["cap"] += cap
    useful = 4 * f.size * 8  # field read once + 3 outputs written once
    floor_s = useful / (floor_gbps * 1e9)
    rows = {}
    for name, c in cases.items():
        med = statistics.median(c["times"])
        rows[name] = dict(
            median_s=med,
            min_s=min(c["times"]),
            max_s=max(c["times"]),
            times_s=[round(t, 5) for t in c["times"]],
            GBps=useful / med / 1e9,
            x_floor=med / floor_s,
            foreign_load=c["foreign"] / c["cap"] if c["cap"] else None,
            cpu_over_wall=statistics.median(c["cpu"]) / med,
            max_rel_err=c["max_rel_err"],
        )
    speedup = {fg: {an: rows[an]["median_s"] / rows[fg]["median_s"] for an in ANCHORS} for fg in FIELDGRAD}
    return dict(n=n, uniform=uniform, useful_bytes=useful, floor_s=floor_s, rows=rows, speedup=speedup)


def print_workload(res: dict) -> None:
    kind = "uniform" if res["uniform"] else "non-uniform"
    n = res["n"]
    print(
        f"\n== {n}³ float64 ({n**3 * 8 / MiB:.0f} MiB), {kind} coordinates, 3 axes, edge_order=2; "
        f"floor {res['floor_s'] * 1e3:.1f} ms =="
    )
    print(
        f"{'case':36s} {'median s':>9s} {'min s':>8s} {'max s':>8s} {'GB/s':>6s} {'x floor':>8s} "
        f"{'relerr':>8s} {'load':>5s} {'cpu/w':>5s}"
    )
    for name, r in res["rows"].items():
        load = f"{r['foreign_load']:5.0%}" if r["foreign_load"] is not None else f"{'':5s}"
        print(
            f"{name:36s} {r['median_s']:9.4f} {r['min_s']:8.4f} {r['max_s']:8.4f} {r['GBps']:6.1f} "
            f"{r['x_floor']:8.1f} {r['max_rel_err']:8.1e} {load} {r['cpu_over_wall']:5.2f}"
        )
    for fg, per in res["speedup"].items():
        print(f"  {fg:20s} is " + ", ".join(f"{v:.2f}x faster than {an}" for an, v in per.items()))


# --------------------------------------------------------------------------------------------
# peak RSS (fresh subprocess per case)
# --------------------------------------------------------------------------------------------

RSS_CASES = [
    f"{c}|{k}"
    for k in ("uniform", "non-uniform")
    for c in ("fieldgrad.gradient", "da.grad.gradient", "numpy.gradient", "xarray .differentiate")
]


def _status_kib(key: str) -> int | None:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def rss_child(case: str, n: int) -> None:
    warnings.simplefilter("ignore")
    name, kind = case.split("|")
    f, coords = make_field(n, kind == "uniform")
    fn = make_calls(f, coords, kernel_case=False)[name]
    small_f, small_c = make_field(64, kind == "uniform")  # 64³: the parallel kernel, as for n³
    make_calls(small_f, small_c, kernel_case=False)[name]()  # compile/load kernels outside the measurement
    del small_f, small_c
    gc.collect()
    rss0 = _status_kib("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset the peak-RSS watermark (VmHWM)
        reset = True
    except OSError:
        reset = False
    t0 = time.perf_counter()
    res = fn()
    dt = time.perf_counter() - t0
    peak = _status_kib("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outputs_mib = 3 * f.nbytes / MiB
    delta = (peak - rss0) / 1024
    print(
        json.dumps(
            dict(
                case=case,
                n=n,
                hwm_reset=reset,
                peak_delta_MiB=delta,
                outputs_MiB=outputs_mib,
                over_outputs=delta / outputs_mib,
                temporaries_in_inputs=(delta - outputs_mib) / (f.nbytes / MiB),
                time_s=dt,
            )
        )
    )
    del res


def rss_all(n: int) -> list[dict]:
    rows = []
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("GLIBC_TUNABLES", None)  # peak RSS with the default allocator
    for case in RSS_CASES:
        cmd = [sys.executable, os.path.abspath(__file__), "--rss-child", case, "--n", str(n)]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        rows.append(json.loads(lines[-1]) if lines else dict(case=case, error=(out.stderr or out.stdout)[-400:]))
    return rows


def print_rss(rows: list[dict], n: int) -> None:
    print(f"\n== peak RSS of one call, {n}³ (fresh process each; 3 outputs = {3 * n**3 * 8 / MiB:.0f} MiB) ==")
    print(f"{'case':40s} {'peak over before, MiB':>22s} {'÷ outputs':>10s} {'extra ÷ input':>14s} {'time s':>7s}")
    for r in rows:
        if "error" in r:
            print(f"{r['case']:40s} ERROR {r['error'][-200:]}")
        else:
            print(
                f"{r['case']:40s} {r['peak_delta_MiB']:22.0f} {r['over_outputs']:10.2f} "
                f"{r['temporaries_in_inputs']:14.2f} {r['time_s']:7.3f}"
            )
    print("(extra ÷ input: peak beyond the outputs, in input-sized temporaries; the goal is <= 1)")


# --------------------------------------------------------------------------------------------
# first-call (JIT) cost and import time (fresh subprocesses)
# --------------------------------------------------------------------------------------------

_JIT_CHILD = r"""
import json, time
import numpy as np
import fieldgrad
t0 = time.perf_counter()
import numba  # fieldgrad imports it on the first kernel call; timed apart
res = {"import_numba_s": time.perf_counter() - t0}
x = np.cumsum(np.random.default_rng(1).uniform(0.2, 1.8, 64))
for label, dtype in (("float64", np.float64), ("float32", np.float32)):
    f = np.random.default_rng(0).random((64, 64, 64)).astype(dtype)  # large enough for threads
    t0 = time.perf_counter(); fieldgrad.gradient(f, x, x, x, edge_order=2); first = time.perf_counter() - t0
    t0 = time.perf_counter(); fieldgrad.gradient(f, x, x, x, edge_order=2); second = time.perf_counter() - t0
    res[label] = {"first_s": first, "second_s": second, "jit_s": first - second}
print(json.dumps(res))
"""

_IMPORT_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import xarray
t1 = time.perf_counter()
import fieldgrad
t2 = time.perf_counter()
print(json.dumps({"xarray_s": t1 - t0, "fieldgrad_after_xarray_s": t2 - t1, "numba_imported": "numba" in sys.modules}))
"""

_IMPORT_ALONE = r"""
import json, sys, time
t0 = time.perf_counter()
import fieldgrad
t1 = time.perf_counter()
print(json.dumps({"total_s": t1 - t0, "numba_imported": "numba" in sys.modules}))
"""


def _child(code: str, env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"error": (out.stderr or out.stdout)[-400:]}
    return json.loads(lines[-1])


def jit_cost(repeats: int) -> dict:
    cold, warm = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="fieldgrad-numba-cache-") as d:
            env = dict(os.environ, NUMBA_CACHE_DIR=d)
            cold.append(_child(_JIT_CHILD, env))  # empty cache: compiles, writes the cache
            warm.append(_child(_JIT_CHILD, env))  # the cache just written: loads it
    return {"cold": cold, "warm": warm}


def import_time(repeats: int) -> dict:
    alone = [_child(_IMPORT_ALONE) for _ in range(repeats)]
    after = [_child(_IMPORT_CHILD) for _ in range(repeats)]
    return {"alone": alone, "after_xarray": after}


def _med(rows: list[dict], *keys: str) -> float:
    vals = []
    for r in rows:
        v = r
        for k in keys:
            v = v.get(k) if isinstance(v, dict) else None
        if isinstance(v, (int, float)):
            vals.append(v)
    return statistics.median(vals) if vals else float("nan")


def print_jit(jit: dict) -> None:
    print(
        "\n== first call of fieldgrad.gradient (64³) in a fresh process, median; compile/load = first - second call =="
    )
    for kind in ("cold", "warm"):
        label = "empty numba cache: compile" if kind == "cold" else "filled cache: load from disk"
        errs = [r["error"] for r in jit[kind] if "error" in r]
        if errs:
            print(f"  {label}: ERROR {errs[0][-200:]}")
            continue
        print(
            f"  {label:30s} float64 kernel {_med(jit[kind], 'float64', 'jit_s'):6.2f} s, then the float32 one "
            f"{_med(jit[kind], 'float32', 'jit_s'):6.2f} s   (plus import numba "
            f"{_med(jit[kind], 'import_numba_s'):.2f} s on the first call)"
        )


def print_import(imp: dict) -> None:
    print("\n== import time in a fresh process (median) ==")
    print(f"  import fieldgrad (total, cold interpreter):    {_med(imp['alone'], 'total_s'):.3f} s")
    print(f"  import xarray:                                 {_med(imp['after_xarray'], 'xarray_s'):.3f} s")
    print(
        "  import fieldgrad after xarray (incremental):   "
        f"{_med(imp['after_xarray'], 'fieldgrad_after_xarray_s'):.3f} s"
    )
    nb = {r.get("numba_imported") for r in imp["alone"]}
    print(f"  numba imported by `import fieldgrad`: {sorted(nb)}")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("  (PYTHONDONTWRITEBYTECODE is set: no .pyc caching, every import compiles its modules' source)")


# --------------------------------------------------------------------------------------------


def env_info() -> dict:
    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": _NCPU,
        "env": {
            k: v
            for k, v in os.environ.items()
            if k.startswith(("NUMBA_", "FIELDGRAD_", "OMP_", "GLIBC_")) or k == "PYTHONDONTWRITEBYTECODE"
        },
    }
    for mod in ("numpy", "xarray", "numba", "dask"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception as e:  # noqa: BLE001  # pragma: no cover - any import failure is reported, not fatal
            info[mod] = f"not importable ({type(e).__name__})"
    try:
        import numba

        info["numba_threads"] = numba.get_num_threads()
    except Exception:  # noqa: BLE001  # pragma: no cover - optional information
        pass
    try:
        info["git"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
    except OSError:  # pragma: no cover
        pass
    return info


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="128³ instead of 256³, fewer repeats elsewhere")
    p.add_argument("--n", type=int, default=None, help="edge length of the cube (default 256; --quick 128)")
    p.add_argument("--repeats", type=int, default=7, help="timed rounds (default 7)")
    p.add_argument("--warmup", type=int, default=1, help="warm-up calls per case (default 1)")
    p.add_argument("--floor-gbps", type=float, default=38.4, help="bandwidth floor in GB/s (default 38.4)")
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help="before each section wait up to S s for other processes to use < 15%% of the machine",
    )
    p.add_argument("--skip", default="", help="comma list of sections to skip: timing,rss,jit,import")
    p.add_argument("--json", metavar="PATH", help="write all results as JSON")
    p.add_argument("--rss-child", help=argparse.SUPPRESS)
    args = p.parse_args()
    n = args.n or (128 if args.quick else 256)
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    if args.rss_child:
        rss_child(args.rss_child, n)
        return
    warnings.simplefilter("ignore")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    result: dict = {"args": vars(args) | {"n": n}, "env": env_info(), "sections": {}}
    e = result["env"]
    print(
        f"python {e['python']}, numpy {e['numpy']}, xarray {e['xarray']}, numba {e['numba']} "
        f"({e.get('numba_threads')} threads), {e['cpus']} CPUs, git {e.get('git')}; env {e['env']}"
    )

    def section(name, fn, *a):
        pre = wait_idle(args.wait_idle)
        s0 = _snap()
        out = fn(*a)
        s1 = _snap()
        fo, cap = _foreign(s0, s1)
        result["sections"][name] = dict(seconds=s1[0] - s0[0], foreign_load=fo / cap, foreign_load_before=pre)
        return out

    t_start = time.perf_counter()
    if "timing" not in skip:
        for uniform in (True, False):
            key = "uniform" if uniform else "non-uniform"
            res = section(key, time_workload, n, uniform, args.repeats, args.warmup, args.floor_gbps)
            result[key] = res
            print_workload(res)
            print(
                f"  [other processes' CPU load during this workload: {result['sections'][key]['foreign_load']:.0%}]",
                flush=True,
            )
            gc.collect()
    if "rss" not in skip:
        rows = section("rss", rss_all, n)
        result["rss"] = rows
        print_rss(rows, n)
    reps = 1 if args.quick else 3
    jit = imp = None
    if "jit" not in skip:
        jit = section("jit", jit_cost, reps)
        result["jit"] = jit
    if "import" not in skip:
        imp = section("import", import_time, 2 * reps + 1)
        result["import"] = imp
    if jit is not None:
        print_jit(jit)
    if imp is not None:
        print_import(imp)
    result["total_s"] = time.perf_counter() - t_start
    print(
        f"\ntotal {result['total_s']:.0f} s; sections (s / other processes' load): "
        + ", ".join(f"{k} {v['seconds']:.0f}/{v['foreign_load']:.0%}" for k, v in result["sections"].items())
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1, default=str)
        print("wrote", args.json)


if __name__ == "__main__":
    main()

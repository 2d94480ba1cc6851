"""Interruptions and write faults of the ``fieldgrad`` command, with real processes (slow tests).

Each case runs the installed console script on a netCDF input with a previous output in place
(``--overwrite``), waits until the run is inside one phase (opening the input: its coordinates
read by the main thread; reading its data chunks, computing the derivative, writing the output:
dask's threads), sends SIGINT or SIGTERM once or twice, to the process or to its
process group (as a terminal's Ctrl-C does), and checks: the exit status (130 for SIGINT, 143 for
SIGTERM), an exit within 2 s of the first signal, one line on stderr and no traceback, no
temporary left, and the previous output byte for byte as it was.

A phase is made to last by a ``sitecustomize`` module put on the child's ``PYTHONPATH`` (test
scaffolding, nothing in fieldgrad reads it): a slow read holds the HDF5 lock like a slow disk
does, a slow derivative method stands for a long computation, and a slow chunk store holds the
writer's lock. The real readers and writers (h5netcdf/h5py, zarr) run underneath; an input big
enough for each phase to last seconds on its own would take far longer to make and to run, and
dask interleaves reading, computing and writing chunk by chunk anyway.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from fieldgrad import cli

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]

HOOKS = textwrap.dedent('''
    """Test hooks for fieldgrad's interruption tests: make one phase of a CLI run slow."""
    import os
    import time

    _PHASE = os.environ.get("FIELDGRAD_TEST_PHASE")
    _MARKER = os.environ.get("FIELDGRAD_TEST_MARKER")
    _DELAY = float(os.environ.get("FIELDGRAD_TEST_DELAY", "0.3"))


    def _entered():
        if _MARKER and not os.path.exists(_MARKER):
            with open(_MARKER, "w") as fh:
                fh.write(_PHASE)


    if _PHASE in ("open", "read"):
        import threading

        from xarray.backends import h5netcdf_

        _orig_getitem = h5netcdf_.H5NetCDFArrayWrapper._getitem

        def _slow_getitem(self, key):
            # open: the coordinates, read by the main thread when the file is opened;
            # read: the data chunks, read by dask's threads during the computation
            if (threading.current_thread() is threading.main_thread()) == (_PHASE == "open"):
                with self.datastore.lock:  # a slow disk: the HDF5 lock is held while reading
                    _entered()
                    time.sleep(_DELAY)
            return _orig_getitem(self, key)

        h5netcdf_.H5NetCDFArrayWrapper._getitem = _slow_getitem
    elif _PHASE == "compute":
        import numpy as np

        import fieldgrad

        @fieldgrad.register_method
        class _Slow(fieldgrad.DerivativeMethod):
            """Centred differences that take their time."""
            name = "slow-test"
            max_order = 1
            supports_nonuniform = True

            def halo(self, coord, order, **options):
                return 1

            def derivative(self, values, coord, *, axis, order, **options):
                if values.size and values.shape[axis] >= 2:
                    _entered()
                    time.sleep(_DELAY)
                    return np.gradient(values, coord.values, axis=axis)
                return np.zeros_like(values)
    elif _PHASE == "write":
        import dask.array.core as _dac

        _orig_store = _dac.load_store_chunk

        class _SlowTarget:
            def __init__(self, out):
                self.out = out

            def __setitem__(self, key, value):  # called with the writer's lock held
                _entered()
                time.sleep(_DELAY)
                self.out[key] = value

            def __getitem__(self, key):
                return self.out[key]

        def _slow_store(x, out, *args, **kwargs):
            return _orig_store(x, _SlowTarget(out), *args, **kwargs)

        _dac.load_store_chunk = _slow_store
''')

MESSAGE = {
    signal.SIGINT: "fieldgrad: interrupted; no output written",
    signal.SIGTERM: "fieldgrad: terminated (SIGTERM); no output written",
}

# phase x output format x once/twice; the signal and its target alternate so that each of
# SIGINT/SIGTERM meets every phase, both formats, once and twice, the process and its group
# (opening, quick in real life, gets two cases)
CASES = [
    ("open", "nc", "once", signal.SIGINT, "group"),
    ("open", "zarr", "twice", signal.SIGTERM, "process"),
    ("read", "nc", "once", signal.SIGINT, "group"),
    ("read", "nc", "twice", signal.SIGTERM, "process"),
    ("read", "zarr", "once", signal.SIGTERM, "group"),
    ("read", "zarr", "twice", signal.SIGINT, "process"),
    ("compute", "nc", "once", signal.SIGTERM, "process"),
    ("compute", "nc", "twice", signal.SIGINT, "group"),
    ("compute", "zarr", "once", signal.SIGINT, "process"),
    ("compute", "zarr", "twice", signal.SIGTERM, "group"),
    ("write", "nc", "once", signal.SIGINT, "process"),
    ("write", "nc", "twice", signal.SIGTERM, "group"),
    ("write", "zarr", "once", signal.SIGTERM, "process"),
    ("write", "zarr", "twice", signal.SIGINT, "group"),
]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "fieldgrad-tmp" in p.name or "fieldgrad-old" in p.name)


def snapshot(path: Path) -> object:
    """The bytes of a file, or of every file of a zarr store."""
    if path.is_dir():
        return sorted((p.relative_to(path).as_posix(), p.read_bytes()) for p in path.rglob("*") if p.is_file())
    return path.read_bytes()


def write_previous(out: Path) -> object:
    prev = xr.Dataset({"previous": ("p", [1.0, 2.0])})
    if out.suffix == ".zarr":
        prev.to_zarr(out, consolidated=True)
    else:
        prev.to_netcdf(out, engine="h5netcdf")
    return snapshot(out)


def fieldgrad_command() -> list[str]:
    """The console script installed next to this interpreter (as after ``pip install``)."""
    script = Path(sys.executable).parent / "fieldgrad"
    return [str(script)] if script.exists() else [sys.executable, "-m", "fieldgrad.cli"]


@pytest.fixture(scope="module")
def slow_setup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A netCDF input in 20 chunks and the hooks module; returns their folder."""
    pytest.importorskip("h5py")
    folder = tmp_path_factory.mktemp("slow")
    x, y = np.arange(40.0), np.arange(6.0)
    ds = xr.Dataset({"f": (("x", "y"), np.add.outer(x**2, y))}, coords={"x": x, "y": y})
    ds.to_netcdf(folder / "in.nc", engine="h5netcdf", encoding={"f": {"chunksizes": (2, 6)}})
    (folder / "hooks").mkdir()
    (folder / "hooks" / "sitecustomize.py").write_text(HOOKS)
    return folder


def start(
    cmd: list[str], setup: Path, phase: str, work: Path, *args: str, cwd: Path | None = None
) -> tuple[subprocess.Popen[str], Path]:
    marker = work / f"marker-{phase}"
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(setup / "hooks"), os.environ.get("PYTHONPATH", "")]),
        FIELDGRAD_TEST_PHASE=phase,
        FIELDGRAD_TEST_MARKER=str(marker),
    )
    method = ["--method", "slow-test"] if phase == "compute" else []
    proc = subprocess.Popen(
        [*cmd, "partial", str(setup / "in.nc"), "--var", "f", "--dims", "x", "--chunks", "x=2", *method, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd or work,
        env=env,
        start_new_session=True,
    )  # its own process group
    return proc, marker


def interrupt(
    proc: subprocess.Popen[str], marker: Path, sig: signal.Signals, count: str, target: str
) -> tuple[str, str, float]:
    """Signal ``proc`` 0.3 s into the phase (a second time 0.2 s later); stdout, stderr and the
    seconds from the first signal to the exit."""
    deadline = time.monotonic() + 120
    try:
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the phase never started"
            time.sleep(0.02)
        time.sleep(0.3)
        send = (lambda: os.killpg(proc.pid, sig)) if target == "group" else (lambda: proc.send_signal(sig))
        sent = time.monotonic()
        send()
        if count == "twice":
            time.sleep(0.2)
            if proc.poll() is None:
                send()
        out, err = proc.communicate(timeout=30)
        return out, err, time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.parametrize(
    "phase,fmt,count,sig,target", CASES, ids=[f"{p}-{f}-{c}-{s.name}-{t}" for p, f, c, s, t in CASES]
)
def test_signal_matrix(
    slow_setup: Path, tmp_path: Path, phase: str, fmt: str, count: str, sig: signal.Signals, target: str
) -> None:
    out = tmp_path / f"out.{fmt}"
    before = write_previous(out)
    proc, marker = start(fieldgrad_command(), slow_setup, phase, tmp_path, "--out", str(out), "--overwrite")
    stdout, stderr, elapsed = interrupt(proc, marker, sig, count, target)
    assert proc.returncode == cli.EXIT_STATUS[sig], stderr
    assert elapsed <= 2.0, elapsed
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    lines = [line for line in stderr.strip().splitlines() if not line.startswith("fieldgrad: warning:")]
    assert lines == [MESSAGE[sig]], stderr
    assert stdout == ""  # never 'wrote ...' with a non-zero status
    assert leftovers(tmp_path) == []
    assert snapshot(out) == before


@pytest.mark.parametrize(
    "sig,target", [(signal.SIGINT, "group"), (signal.SIGTERM, "process")], ids=["INT-group", "TERM-uv"]
)
def test_uv_run_interrupted(slow_setup: Path, tmp_path: Path, sig: signal.Signals, target: str) -> None:
    """``uv run --no-sync fieldgrad ...``: Ctrl-C in a terminal signals the whole group; a SIGTERM
    to uv alone is forwarded to fieldgrad. uv passes the child's status on."""
    uv = shutil.which("uv")
    if uv is None or not (ROOT / "pyproject.toml").exists():
        pytest.skip("uv is not installed or the tests do not run from a clone")
    out = tmp_path / "out.nc"
    before = write_previous(out)
    proc, marker = start(
        [uv, "run", "--no-sync", "fieldgrad"],
        slow_setup,
        "compute",
        tmp_path,
        "--out",
        str(out),
        "--overwrite",
        cwd=ROOT,
    )
    _, stderr, elapsed = interrupt(proc, marker, sig, "once", target)
    assert proc.returncode == cli.EXIT_STATUS[sig], stderr
    assert elapsed <= 2.0, elapsed
    assert "Traceback" not in stderr, stderr
    assert MESSAGE[sig] in stderr.splitlines(), stderr
    assert leftovers(tmp_path) == [] and snapshot(out) == before


def test_ignored_sigint_stays_ignored(slow_setup: Path, tmp_path: Path) -> None:
    """Started with SIGINT ignored (``nohup``, a background job of a script): a Ctrl-C to the group
    does not stop the run, which completes."""
    out = tmp_path / "out.nc"
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(slow_setup / "hooks"), os.environ.get("PYTHONPATH", "")]),
        FIELDGRAD_TEST_PHASE="compute",
        FIELDGRAD_TEST_MARKER=str(tmp_path / "marker"),
    )
    proc = subprocess.Popen(
        [
            *fieldgrad_command(),
            "partial",
            str(slow_setup / "in.nc"),
            "--var",
            "f",
            "--dims",
            "x",
            "--chunks",
            "x=2",
            "--method",
            "slow-test",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        while not (tmp_path / "marker").exists():
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, stderr
    assert stdout.startswith("wrote ") and out.exists() and leftovers(tmp_path) == []


# ----------------------------------------------------------------------------- write faults


def test_interruption_dropped_in_a_weakref_callback_is_raised_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A signal whose handler runs inside a weakref callback: Python drops the exception there; the
    run still stops (130), without an "Exception ignored" traceback."""
    import weakref

    src = tmp_path / "in.zarr"
    xr.Dataset({"V": ("x", np.arange(8.0))}, coords={"x": np.arange(8.0)}).to_zarr(src)
    real = cli.commands.compute_result

    def signalled(ds: xr.Dataset, args: object) -> xr.Dataset:
        class Thing:
            pass

        def callback(ref: object) -> None:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # bytecode to run the Python handler in, inside the callback
                pass

        thing = Thing()
        ref = weakref.ref(thing, callback)  # noqa: F841
        del thing  # the callback runs, the handler raises, Python drops the exception
        for _ in range(1000):
            pass
        return real(ds, args)

    monkeypatch.setattr(cli.commands, "compute_result", signalled)
    out = tmp_path / "o.zarr"
    assert cli.main(["partial", str(src), "--var", "V", "--dims", "x", "--out", str(out), "-q"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == MESSAGE[signal.SIGINT], err
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("ext", ["nc", "zarr"])
def test_disk_full_while_writing_in_process(
    tmp_path: Path, ext: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """ENOSPC from a chunk write (a writer that fails like a full disk): one line, status 2, the
    temporary removed, the previous output kept."""
    import dask.array.core

    pytest.importorskip("h5py")
    src = tmp_path / "in.zarr"
    xr.Dataset({"V": ("x", np.arange(64.0))}, coords={"x": np.arange(64.0)}).chunk(x=8).to_zarr(src)
    out = tmp_path / f"o.{ext}"
    before = write_previous(out)

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(dask.array.core, "load_store_chunk", full)
    assert (
        cli.main(
            [
                "partial",
                str(src),
                "--var",
                "V",
                "--dims",
                "x",
                "--chunks",
                "x=8",
                "--out",
                str(out),
                "--overwrite",
                "-q",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err == f"fieldgrad: error: cannot write {out}: No space left on device", err
    assert leftovers(tmp_path) == [] and snapshot(out) == before


@contextlib.contextmanager
def mount_tmpfs(mnt: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on the new folder ``mnt`` (root only; skipped elsewhere)."""
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs mounted on a folder of tmp_path (root only; skipped elsewhere)."""
    with mount_tmpfs(tmp_path / "mnt", "256k") as mnt:
        yield mnt


@pytest.fixture
def big_input(tmp_path: Path) -> Path:
    src = tmp_path / "big.nc"
    pytest.importorskip("h5py")
    x = np.arange(300.0)
    noise = np.random.default_rng(0).random((300, 300))  # does not compress: a 720 KB result in any format
    xr.Dataset({"f": (("x", "y"), noise)}, coords={"x": x, "y": x}).to_netcdf(src, engine="h5netcdf")
    return src


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*fieldgrad_command(), *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("ext", ["nc", "zarr"])
def test_disk_full(small_tmpfs: Path, big_input: Path, ext: str) -> None:
    """A real full disk: a 256 KiB tmpfs holding the previous output and too small for the new one."""
    out = small_tmpfs / f"o.{ext}"
    before = write_previous(out)
    done = run_cli(
        "partial", str(big_input), "--var", "f", "--dims", "x", "--chunks", "x=50", "--out", str(out), "--overwrite"
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == f"fieldgrad: error: cannot write {out}: No space left on device", done.stderr
    assert done.stdout == ""
    assert leftovers(small_tmpfs) == [] and snapshot(out) == before


@pytest.mark.parametrize("ext", ["nc", "zarr"])
def test_read_only_output_folder(small_tmpfs: Path, big_input: Path, ext: str) -> None:
    out = small_tmpfs / f"o.{ext}"
    before = write_previous(out)
    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    done = run_cli("partial", str(big_input), "--var", "f", "--dims", "x", "--out", str(out), "--overwrite")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"fieldgrad: error: cannot write to the output folder {small_tmpfs}: read-only file system"
    ), done.stderr
    assert leftovers(small_tmpfs) == [] and snapshot(out) == before


def test_disk_full_netcdf_small_chunks(tmp_path: Path) -> None:
    """A full disk under a netCDF output written in many small chunks: after the failed write HDF5
    cannot close the file any more, and the run used to print its one-line error and then crash
    (SIGSEGV in HDF5's exit handler, about half of the runs). Every run: status 2, that one line,
    nothing left on the disk."""
    pytest.importorskip("h5py")
    src = tmp_path / "in.nc"
    x = np.arange(600.0)
    noise = np.random.default_rng(1).random((600, 600))  # a 2.9 MB result: three times the disk
    xr.Dataset({"f": (("x", "y"), noise)}, coords={"x": x, "y": x}).to_netcdf(src, engine="h5netcdf")
    with mount_tmpfs(tmp_path / "mnt", "1m") as mnt:
        out = mnt / "o.nc"
        for attempt in range(8):
            done = run_cli("partial", str(src), "--var", "f", "--dims", "x", "--chunks", "x=5", "--out", str(out))
            assert (done.returncode, done.stdout) == (2, ""), (attempt, done.returncode, done.stderr)
            assert done.stderr.strip() == f"fieldgrad: error: cannot write {out}: No space left on device", (
                attempt,
                done.stderr,
            )
            assert sorted(p.name for p in mnt.iterdir()) == [], attempt


# ----------------------------------------------------------------------------- two runs, one output


@pytest.mark.parametrize("fmt", ["nc", "zarr"])
def test_two_runs_onto_one_new_output(slow_setup: Path, tmp_path: Path, fmt: str) -> None:
    """Two runs writing the same new output without --overwrite, both started before either
    finished (both found no output): the first to finish moves its output into place, the other
    does not replace it: status 2, 'output exists', its temporary removed."""
    out = tmp_path / f"out.{fmt}"
    runs = [start(fieldgrad_command(), slow_setup, "compute", tmp_path, "--out", str(out))[0] for _ in range(2)]
    try:
        deadline = time.monotonic() + 120
        while len(leftovers(tmp_path)) < 2:  # both past the check, writing their temporaries
            assert all(proc.poll() is None for proc in runs), [proc.communicate() for proc in runs]
            assert time.monotonic() < deadline, "the runs never started writing"
            time.sleep(0.02)
        results = [(proc.wait(timeout=120), *proc.communicate()) for proc in runs]
    finally:
        for proc in runs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    results.sort()
    (won, won_out, won_err), (lost, lost_out, lost_err) = results
    assert "error" not in won_err, results
    assert (won, lost) == (0, 2), results
    assert won_out.startswith(f"wrote df_dx('x', 'y') to {out}"), results
    assert (
        lost_out == ""
        and lost_err.strip() == f"fieldgrad: error: output exists: {out} (pass --overwrite to replace it)"
    )
    assert leftovers(tmp_path) == []
    with xr.open_dataset(out, engine="zarr" if fmt == "zarr" else "h5netcdf") as got:
        np.testing.assert_allclose(got["df_dx"].values[1:-1, 0], 2 * np.arange(1.0, 39.0))


# ----------------------------------------------------------------------------- signals from the first instruction

START_HOOKS = textwrap.dedent('''
    """Test hooks for fieldgrad's start-up interruption tests (an audit hook, no import of its own)."""
    import os
    import sys
    import time

    _MARKER = os.environ["FIELDGRAD_TEST_MARKER"]
    _INPUT = os.environ["FIELDGRAD_TEST_INPUT"]
    _DELAY = float(os.environ.get("FIELDGRAD_TEST_DELAY", "3"))
    _seen = set()


    def _hook(event, args):
        if event == "import" and "fieldgrad" not in _seen and str(args[0]).split(".")[0] == "fieldgrad":
            # the fieldgrad package starts loading (numpy, xarray, dask...): the test counts its
            # delay from here, once the marker is complete (renamed into place)
            _seen.add("fieldgrad")
            with open(_MARKER + ".tmp", "w") as fh:
                fh.write(str(args[0]))
            os.replace(_MARKER + ".tmp", _MARKER)
        elif event == "open" and "input" not in _seen and isinstance(args[0], (str, os.PathLike)):
            if os.fspath(args[0]) == _INPUT:  # the run's first look at its input: a slow disk
                _seen.add("input")
                time.sleep(_DELAY)


    sys.addaudithook(_hook)
''')

# delays from the moment the fieldgrad package starts loading (the imports take half a second to
# a second or more, then the run opens its input, slowly), each with both signals, sent alternately
# to the process and to its group
START_DELAYS = [0.0, 0.002, 0.005, 0.01, 0.02, 0.04, 0.07, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.65, 0.8, 1.0, 1.3]


@pytest.fixture(scope="module")
def start_hooks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("start") / "hooks"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(START_HOOKS)
    return folder


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["INT", "TERM"])
@pytest.mark.parametrize("delay", START_DELAYS)
def test_signal_from_the_first_instruction(
    slow_setup: Path, start_hooks: Path, tmp_path: Path, delay: float, sig: signal.Signals
) -> None:
    """SIGINT or SIGTERM from the moment the fieldgrad package starts loading (the console script's
    first import before, once its entry module had installed its handlers now), through the
    imports of numpy, xarray, dask... and into the run: exit 130/143 with the one-line message, no
    traceback, nothing written. Python's defaults gave a KeyboardInterrupt traceback or a death by
    SIGTERM (-15) until fieldgrad.cli.main installed its handlers, after the imports."""
    out = tmp_path / "out.nc"
    before = write_previous(out)
    marker = tmp_path / "marker"
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(start_hooks), os.environ.get("PYTHONPATH", "")]),
        FIELDGRAD_TEST_MARKER=str(marker),
        FIELDGRAD_TEST_INPUT=str(slow_setup / "in.nc"),
    )
    cmd = [*fieldgrad_command(), "partial", str(slow_setup / "in.nc"), "--var", "f", "--dims", "x"]
    proc = subprocess.Popen(
        [*cmd, "--out", str(out), "--overwrite"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
        start_new_session=True,
    )
    group = START_DELAYS.index(delay) % 2 == (sig == signal.SIGTERM)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the command never started"
            time.sleep(0.001)
        time.sleep(delay)
        os.killpg(proc.pid, sig) if group else proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == cli.EXIT_STATUS[sig], (proc.returncode, stderr)
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    lines = [line for line in stderr.strip().splitlines() if not line.startswith("fieldgrad: warning:")]
    assert lines == [MESSAGE[sig]], stderr
    assert stdout == ""
    assert leftovers(tmp_path) == [] and snapshot(out) == before

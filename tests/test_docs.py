"""The documentation: it builds with warnings as errors, its examples run, and it covers the API.

* the Sphinx build (``-W``: any warning fails) of a copy of docs/ (so the source tree stays clean;
  marked slow: ``uv run pytest -m slow``, which CI runs after the default suite);
* the ``>>>`` examples of the narrative pages run and give what the pages say;
* every public function and accessor method is in the API reference and has a runnable example;
* every command and option of the CLI is documented, every example has a page and a figure.
"""

from __future__ import annotations

import argparse
import doctest
import importlib.util
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fieldgrad
from fieldgrad import accessor, cli, operators, registry

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
HAVE_SPHINX = all(
    importlib.util.find_spec(m) is not None for m in ("sphinx", "numpydoc", "sphinx_autosummary_accessors", "furo")
)


@pytest.mark.slow  # a whole Sphinx build in a subprocess: tens of seconds
@pytest.mark.skipif(
    not HAVE_SPHINX,
    reason="sphinx, numpydoc, sphinx-autosummary-accessors or furo is not "
    "installed (the 'docs' dependency group: uv sync --group docs)",
)
def test_docs_build_without_warnings(tmp_path: Path) -> None:
    src = tmp_path / "repo"
    shutil.copytree(DOCS, src / "docs", ignore=shutil.ignore_patterns("_build", "generated"))
    shutil.copytree(ROOT / "examples", src / "examples", ignore=shutil.ignore_patterns("__pycache__", "*.png"))
    out = tmp_path / "html"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(src / "docs"),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"sphinx-build -W failed:\n{proc.stdout}\n{proc.stderr}"
    for page in (
        "index",
        "getting_started",
        "concepts",
        "migrating",
        "cli",
        "troubleshooting",
        "api",
        "examples/index",
        "generated/xarray.DataArray.grad.partial",
        "generated/xarray.Dataset.grad.divergence",
        "generated/fieldgrad.partial",
    ):
        assert (out / f"{page}.html").exists(), page
    api = (out / "generated" / "xarray.DataArray.grad.gradient.html").read_text()
    assert "Examples" in api and "component" in api  # the docstring, rendered by numpydoc
    for fig in (DOCS / "_static" / "figures").glob("*.png"):
        assert (out / "_images" / fig.name).exists(), f"{fig.name} is not shown on any page"


@pytest.mark.parametrize("page", ["getting_started.rst", "concepts.rst", "migrating.rst"])
def test_narrative_examples_run(page: str) -> None:
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    try:
        result = doctest.testfile(
            str(DOCS / page), module_relative=False, optionflags=flags, verbose=False, report=True
        )
    finally:
        registry._unregister("centred-docs")  # registered by concepts.rst
    assert result.attempted > 5
    assert result.failed == 0, f"{result.failed} example(s) of {page} failed (see the output above)"


def public_callables() -> dict[str, object]:
    """Every public function and accessor method, by the name the API reference uses."""
    found: dict[str, object] = {}
    for name in fieldgrad.__all__:
        found[f"fieldgrad.{name}"] = getattr(fieldgrad, name)
    for name in operators.__all__:
        if name != "gradient":
            found[f"fieldgrad.operators.{name}"] = getattr(operators, name)
    for cls, owner in ((accessor.GradDataArrayAccessor, "DataArray"), (accessor.GradDatasetAccessor, "Dataset")):
        for name, member in inspect.getmembers(cls, inspect.isfunction):
            if not name.startswith("_"):
                found[f"{owner}.grad.{name}"] = member
    found["fieldgrad.cli.main"] = cli.main
    return found


def test_api_reference_lists_every_public_callable() -> None:
    text = (DOCS / "api.rst").read_text()
    listed = {line.strip() for line in text.splitlines() if line.startswith("   ") and not line.strip().startswith(":")}
    missing = []
    for full in public_callables():
        short = full.removeprefix("fieldgrad.")
        if full not in listed and short not in listed:
            missing.append(full)
    assert not missing, f"not in docs/api.rst: {missing}"


@pytest.mark.parametrize("name", sorted(public_callables()))
def test_public_callables_have_runnable_examples(name: str) -> None:
    obj = public_callables()[name]
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), f"{name} has no docstring"
    if inspect.isclass(obj) and issubclass(obj, Warning):
        return  # a warning category: documented, nothing to run
    assert "Examples" in doc and ">>>" in doc, f"{name} has no Examples section with >>> lines"


def _cli_options() -> dict[str, set[str]]:
    parser = cli.parser.build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {
        name: {s for a in sub._actions for s in a.option_strings if s.startswith("--") and s != "--help"}
        for name, sub in subparsers.choices.items()
    }


def test_cli_page_documents_every_command_and_option() -> None:
    text = (DOCS / "cli.rst").read_text()
    for command, options in _cli_options().items():
        assert f"fieldgrad {command}" in text, command
        for option in options:
            assert f"``{option}" in text, f"{command} {option} is not documented in docs/cli.rst"


def test_every_example_has_a_page_and_a_figure() -> None:
    for script in (ROOT / "examples").glob("*.py"):
        if script.stem == "quickstart" or script.stem.startswith("_"):  # _common.py: shared helpers
            continue
        page = DOCS / "examples" / f"{script.stem}.rst"
        assert page.exists(), f"no docs page for examples/{script.name}"
        assert f"examples/{script.name}" in page.read_text()
        assert (DOCS / "_static" / "figures" / f"{script.stem}.png").exists()
        assert (DOCS / "_static" / "figures" / f"{script.stem}.txt").exists()
        assert script.stem in (DOCS / "examples" / "index.rst").read_text()


def test_readme_snippet_runs_and_is_right() -> None:
    """The README's first code block runs as written, and its periodic second derivative of
    T = sin(x)·k satisfies d2 + T ≈ 0 everywhere, the two ends included (the grid holds one
    period with 2π itself left out, so wrapping around does not repeat a point)."""
    import re

    import numpy as np

    text = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    ns: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), ns)
    T, d2 = ns["T"], ns["d2"]
    residual = abs(d2 + T).values
    scale = float(abs(T).max())
    assert residual.max() < 1e-3 * scale
    assert residual[[0, -1]].max() < 1e-3 * scale  # no kink where the period wraps
    assert ns["dT"].name == "dT_dx" and ns["dT"].attrs["units"] == "K m-1"
    np.testing.assert_allclose(ns["lazy"].values, T.grad.partial("x").values)


def test_docs_cite_no_internal_spec_and_list_troubleshooting() -> None:
    """Readers have no access to the team's SPEC: no page refers to it. The troubleshooting page
    is in the table of contents and names the fix of each error it lists."""
    pages = [ROOT / "README.md", *DOCS.rglob("*.rst")]
    for page in pages:
        assert "SPEC" not in page.read_text(), page
    assert "   troubleshooting\n" in (DOCS / "index.rst").read_text()
    text = (DOCS / "troubleshooting.rst").read_text()
    for topic in (
        "monotonic",
        "needs at least",
        "unknown derivative method",
        "fieldgrad[io]",
        "per unit of time",
        "datetime_unit=",
        "degrees_north",
        "folds over itself",
        "--chunks",
        "143",
        "130",
    ):
        assert topic in text, topic
    assert "pip install '.[io,geo]'" in (DOCS / "getting_started.rst").read_text()

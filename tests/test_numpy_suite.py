"""numpy's own ``TestGradient``, unmodified, run against :func:`fieldgrad.gradient`.

The class is imported from numpy's installed test suite (``numpy/lib/tests/test_function_base.py``)
and its module-level ``gradient`` name is pointed at ``fieldgrad.gradient`` for the duration of
each test, so every assertion numpy makes about its own gradient (``assert_array_equal`` included:
bit for bit) is made about fieldgrad's. Calls the suite spells ``np.gradient`` stay numpy's.
"""

from __future__ import annotations

import pytest

import fieldgrad

numpy_tests = pytest.importorskip("numpy.lib.tests.test_function_base", reason="numpy's test suite is not installed")


@pytest.fixture(autouse=True)
def _fieldgrad_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numpy_tests, "gradient", fieldgrad.gradient)


class TestNumpyGradient(numpy_tests.TestGradient):
    """numpy's tests, inherited as they are."""


def test_the_suite_calls_fieldgrad(monkeypatch: pytest.MonkeyPatch) -> None:
    """The patch reaches the name numpy's tests call (so a failure there is fieldgrad's)."""
    calls = []
    monkeypatch.setattr(numpy_tests, "gradient", lambda *a, **k: calls.append(1) or fieldgrad.gradient(*a, **k))
    TestNumpyGradient().test_basic()
    assert len(calls) == 2

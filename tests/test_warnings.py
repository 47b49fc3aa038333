"""The tests' warning filters: a third-party package's import-time notices are shown, our own warnings fail."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT

NOISY_PACKAGE = """
import warnings

PATTERN = "a\\.b"  # an invalid escape: SyntaxWarning when compiled (DeprecationWarning before Python 3.12)
warnings.warn("noisy_pkg.old_api is deprecated", DeprecationWarning)
warnings.warn("noisy_pkg.older_api will be deprecated", PendingDeprecationWarning)
"""

TESTS = f"""
import warnings


def test_importing_a_noisy_third_party_package_passes():
    import noisy_pkg

    assert noisy_pkg.PATTERN


def test_a_deprecation_raised_by_bench_code_fails():
    exec("import warnings; warnings.warn('bench.old is deprecated', DeprecationWarning)", {{"__name__": "bench.old"}})


def test_a_syntax_warning_compiling_a_file_of_ours_fails():
    compile('PATTERN = "a\\\\.b"', {str(ROOT / "bench" / "old.py")!r}, "exec")


def test_any_other_warning_fails_wherever_it_comes_from():
    warnings.warn_explicit("a user warning", UserWarning, "noisy_pkg/__init__.py", 1, module="noisy_pkg")
"""


@pytest.fixture
def noisy_project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(noisy_pkg=NOISY_PACKAGE, test_noisy=TESTS)
    pytester.makeconftest(
        "import pytest\nfrom tests.conftest import warning_filters\n\n"
        "def pytest_collection_modifyitems(items):\n"
        "    for item in items:\n"
        "        item.add_marker(pytest.mark.filterwarnings(*warning_filters()), append=False)\n"
    )
    return pytester


def test_third_party_import_time_notices_do_not_fail_a_test_but_ours_do(noisy_project):
    result = noisy_project.runpytest("-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(
        [
            "E * DeprecationWarning: bench.old is deprecated",
            "E * SyntaxError: invalid escape sequence*",  # the SyntaxWarning (3.12+) or DeprecationWarning, raised
            "E * UserWarning: a user warning",
            "*noisy_pkg.py:*: *Warning: invalid escape sequence*",  # the same notices from noisy_pkg: only shown
            "*noisy_pkg.py:*: DeprecationWarning: noisy_pkg.old_api is deprecated",
            "*noisy_pkg.py:*: PendingDeprecationWarning: noisy_pkg.older_api will be deprecated",
            "PASSED test_noisy.py::test_importing_a_noisy_third_party_package_passes",
        ]
    )


def test_without_the_scoped_filters_the_noisy_import_would_fail(pytester):
    # the control: under a bare "error" filter, the same import fails the test
    pytester.makepyfile(noisy_pkg=NOISY_PACKAGE, test_noisy="def test_import():\n    import noisy_pkg\n")
    # pytest's own notice that an installed plugin (bench) was imported before it could be rewritten is not what
    # this test is about: it is ignored, so only the noisy import can fail the run
    pytester.makeini("[pytest]\nfilterwarnings =\n    error\n    ignore::pytest.PytestAssertRewriteWarning\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)

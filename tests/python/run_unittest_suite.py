"""Run a unittest package inside greenwasm, honouring a skip list.

Usage (from a greenwasm runtime): run_suite(package, skips) where `skips`
maps a test id, or a prefix of one ending in '.', to the reason it is
skipped. Prints unittest's report, then one summary line
'<package>: N passed, N failed, N skipped' and returns that triple.
"""
import importlib
import pkgutil
import sys
import unittest


def _iter(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _iter(t)
        else:
            yield t


def _skip_reason(test_id, skips):
    for key, reason in skips.items():
        if test_id == key or (key.endswith(".") and test_id.startswith(key)):
            return reason
    return None


def run_suite(package, skips, verbosity=1):
    loader = unittest.TestLoader()
    pkg = importlib.import_module(package)
    names = sorted(
        "%s.%s" % (package, m.name)
        for m in pkgutil.iter_modules(pkg.__path__)
        if m.name.startswith("test")
    )
    tests = list(_iter(loader.loadTestsFromNames(names)))
    for t in tests:
        reason = _skip_reason(t.id(), skips)
        if reason is not None:
            method = getattr(t, t._testMethodName)
            setattr(t, t._testMethodName, unittest.skip(reason)(method))
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=verbosity)
    result = runner.run(unittest.TestSuite(tests))
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print("%s: %d passed, %d failed, %d skipped" % (package, passed, failed, skipped))
    sys.stdout.flush()
    return passed, failed, skipped

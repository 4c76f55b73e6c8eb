"""Run a unittest package inside greenwasm, honouring a skip list.

Usage (from a greenwasm runtime): run_suite(package, skips) where `skips`
maps a test id, or a prefix of one ending in '.', to the reason it is
skipped. Prints unittest's report, then one summary line
'<package>: N passed, N failed, N skipped' and returns that triple.

Beyond plain unittest:
- A module whose whole id prefix ('<package>.<module>.') is skip-listed is not
  imported (it may need a C extension that cannot exist here); its test
  methods are found by parsing its source and reported as skipped.
- A KeyboardInterrupt inside a test (the host's watchdog interrupts a test
  that makes no progress) fails that test and the run goes on.
- After the summary line: one 'FAILED-TEST <id>: <reason>' line per failing test
  and one 'UNUSED-SKIP <key>' line per skip-list key that matched no test.
"""
import ast
import functools
import importlib
import os
import pkgutil
import re
import sys
import time
import unittest


def _iter(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _iter(t)
        else:
            yield t


def _skip_key(test_id, skips):
    for key in skips:
        if test_id == key or (key.endswith(".") and test_id.startswith(key)):
            return key
    return None


class _SkippedFromSource(unittest.TestCase):
    """Stands for a test of a module that was not imported because it is skip-listed."""

    def __init__(self, test_id, reason):
        super().__init__("_skipped")
        self._id = test_id
        self._reason = reason

    def id(self):
        return self._id

    def __str__(self):
        return "%s (%s)" % (self._id.rsplit(".", 1)[-1], self._id.rsplit(".", 1)[0])

    def _skipped(self):
        raise unittest.SkipTest(self._reason)


def _tests_in_source(path, module):
    """Ids '<module>.<Class>.<test_method>' of TestCase-like classes, by parsing."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    ids = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name.startswith("test"):
                    ids.append("%s.%s.%s" % (module, node.name, item.name))
    return ids or [module]


def _interruptible(method, test_id):
    @functools.wraps(method)
    def run(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except KeyboardInterrupt as e:
            raise AssertionError(
                "%s was interrupted (KeyboardInterrupt): the host watchdog saw no progress" % test_id) from e
    return run


_EXC_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b")


def _summary(traceback_text):
    """The last exception line of a formatted traceback, shortened."""
    lines = [l for l in traceback_text.splitlines() if _EXC_LINE.match(l)]
    return (lines[-1] if lines else traceback_text.strip().splitlines()[-1])[:300]


class _TimedResult(unittest.TextTestResult):
    def startTest(self, test):
        self._t0 = time.perf_counter()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        self.durations_.append((time.perf_counter() - self._t0, test.id()))

    durations_ = None


def run_suite(package, skips, verbosity=1, slowest=0, only=None):
    """`only`: run just the tests whose id starts with one of these prefixes."""
    loader = unittest.TestLoader()
    pkg = importlib.import_module(package)
    modules = sorted(
        (m.name, m.module_finder.path)
        for m in pkgutil.iter_modules(pkg.__path__)
        if m.name.startswith("test")
    )
    used = set()
    tests = []
    for name, where in modules:
        qual = "%s.%s" % (package, name)
        whole = skips.get(qual + ".")
        if whole is not None:
            used.add(qual + ".")
            path = os.path.join(where, name + ".py")
            tests += [_SkippedFromSource(i, whole) for i in _tests_in_source(path, qual)]
            continue
        tests += list(_iter(loader.loadTestsFromName(qual)))
    if only:
        tests = [t for t in tests if any(t.id().startswith(p) for p in only)]
    for t in tests:
        if isinstance(t, _SkippedFromSource):
            continue
        key = _skip_key(t.id(), skips)
        method = getattr(t, t._testMethodName)
        if key is not None:
            used.add(key)
            setattr(t, t._testMethodName, unittest.skip(skips[key])(method))
        else:
            setattr(t, t._testMethodName, _interruptible(method, t.id()))
    _TimedResult.durations_ = []
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=verbosity, resultclass=_TimedResult)
    result = runner.run(unittest.TestSuite(tests))
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    if slowest:
        print("slowest tests:")
        for secs, test_id in sorted(_TimedResult.durations_, reverse=True)[:slowest]:
            print("  %7.2fs %s" % (secs, test_id))
    print("%s: %d passed, %d failed, %d skipped" % (package, passed, failed, skipped))
    for test, text in result.failures + result.errors:
        print("FAILED-TEST %s: %s" % (test.id(), _summary(text)))
    for test in result.unexpectedSuccesses:
        print("FAILED-TEST %s: unexpected success" % test.id())
    for key in skips if not only else ():
        if key not in used:
            print("UNUSED-SKIP %s" % key)
    sys.stdout.flush()
    return passed, failed, skipped

"""Run a module's docstring examples (the API docs) as a test: every example must pass."""

import doctest


def run_examples(module, minimum=3):
    """Run the examples of `module`; fail with doctest's report when one fails."""
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    for test in finder.find(module):
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)
    assert result.attempted >= minimum, f"only {result.attempted} examples in {module.__name__}"

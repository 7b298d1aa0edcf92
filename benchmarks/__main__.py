"""`python -m benchmarks`: the whole suite (see benchmarks.suite)."""

from benchmarks.suite import main

main()

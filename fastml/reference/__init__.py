"""Naive, readable implementations written straight from the math.

Same signatures as the fast versions in :mod:`fastml`. They are the test oracle and the
benchmark baseline: loops and textbook formulas, no tricks.
"""

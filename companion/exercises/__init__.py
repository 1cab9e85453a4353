"""Automatic checks for the book's code exercises.

Each chapter has a module (``companion.exercises.ch01`` and so on) whose ``check_*``
functions run a learner's function on several cases, print one line per case (pass or
fail, expected and actual, and a hint) and raise ``ExerciseCheckFailed`` if any case fails,
so that a notebook run stops at the first wrong answer.
"""

from companion.exercises.core import Case, ExerciseCheckFailed, run_cases

__all__ = ["Case", "ExerciseCheckFailed", "run_cases"]

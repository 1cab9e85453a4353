"""Automatic checks for the book's code exercises.

Each chapter has a module (``companion.exercises.ch01`` and so on) whose ``check_*``
functions run a learner's function on several cases, print one line per case (pass or
fail, expected and actual, and a hint) and raise ``ExerciseCheckFailed`` if any case fails,
so that a notebook run stops at the first wrong answer. Each check declares what its exercise
asks to be written by hand (``by_hand``): a function that calls the companion's reference for
it, or autograd for a hand-written gradient, fails with that reason.
"""

from companion.exercises.core import ByHand, Case, ExerciseCheckFailed, by_hand, run_cases

__all__ = ["ByHand", "Case", "ExerciseCheckFailed", "by_hand", "run_cases"]

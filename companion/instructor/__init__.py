"""Tools for instructors: the student edition of the book and a grader for submissions.

- :mod:`companion.instructor.student`: the book's sources with every solution replaced by a
  stub and every solution block removed (``python -m companion.instructor student``).
- :mod:`companion.instructor.grader`: run submitted notebooks and re-run the official checks;
  :mod:`companion.instructor.report` writes a CSV of scores and a feedback file per
  submission (``python -m companion.instructor grade SUBMISSIONS``).
- :mod:`companion.instructor.exercises`: the exercises, solution cells and check calls of a
  chapter notebook (``python -m companion.instructor list``).
- :mod:`companion.instructor.myst`, :mod:`~companion.instructor.stubs`,
  :mod:`~companion.instructor.runner` and :mod:`~companion.instructor.leaks` (the search for
  solutions in a student edition): the pieces these are built from.

Grading executes the submitted code: run it in a container or sandbox that you control.
"""

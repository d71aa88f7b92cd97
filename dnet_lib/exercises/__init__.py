"""The exercises' visible checks, one module per exercise (``ex02_parameters``, ...).

A notebook imports its own: ``from dnet_lib.exercises import ex02_parameters as checks``. Each
``check_*`` function tests a student's answer on a small case, raises ``AssertionError`` saying
what was expected, and prints ``ok: ...`` when the answer passes. They are lighter than the
grader's hidden tests: passing them means "on the right track", not "full marks". Keyword
arguments select a graded variant of the question; the defaults are the book's version.

The graders' part of each exercise (hidden tests, variants, rules) lives in the module of the
same name in ``dnet_tools.exercises``, which the installed library does not ship.
"""

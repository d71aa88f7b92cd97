"""The exercises' visible checks, one module per exercise: a notebook imports its own
(``from dnet_lib.exercises import ex02_parameters as checks``). Each ``check_*`` tries an answer
on a small case, raises ``AssertionError`` saying what was expected, or prints ``ok: ...``; passing
means "on the right track", not "full marks". Keyword arguments select a graded variant. The
graders' half (hidden tests, variants, rules) is ``dnet_tools.exercises``, not shipped here.
"""

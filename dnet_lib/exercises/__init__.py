"""The exercises' visible checks, a module per exercise (``from dnet_lib.exercises import
ex02_parameters as checks``): each ``check_*`` tries an answer on a small case and prints ``ok``
or raises ``AssertionError`` saying what was expected ("on the right track", not "full marks");
keyword arguments select a graded variant. The graders' half is ``dnet_tools.exercises``."""

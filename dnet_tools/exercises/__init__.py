"""The graders' part of each exercise: hidden tests, question rules and variants.

One module per exercise, named like the notebook and like its visible checks in
``dnet_lib.exercises``: ``QUESTIONS`` (question -> probe, judge, forbidden library functions,
rules), ``variants()`` and ``check_inline`` (probe and judge in this process: the book build,
nbgrader's kernel). ``MODULES`` maps ``"ex02"`` to its module.

``variants()`` maps a variant's name to ``params`` (what the judges read) and ``replace``:
(cell id, old text, new text) edits that turn the master into that variant's source notebook
(the question's text, the answer key, the visible check). ``python -m dnet_tools.course build
--variant-seed N`` draws one non-book variant per exercise; the build fails if an old text is
missing, so an edit of a master cannot silently disconnect a variant.
"""
from __future__ import annotations

from ._common import PlainDataError, Question, Rules, judge, plain, rule_violation
from . import (ex01_pooling, ex02_parameters, ex03_memory, ex04_table1, ex05_concat_vs_add,
               ex06_house_prices)

MODULES = {m.EXERCISE: m for m in (ex01_pooling, ex02_parameters, ex03_memory, ex04_table1,
                                   ex05_concat_vs_add, ex06_house_prices)}

__all__ = ["MODULES", "Question", "Rules", "judge", "plain", "rule_violation", "PlainDataError"]

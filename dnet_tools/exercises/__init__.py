"""The graders' part of each exercise: hidden tests, question rules and variants.

One module per exercise, named like the notebook and like its visible checks in
``dnet_lib.exercises``: ``QUESTIONS`` (question -> probe, judge, forbidden library functions,
rules), ``variants()`` and ``check_inline``. ``MODULES`` maps ``"ex02"`` to its module.
"""
from __future__ import annotations

from ._common import PlainDataError, Question, Rules, judge, plain, rule_violation
from . import (ex01_pooling, ex02_parameters, ex03_memory, ex04_table1, ex05_concat_vs_add,
               ex06_house_prices)

MODULES = {m.EXERCISE: m for m in (ex01_pooling, ex02_parameters, ex03_memory, ex04_table1,
                                   ex05_concat_vs_add, ex06_house_prices)}

__all__ = ["MODULES", "Question", "Rules", "judge", "plain", "rule_violation", "PlainDataError"]

"""dnet_tools: the tooling around the book, not imported by chapters.

``book``         -- build the Jupyter Book, keep each chapter's Colab setup cell current, run a notebook.
``book_pages``   -- Sphinx extension: what a page shows of a notebook (no nbgrader markers).
``course``       -- classroom assignments from the book's exercises, graded with nbgrader.
``exercises``    -- the graded exercises' hidden tests, question rules and variants, one module
                    per exercise, kept apart from student code.
``sandbox``      -- runs a student's answer to one question in a bubblewrap sandbox.

Readers of the chapters only need ``dnet_lib``; instructors and maintainers use these.
"""

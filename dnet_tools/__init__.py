"""dnet_tools: the tooling around the book, not imported by chapters.

``book``   -- build the Jupyter Book, keep each chapter's Colab setup cell current, run a notebook.
``assign`` -- the classroom: student copies of the exercises and their grading.

Readers of the chapters only need ``dnet_lib``; instructors and maintainers use these.
"""

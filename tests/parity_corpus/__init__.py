"""Answer variants for ``tests/test_parity.py``: one module per chapter, each with ``VARIANTS``.

``VARIANTS`` maps an exercise id to a list of ``(name, verdict, words, source)``: ``source`` is notebook code
that defines the exercise's answer name (imports included), ``verdict`` the status both the notebook's
``check`` and the grader must give on every seed, and ``words`` a piece of text the feedback must contain
("" when any message will do), so that a typical mistake is named, not just failed.
"""

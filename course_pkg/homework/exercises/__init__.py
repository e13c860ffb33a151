"""One module per chapter, each registering that chapter's exercise checks.

A check is ordinary code: a function of the student's answer that calls it on inputs, compares with
a reference (``check_function``, ``compare_tensors``) and raises ``Feedback`` with one line when
something is wrong. It never runs in the student's process: the grader (and ``check()`` in a
notebook, the same way) runs it once against the exercise's ``reference`` to record the calls it
makes (the *plan*), lets the probe call the answer on exactly those inputs, and runs it again on the
recorded outcomes (:mod:`course_pkg.homework.replay`).

Converting a check written in the earlier style (``@exercise("id", time_limit=...)`` only) is
mechanical:

1. ``@exercise("chapter.name", reference=<a correct answer>, answer="<name in the notebook>",
   time_limit=..., forbidden=(...))``. ``reference`` must pass its own check (usually the
   ``course_pkg`` function the checker compares with; wrap it in a small named function when the
   answer's signature differs). ``answer`` is the function name the master's ``check(...)`` cell
   passes. ``forbidden`` lists, as dotted names, what the exercise text forbids: ``"course_pkg"``
   (or a module such as ``"course_pkg.transforms"``), the ``torch.nn.functional`` twin and its
   ``torch.nn`` module (``"torch.nn.functional.softplus"``, ``"torch.nn.Softplus"``), the
   ``torch.*`` alias if one exists, and ``".method"`` for a Tensor method (``".log_softmax"``).
   "Fix the bug" exercises whose text allows any function forbid nothing.
2. Replace ``generator(N)`` (``course_pkg.runtime``) by ``case_generator(N)`` (from
   ``course_pkg.homework.checking``): the grader then draws fresh inputs on every run, and a
   notebook keeps the inputs it had (stream N of seed 0 is ``generator(N)``).
3. Call the answer only with tensors, numbers, strings, ``None`` or tuples of them, and make its
   inputs independent of its earlier outputs (they are fixed in the plan; a call the plan does not
   know is reported as a checker bug). Take gradients with ``torch.autograd.grad`` or
   ``.backward()`` through its result as usual: the cotangents are recorded too.
4. Nothing else changes: ``Feedback`` messages, tolerances, ``callable(answer)`` tests and
   ``try: answer(...) except Exception`` for answers that must refuse an input all work on the
   replay. In-place modification of an input (also when autograd refuses it), a fresh torch state
   (float32 default dtype, gradients on), time-outs under load, hints for the usual shape and index
   errors (:func:`course_pkg.homework.checking.error_hint`) and forbidden shortcuts (FLAGGED, in the
   notebook as in the grader) are handled for every check.
5. Add the exercise's answer variants to ``tests/parity_corpus/<chapter>.py``: at least three correct
   formulations, the forbidden shortcuts and the typical mistakes; ``tests/test_parity.py`` checks that
   the notebook and the grader agree on them on every seed.

``tests/test_homework_core.py::test_every_chapter_module_loads_and_registers_valid_ids`` and
``test_every_registered_check_survives_junk`` cover a converted module; add the chapter's own
right and wrong answers in ``tests/test_homework_<chapter>.py``.
"""

"""The real-library corpus: PaddleClas 2.6.0 and PaddleSeg 2.8.0 models against Paddle's own truth.

``convcalc validate --real-libraries`` builds each model of :mod:`.models` without weights, in a
process of its own (:mod:`.child`, started by :mod:`.run` with the interpreter of the environment
that has the libraries), computes the truth from Paddle alone (the custom corpus's
:mod:`convcalc.checks.corpus.truth` for shapes and parameters, :mod:`.counts` for ``paddle.flops``
per layer and hand multiply-adds), takes convcalc's reports through
:mod:`convcalc.checks.subject`, compares them (:mod:`.compare`) and times the analysis against
``paddle.summary`` + ``paddle.flops`` in the same process.  :mod:`.known` lists the models known
to be wrong today and the cause each must still show.  Rendered by
:mod:`convcalc.render.real_libraries` into its own section of docs/validation.md.

Imports: like the rest of ``convcalc.checks``, convcalc's analysis only through
:mod:`convcalc.checks.subject` (in :mod:`.child`); :mod:`.counts` is a truth and imports nothing
of convcalc at all (the ``truths-blind`` contract); the libraries themselves only inside
:func:`.models.build`, in the process that checks one model.
"""

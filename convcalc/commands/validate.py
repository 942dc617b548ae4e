"""``convcalc validate``: the whole zoo against Paddle, and receptive fields by gradient.

Import-light: argparse only at module level; the work is in :mod:`convcalc.checks.validation`.
"""

from __future__ import annotations

import argparse

from convcalc.commands import at_least_one

EPILOG = """\
examples:
  convcalc validate --fast                         # CI subset: book models, resnet18, mobilenet_v2
  convcalc validate --output docs/validation.md    # the full run that generates docs/validation.md
  convcalc validate --models resnet18 vgg11 --no-rf
  convcalc validate --fast --json > validation.json
  convcalc validate -o docs/validation.md -o validation.json   # Markdown and JSON from one run
  convcalc validate --real-libraries --python ~/.cache/convcalc-corpus-venv/bin/python --fast
  convcalc validate --write-zoo-data               # regenerate the stored zoo reports (after a Paddle upgrade)

Every zoo model at its default input, a small one and an odd non-square one
(3x97x131): paddle.summary rows (shapes, params) and paddle.flops per layer
beside convcalc's report, and the symbolic report evaluated at that size beside
the concrete one.  Then receptive fields of book_lenet_vectorized, a hand-made
two-branch model, book_resnet18, resnet18 and mobilenet_v2
(--fast: the first three) are measured from the gradient of one output unit
with respect to the input.  Models that cannot take a size are listed with the
reason.  Last, every case of the custom-model corpus (convcalc/corpus: tied,
frozen, root-owned, reparametrised, ... models) is checked against a truth
computed from Paddle alone (also with --fast; --no-corpus or --models skip it).
The training cost (backward FLOPs split into input and weight gradients, saved
activations) is checked against the grad ops of Paddle's own backward program
(append_backward) for the same models, plus a model with frozen layers and one
whose first layer is not a conv (--fast: the CI subset; --no-training skips it).
The header of docs/validation.md records how long the last full run took.

--real-libraries checks PaddleClas 2.6.0 and PaddleSeg 2.8.0 models instead (built
without weights, one process each) against the same kind of truth, plus paddle.flops
per layer and multiply-adds by hand, and times each analysis against paddle.summary +
paddle.flops in the same process.  The libraries live in an environment of their own
(--python, or $CONVCALC_REAL_LIBRARIES_PYTHON); create it with:

  python3 -m venv ~/.cache/convcalc-corpus-venv
  ~/.cache/convcalc-corpus-venv/bin/pip install -e .      (from the repository root)
  ~/.cache/convcalc-corpus-venv/bin/pip install --no-deps paddleclas==2.6.0 paddleseg==2.8.0
  ~/.cache/convcalc-corpus-venv/bin/pip install six pyyaml requests tqdm scikit-learn opencv-python-headless 'numpy<2.4'

--write-zoo-data traces each zoo model at its default input at batch 1, 2 and 3 in every
convention, concretely and symbolically, and stores the reports `convcalc report` reads without
importing Paddle (convcalc/analysis/zoo_reports/paddle-VERSION/, one gzipped JSON per model and
convention), as expressions in the batch, H and W with the conditions under which they hold
(docs/report.md, "Stored zoo reports"); a model whose stored form does not give back exactly the
traced reports is refused.

With -o docs/validation.md it rewrites only its own section of that file (the zoo run
keeps that section as it is).

Exit status: 0 when everything agrees, 1 on any mismatch, disagreeing field or wrong corpus case,
2 on a usage error, 130 when interrupted (no output file is written).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="check convcalc against Paddle on the whole zoo, and receptive fields by gradient",
        description="Cross-check every zoo model at three input sizes against paddle.summary, "
        "paddle.flops and convcalc's own symbolic report, and check receptive fields by an "
        "independent gradient method; print a summary or write the Markdown report.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--models", nargs="+", metavar="MODEL",
                   help="zoo names to check (default: the whole zoo; with --fast the CI subset)")
    p.add_argument("--fast", action="store_true",
                   help="CI subset: book models, resnet18 and mobilenet_v2 at the default and one odd size")
    p.add_argument("--rf-models", nargs="+", metavar="MODEL",
                   help="models for the receptive-field gradient check (zoo names, two_branch, or a "
                        "fields corpus case such as rf_conv1d)")
    p.add_argument("--no-rf", action="store_true", help="skip the receptive-field gradient check")
    p.add_argument("--no-corpus", action="store_true", help="skip the custom-model corpus (convcalc/corpus)")
    p.add_argument("--no-training", action="store_true",
                   help="skip the training-cost check against Paddle's backward program")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--output", "-o", metavar="FILE", action="append",
                   help="write the report to FILE: JSON if FILE ends in .json, else Markdown "
                   "(e.g. docs/validation.md); may be given more than once")
    p.add_argument("--jobs", "-j", type=at_least_one("jobs"), default=None, metavar="N",
                   help="worker processes (default: 2, or 1 with --models)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    p.add_argument("--write-zoo-data", action="store_true",
                   help="instead of checking: trace every zoo model (or --models) at its default input and "
                   "write the stored reports `convcalc report` reads for the installed Paddle, in the batch, "
                   "H and W "
                   "(convcalc/analysis/zoo_reports/paddle-VERSION/)")
    g = p.add_argument_group("real libraries")
    g.add_argument("--real-libraries", action="store_true",
                   help="check PaddleClas 2.6.0 and PaddleSeg 2.8.0 models instead of the zoo (--models: their "
                        "names; --fast: the CI subset)")
    g.add_argument("--python", metavar="PYTHON",
                   help="the interpreter of the environment that has the libraries (default: "
                        "$CONVCALC_REAL_LIBRARIES_PYTHON, else this one)")
    g.add_argument("--timeout", type=float, default=900, metavar="SECONDS",
                   help="stop a model's check after this long (default: 900)")
    g.add_argument("--no-timing", action="store_true",
                   help="skip timing each analysis against paddle.summary + paddle.flops")
    p.set_defaults(func=run_validate)


class StderrProgress:
    """Progress lines on stderr (a class at module level, so worker processes can receive it)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def __call__(self, message: str) -> None:
        if not self.quiet:
            import sys

            print(f"convcalc validate: {message}", file=sys.stderr, flush=True)


def run_validate(args) -> int:
    from convcalc.files import check_writable

    outputs = args.output or []
    for path in outputs:
        check_writable(path)  # fail before minutes of work
    if args.real_libraries:
        return run_real_libraries(args, outputs)
    if args.write_zoo_data:
        return write_zoo_data(args)
    from convcalc.checks.validation import run_validation
    from convcalc.render import validation as R

    progress = StderrProgress(args.quiet)
    jobs = args.jobs if args.jobs is not None else (1 if args.models else 2)
    run = run_validation(models=args.models, fast=args.fast, rf=not args.no_rf, rf_models=args.rf_models,
                         progress=progress, jobs=jobs, corpus=False if args.no_corpus else None,
                         training=not args.no_training)
    from convcalc.render.real_libraries import kept_section, with_section

    # (the real-library section, made in another environment, is kept as it is)
    return _emit(run, args, outputs, progress, R.validation_dict,
                 lambda path: with_section(R.validation_markdown(run), kept_section(_read(path))),
                 R.validation_renderables)


def write_zoo_data(args) -> int:
    """``--write-zoo-data``: the stored zoo reports of the installed Paddle, one file per model and convention."""
    from convcalc.analysis.stored import write
    from convcalc.errors import UnknownNameError
    from convcalc.models.zoo import list_entries

    names = [e.name for e in list_entries()]
    for name in args.models or ():
        if name not in names:
            raise UnknownNameError("zoo model", name, names)
    write(args.models or names, progress=StderrProgress(args.quiet))
    return 0


def _emit(run, args, outputs: list[str], progress, as_dict, markdown, renderables) -> int:
    """Write ``run`` to each output (JSON, or ``markdown(path)``), print JSON or the tables; the exit code."""
    import json
    import sys

    from convcalc.files import write_atomic

    text = json.dumps(as_dict(run), indent=2) + "\n" if args.json or any(p.endswith(".json") for p in outputs) else ""
    for path in outputs:
        write_atomic(path, text if path.endswith(".json") else markdown(path))
        progress(f"wrote {path}")
    if args.json:
        sys.stdout.write(text)
    elif not outputs:
        from convcalc.commands.report import terminal_console

        console = terminal_console()
        for item in renderables(run):
            console.print(item)
    return 0 if run.ok else 1


def _read(path: str) -> str:
    from pathlib import Path

    return Path(path).read_text() if Path(path).is_file() else ""


def run_real_libraries(args, outputs: list[str]) -> int:
    import os
    import sys

    from convcalc.checks.real_libraries import models as M
    from convcalc.checks.real_libraries.run import (
        ENV_VARIABLE,
        ROOT,
        environment_commands,
        environment_problem,
        run_corpus,
    )
    from convcalc.errors import DependencyError, UnknownNameError
    from convcalc.render import real_libraries as R

    names = args.models or list(M.FAST if args.fast else M.all_models())
    for name in names:
        if name not in M.all_models():
            raise UnknownNameError("real-library model", name, M.all_models())
    python = os.path.expanduser(args.python or os.environ.get(ENV_VARIABLE) or sys.executable)
    progress = StderrProgress(args.quiet)
    progress(f"real libraries: checking that {python} can import them")
    problem = environment_problem(python)
    if problem:
        raise DependencyError(problem, "create the environment with: " + " && ".join(environment_commands(source=ROOT))
                              + "; then add --python ~/.cache/convcalc-corpus-venv/bin/python")
    jobs = args.jobs if args.jobs is not None else 1
    run = run_corpus(names, python, args.timeout, jobs, timing=not args.no_timing, progress=progress)
    return _emit(run, args, outputs, progress, R.real_libraries_dict,
                 lambda path: R.with_section(_read(path), R.section_markdown(run)), R.real_libraries_renderables)

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
    import sys

    from convcalc.files import check_writable

    outputs = args.output or []
    for path in outputs:
        check_writable(path)  # fail before minutes of work
    from convcalc.checks.validation import run_validation
    from convcalc.render import validation as R

    progress = StderrProgress(args.quiet)
    jobs = args.jobs if args.jobs is not None else (1 if args.models else 2)
    run = run_validation(models=args.models, fast=args.fast, rf=not args.no_rf, rf_models=args.rf_models,
                         progress=progress, jobs=jobs, corpus=False if args.no_corpus else None,
                         training=not args.no_training)
    import json

    from convcalc.files import write_atomic

    for path in outputs:
        if path.endswith(".json"):
            write_atomic(path, json.dumps(R.validation_dict(run), indent=2) + "\n")
        else:
            write_atomic(path, R.validation_markdown(run))
        progress(f"wrote {path}")
    if args.json:
        sys.stdout.write(json.dumps(R.validation_dict(run), indent=2) + "\n")
    elif not outputs:
        from convcalc.commands.report import terminal_console

        console = terminal_console()
        for item in R.validation_renderables(run):
            console.print(item)
    return 0 if run.ok else 1

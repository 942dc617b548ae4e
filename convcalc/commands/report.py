"""``convcalc report``, ``convcalc compare`` and ``convcalc models``."""

from __future__ import annotations

import argparse

from convcalc.commands import at_least_one

FORMATS = ("table", "json", "csv", "markdown", "html")

REPORT_EPILOG = """\
examples:
  convcalc report resnet18
  convcalc report book_lenet --format markdown
  convcalc report book_resnet18 --depth 2 --convention flops
  convcalc report resnet50 --symbolic
  convcalc report my_net.py:Net --input 3x64x64 --format json --output net.json
  convcalc report resnet18 --format html --output resnet18.html
  convcalc report seq.py:Tagger --input 12:int64 --batch 4        (token ids [4, 12])
  convcalc report two.py:Net --input 16x64 --input 16:int64        (one --input per forward argument)
  convcalc report video.py:Net --batch 1 --input 2x4x8x8           (Conv3D sample CxDxHxW)
  convcalc report export/inference.json --input 8x3x224x224
  convcalc report book_paddle_lenet --training --batch 64 --samples 1000   (one training step, one epoch)
  convcalc report resnet18 --training --optimizer adam --dtype float16 --convention flops

MODEL is a zoo name (see `convcalc models`) or path/to/file.py:Name, where Name
is a paddle.nn.Layer subclass or a zero-argument factory returning one, or an
exported inference program: path/to/inference.json or .pdmodel, with its
.pdiparams beside it (paddle.jit.save output; --input may only set the batch).
--training adds, per layer, the forward FLOPs, the backward FLOPs split into the
input gradient (dx; none for the first layer on the data or anything before the
first trainable parameter) and the weight gradients (dW; none for frozen
parameters), and the bytes of the activations its backward reads; then the step,
the epoch (--samples) and the memory of a training step: parameters, gradients,
optimizer state, fp32 master weights (float16/bfloat16), saved activations, and the
step's peak from tensor liveness (docs/formulas.md, "Memory"; bytes in KiB/MiB/GiB).
--input is one sample (the batch, default 1, comes from --batch); a file may
declare its inputs as CONVCALC_INPUT = "3x32x32" or ["16x64", "16:int64"].
Paddle's own forward is the judge: an input it refuses is refused (exit 2).
"""

COMPARE_EPILOG = """\
examples:
  convcalc compare book_resnet18
  convcalc compare mobilenet_v2 --input 3x97x131

Exit status: 0 when every row and both totals agree, 1 on any difference,
2 when the comparison cannot run (a refused input, a model that does not build).
"""


def register(sub: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "report",
        help="per-layer shapes, params, FLOPs and receptive fields of a model",
        description="Trace MODEL once and print, per layer: output shape, parameters, FLOPs in the "
        "chosen convention and the receptive field (size, jump, start), grouped by parent module, "
        "with totals and the inference memory (the most a forward holds at once).",
        epilog=REPORT_EPILOG,
        formatter_class=fmt,
    )
    p.add_argument("model", metavar="MODEL", help="zoo name, path/to/file.py:Name or path/to/inference.json")
    _input_args(p)
    p.add_argument("--convention", default="paddle", choices=("paddle", "macs", "flops"),
                   help="how FLOPs are counted (default: paddle, as paddle.flops and the book's eq. 5.21)")
    p.add_argument("--depth", type=_depth, default=None, metavar="N",
                   help="show layers down to nesting depth N (containers show subtotals)")
    p.add_argument("--symbolic", action="store_true",
                   help="give sizes and FLOPs as expressions in the input's H and W")
    p.add_argument("--exact", action="store_true",
                   help="with --symbolic: keep exact floor() expressions instead of assuming H, W "
                   "divisible by the total stride")
    p.add_argument("--training", action="store_true",
                   help="add the cost of a training step: backward FLOPs (input and weight gradients) and memory")
    p.add_argument("--optimizer", default=None, choices=("sgd", "momentum", "adam", "adamw"),
                   help="with --training: the optimizer whose state is counted (default: sgd)")
    p.add_argument("--dtype", default=None, choices=("float32", "float16", "bfloat16"),
                   help="with --training: the training dtype of parameters, gradients and activations "
                   "(default: float32; float16/bfloat16 add fp32 master weights)")
    p.add_argument("--samples", type=at_least_one("samples"), default=None, metavar="N",
                   help="with --training: training samples per epoch, for the per-epoch total (the book: 1000)")
    p.add_argument("--live", action="store_true",
                   help="trace the model now even where convcalc has its report stored (a zoo model at its "
                   "default channels and dtype, any --batch, its default height and width or another where "
                   "the stored conditions hold, with the installed Paddle's version)")
    p.add_argument("--format", default="table", choices=FORMATS, help="output format (default: table)")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of the terminal")
    p.set_defaults(func=run_report)

    c = sub.add_parser(
        "compare",
        help="convcalc beside paddle.summary and paddle.flops, per layer",
        description="Analyse MODEL and run paddle.summary and paddle.flops on it; print both side "
        "by side (shapes, params, paddle-convention FLOPs) and exit 1 on any difference.",
        epilog=COMPARE_EPILOG,
        formatter_class=fmt,
    )
    c.add_argument("model", metavar="MODEL", help="zoo name or path/to/file.py:Name")
    _input_args(c)
    c.add_argument("--format", default="table", choices=("table", "json"), help="output format")
    c.set_defaults(func=run_compare)

    m = sub.add_parser(
        "models",
        help="list the model zoo",
        description="List the models `report` and `compare` know by name, with default inputs.",
        epilog="example:\n  convcalc models --format json\n",
        formatter_class=fmt,
    )
    m.add_argument("--format", default="table", choices=("table", "json"), help="output format")
    m.set_defaults(func=run_models)


_depth = at_least_one("depth")


def _input_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", "-i", metavar="SHAPE[:DTYPE]", action="append",
                   help="one sample of one model input, any rank: 3x224x224 (image), 16x64 ([N, L, D]), "
                   "4x32 (Conv1D), 2x4x8x8 (Conv3D), 12:int64 (token ids); repeat it once per forward "
                   "argument (default: the model's own, e.g. 3x224x224). A 4-number shape without --batch "
                   "is NxCxHxW for a Conv2D model and CxDxHxW for a Conv3D one")
    p.add_argument("--batch", "-b", type=at_least_one("batch"), default=None, metavar="N",
                   help="batch size put in front of every --input (default 1); with --batch every --input "
                   "is one sample")


def _build(args):
    """The model and its first input's shape (batch first), for commands that take one input (rf, diff)."""
    built, inputs, _ = _build_inputs(args)
    return built, inputs[0].shape


def _build_inputs(args, lazy: bool = False):
    """The model, its inputs (:class:`~convcalc.trace.inputs.ModelInput`, batch first) and notes on how they were
    read; ``lazy``: a zoo model's weights left for the trace to fill (only a report's analysis may do so)."""
    from convcalc.errors import InputSpecError
    from convcalc.models.zoo import build_model
    from convcalc.trace.inputs import cli_inputs, input_hint

    built = build_model(args.model, lazy=lazy)
    if built.source == "program":  # a size the export left dynamic: no --input can help, say so first
        built.model.check_fixed_size()
    given = _given_inputs(args)
    texts = given or list(built.default_inputs or ())
    if not texts:
        raise InputSpecError(
            f"{args.model} has no default input shape",
            "pass one --input per forward argument, e.g. --input 3x224x224"
            + ("" if built.source == "program" else " (or declare CONVCALC_INPUT in the file)"),
        )
    inputs, notes = cli_inputs(texts, getattr(args, "batch", None), input_hint(built.model))
    return built, inputs, notes


def _given_inputs(args) -> list[str]:
    """The ``--input`` texts given (``--input`` appends; a caller's namespace may hold one string)."""
    return [args.input] if isinstance(args.input, str) else list(args.input or ())


def _with_notes(report, notes):
    from dataclasses import replace

    return replace(report, notes=(*notes, *report.notes)) if notes else report


def _write(text: str, path: str | None) -> None:
    if path is None:
        import sys

        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    from convcalc.files import write_atomic

    write_atomic(path, text)


def terminal_console():
    """A rich console; wide when stdout is not a terminal, so piped tables are not squeezed."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=200)


def _training_args(args) -> None:
    """--optimizer/--dtype/--samples only mean something with --training; --symbolic does not go with it."""
    from convcalc.errors import InputSpecError

    given = [f"--{n}" for n in ("optimizer", "dtype", "samples") if getattr(args, n, None) is not None]
    if given and not args.training:
        raise InputSpecError(f"{', '.join(given)} only apply to a training report",
                             "add --training (e.g. convcalc report MODEL --training " + " ".join(given) + " ...)")
    if args.training and args.symbolic:
        raise InputSpecError("--training counts a concrete training step; it does not go with --symbolic",
                             "drop --symbolic (give the size with --input)")


def run_report(args) -> int:
    _training_args(args)
    report = None if args.live else _stored_report(args)
    training = None
    if report is None:
        report, training = _live_report(args)
    _render_report(args, report, training)
    return 0


def _stored_report(args):
    """The report from convcalc's stored zoo data (no Paddle, no sympy), or None where only a trace can say:
    not a stored zoo model, another Paddle, --symbolic/--training, more than one input, another channel count
    or dtype, or a height and width outside the stored conditions."""
    import re

    if args.symbolic or args.exact or args.training or not re.fullmatch(r"[a-z0-9_]+", args.model):
        return None
    from convcalc.analysis.stored import load

    stored = load(args.model, args.convention)
    if stored is None:
        return None
    from convcalc.trace.inputs import InputHint, cli_inputs

    texts = _given_inputs(args)
    if len(texts) > 1:
        return None
    inputs, notes = cli_inputs(texts or ["x".join(map(str, stored.sample))], args.batch, InputHint())
    (given,) = inputs
    if notes or given.also or given.dtype != stored.dtype:
        return None  # (a 4-number --input without --batch can be read two ways: Paddle decides, live)
    from convcalc.analysis.stored import NotStorable

    try:  # another height and width: served where the data's conditions hold (None: trace live)
        return stored.report(given.shape[0], tuple(given.shape[1:]))
    except NotStorable:  # a damaged file: the trace answers, as for a missing one
        return None


def _live_report(args):
    """(report, training cost or None) of the model traced now."""
    from convcalc.analysis import analyze

    built, inputs, notes = _build_inputs(args, lazy=True)
    training = None
    if args.training and built.source == "program":
        from convcalc.errors import ModelLoadError

        raise ModelLoadError(
            f"{args.model} is an exported inference program: it has no training graph to count",
            "run --training on the Python model it was exported from (path/to/file.py:Name or a zoo name)",
        )
    if args.training:
        from convcalc.analysis.engine import trace_for
        from convcalc.analysis.training import training_from_report

        trace = trace_for(built.model, inputs, built.name)
        report = analyze(built.model, [i.shape for i in inputs] if len(inputs) > 1 else inputs[0].shape,
                         convention=args.convention, name=built.name, trace=trace)
        training = training_from_report(report, trace, built.model, optimizer=args.optimizer or "sgd",
                                        dtype=args.dtype or "float32", samples=args.samples)
    else:
        report = analyze(
            built.model, inputs, convention=args.convention, name=built.name,
            symbolic=args.symbolic, assume_divisible=not args.exact,
        )
    return _with_notes(report, notes), training


def _render_report(args, report, training) -> None:
    from convcalc.render import report as R

    if args.format == "json":
        import json

        _write(json.dumps(R.report_dict(report, training), indent=2), args.output)
    elif args.format == "csv":
        _write(R.report_csv(report, args.depth, training), args.output)
    elif args.format == "markdown":
        _write(R.report_markdown(report, args.depth, training), args.output)
    elif args.format == "html":
        from convcalc.render.html import report_html

        _write(report_html(report, args.depth, training=training), args.output)
    else:
        from rich.console import Console

        if args.output:
            import io

            console = Console(record=True, width=200 if training else 160, file=io.StringIO())
            for item in R.report_renderables(report, args.depth, training):
                console.print(item)
            _write(console.export_text(), args.output)
        else:
            console = terminal_console()
            for item in R.report_renderables(report, args.depth, training):
                console.print(item)


def run_compare(args) -> int:
    from convcalc.analysis import analyze
    from convcalc.checks.crosscheck import check_numpy, compare, compare_program
    from convcalc.render import compare as RC

    check_numpy()
    built, inputs, notes = _build_inputs(args)
    report = analyze(built.model, inputs, convention="paddle", name=built.name)
    result = (compare_program if built.source == "program" else compare)(built.model, report)
    if args.format == "json":
        import json

        _write(json.dumps(RC.comparison_dict(result), indent=2), None)
    else:
        console = terminal_console()
        for item in RC.comparison_renderables(result):
            console.print(item)
    return 0 if result.ok else 1


def run_models(args) -> int:
    from convcalc.models.zoo import list_entries
    from convcalc.render import compare as RC

    entries = list_entries()
    if args.format == "json":
        import json

        rows = [
            {"name": e.name, "default_input": list(e.default_input), "source": e.source,
             "description": e.description}
            for e in entries
        ]
        _write(json.dumps(rows, indent=2), None)
    else:
        terminal_console().print(RC.models_renderable(entries))
    return 0

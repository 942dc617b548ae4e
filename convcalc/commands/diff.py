"""``convcalc diff``: two models, one model at two inputs, or two saved JSON reports."""

from __future__ import annotations

import argparse

DIFF_EPILOG = """\
examples:
  convcalc diff resnet18 resnet34
  convcalc diff resnet18 --input 3x224x224 --input 3x112x112
  convcalc diff before.json after.json --format json
  convcalc diff book_resnet18 book_resnet18_plain --all

A and B are zoo names, path/to/file.py:Name, exported inference programs
(inference.json or .pdmodel with their .pdiparams), or JSON files written by
`convcalc report ... --format json`.  With one model and --input twice, the
model is compared with itself at the two inputs.  Layers are aligned by
structure - the children of each container by type, configuration and shapes,
then by path - so an inserted layer is one row wherever it sits:
+ inserted (only in B), - removed (only in A), ~ changed, > moved.  Exit status 0.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "diff",
        help="per-layer and total differences between two models or reports",
        description="Compare two reports layer by layer (aligned by structure: type, configuration and shapes "
        "within each container, then path): params, FLOPs, output size and receptive field, with inserted, "
        "removed and moved layers, and the totals.",
        epilog=DIFF_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("a", metavar="A", help="model or report.json")
    p.add_argument("b", metavar="B", nargs="?", help="model or report.json (omit with --input twice)")
    p.add_argument("--input", "-i", metavar="CxHxW", action="append", default=[],
                   help="input shape; once for both models, or twice (one per side)")
    p.add_argument("--convention", default="paddle", choices=("paddle", "macs", "flops"),
                   help="how FLOPs are counted for models (saved reports keep their own)")
    p.add_argument("--all", action="store_true", help="list unchanged layers too")
    p.add_argument("--format", default="table", choices=("table", "json"), help="output format")
    p.set_defaults(func=run_diff)


def _side(spec: str, shape_text: str | None, convention: str) -> tuple[dict, str]:
    """A report dict and its label, from a saved JSON report or by analysing a model."""
    import json
    from pathlib import Path
    from types import SimpleNamespace

    from convcalc.errors import InputSpecError
    from convcalc.trace.program import PARAMS_SUFFIX

    program = Path(spec).with_suffix(PARAMS_SUFFIX).exists()  # an exported inference.json, not a report
    if spec.lower().endswith(".json") and ":" not in Path(spec).name and not program:
        path = Path(spec)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputSpecError(f"no report file {spec!r}",
                                 "write one with `convcalc report MODEL --format json -o FILE`") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputSpecError(f"{spec!r} is not a JSON report ({exc})",
                                 "write one with `convcalc report MODEL --format json -o FILE`") from None
        if not isinstance(data, dict) or not isinstance(data.get("layers"), list) or "totals" not in data:
            raise InputSpecError(f"{spec!r} is JSON but not a convcalc report (no layers/totals)",
                                 "write one with `convcalc report MODEL --format json -o FILE`")
        if shape_text:
            raise InputSpecError(f"--input does not apply to the saved report {spec!r}",
                                 "drop --input, or give a model instead of the JSON file")
        return data, f"{path.name} ({data.get('model', '?')})"
    from convcalc.analysis import analyze
    from convcalc.commands.report import _build
    from convcalc.render.report import report_dict
    from convcalc.render.report import shape_text as fmt_shape

    built, shape = _build(SimpleNamespace(model=spec, input=shape_text))
    report = analyze(built.model, shape, convention=convention, name=built.name)
    return report_dict(report), f"{built.name} {fmt_shape(report.input_shape)}"


def run_diff(args) -> int:
    from convcalc.errors import InputSpecError

    inputs = list(args.input)
    if args.b is None:
        if len(inputs) != 2:
            raise InputSpecError(
                "diff needs two models, or one model with --input given twice",
                "e.g. convcalc diff resnet18 resnet34, or convcalc diff resnet18 -i 3x224x224 -i 3x112x112",
            )
        specs = [(args.a, inputs[0]), (args.a, inputs[1])]
    else:
        if len(inputs) > 2:
            raise InputSpecError(f"--input given {len(inputs)} times", "give it once (both sides) or twice (A, B)")
        if len(inputs) == 2:
            specs = [(args.a, inputs[0]), (args.b, inputs[1])]
        else:
            one = inputs[0] if inputs else None
            specs = [(args.a, one), (args.b, one)]
    (a, label_a), (b, label_b) = (_side(spec, shape, args.convention) for spec, shape in specs)

    from convcalc.analysis.diff import diff_reports
    from convcalc.render.diff import diff_dict, diff_renderables

    result = diff_reports(a, b, label_a, label_b)
    if args.format == "json":
        import json
        import sys

        sys.stdout.write(json.dumps(diff_dict(result), indent=2) + "\n")
    else:
        from convcalc.commands.report import terminal_console

        console = terminal_console()
        for item in diff_renderables(result, all_rows=args.all):
            console.print(item)
    return 0

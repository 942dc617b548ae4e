"""``convcalc profile``: measured time per layer beside FLOPs and bytes, on this machine's roofline."""

from __future__ import annotations

import argparse

from convcalc.commands import at_least, at_least_one

FORMATS = ("table", "json", "csv", "markdown", "html")

EPILOG = """\
examples:
  convcalc profile mobilenet_v2
  convcalc profile resnet18 --batch 32 --repeat 7 --warmup 2 --format markdown
  convcalc profile lenet --repeat 5 --format json --output lenet.json
  convcalc profile mobilenet_v2 --format html --output mobilenet_v2.html
  convcalc profile resnet18 --allocator pinned             (no page faults per call: glibc only)
  convcalc profile book_paddle_lenet --training --batch 8 --repeat 5   (backward per layer and the step)

Per layer call (and per functional op, attributed to its layer as `report` does):
the median time over --repeat hooked forwards and its spread (IQR), its share of the
total, FLOPs (flops convention; "unknown" for a layer with no rule, and the total
then says >=), the least bytes it must move (inputs + parameters + outputs), FLOP per
byte, achieved FLOP/s and bytes/s, the roofline bound max(FLOPs / peak, bytes /
bandwidth), the efficiency bound / measured and a class: compute-bound, memory-bound
or overhead-bound (measured at least 10x the bound). The ceilings (a large matmul, an
in-place stream) are measured once per machine, dtype and thread count in a child
process and cached in $CONVCALC_CACHE (default ~/.cache/convcalc); --remeasure
measures them again. Hooked forwards alternate with un-hooked ones: the difference is
the measurement's own overhead. Paddle's profiler runs a few more forwards as the
independent check (Profiler ms / Kernels ms columns); --no-profiler skips it. A busy
machine slows some repeats: the header states the load. See docs/profile.md.
"""


def register(sub: argparse._SubParsersAction) -> None:
    from convcalc.commands.report import _input_args

    p = sub.add_parser(
        "profile",
        help="measured time per layer beside FLOPs and bytes, on a roofline",
        description="Run MODEL's forward with timing hooks and print, per layer: measured time, share, FLOPs, "
        "bytes moved, FLOP/B, achieved FLOP/s and bytes/s, the roofline bound, the efficiency and the class "
        "(compute-, memory- or overhead-bound); then the totals, the roofline prediction and the layers whose "
        "share of time differs most from their share of FLOPs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help="zoo name or path/to/file.py:Name")
    _input_args(p)
    p.add_argument("--threads", type=at_least_one("threads"), default=1, metavar="T",
                   help="Paddle's CPU math threads (default 1, as Paddle starts)")
    p.add_argument("--repeat", type=at_least_one("repeat"), default=20, metavar="R",
                   help="timed forwards, each beside an un-hooked one (default 20)")
    p.add_argument("--warmup", type=at_least("warmup", 0), default=3, metavar="W",
                   help="untimed forwards first (default 3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random input (default 0)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64", "float16", "bfloat16"),
                   help="the dtype of the parameters and inputs while timed (default float32; float16 and "
                   "bfloat16 have no CPU kernels in Paddle 3.3)")
    p.add_argument("--training", action="store_true",
                   help="train mode with autograd, then the backward per layer and the step (SGD)")
    p.add_argument("--allocator", default="default", choices=("default", "pinned"),
                   help="pinned: fix glibc's malloc thresholds first, so large outputs are not page-faulted "
                   "on every call (default: the process as it is)")
    p.add_argument("--no-profiler", action="store_true",
                   help="skip the check against Paddle's profiler (functional ops then share their "
                   "container's time equally)")
    p.add_argument("--remeasure", action="store_true", help="measure the machine's ceilings again (else cached)")
    p.add_argument("--format", default="table", choices=FORMATS, help="output format (default: table)")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of the terminal")
    p.set_defaults(func=run_profile)


def run_profile(args) -> int:
    import os

    from convcalc.commands.report import _build_inputs, _write, terminal_console
    from convcalc.profiling import profile
    from convcalc.render import profile as R

    if args.output:
        from convcalc.files import check_writable

        check_writable(args.output)
    built, inputs, _ = _build_inputs(args)
    if built.source == "program":
        from convcalc.errors import ModelLoadError

        raise ModelLoadError(f"{args.model} is an exported inference program: convcalc times Python layers",
                             "profile the Python model it was exported from (path/to/file.py:Name or a zoo name)")
    result = profile(built.model, list(inputs), name=built.name, repeat=args.repeat, warmup=args.warmup,
                     threads=args.threads, dtype=args.dtype, seed=args.seed, training=args.training,
                     allocator=args.allocator, profiler=not args.no_profiler,
                     ceilings="measure" if args.remeasure else "cached")
    cores = os.cpu_count()
    if args.format == "json":
        import json

        _write(json.dumps(R.profile_dict(result), indent=1), args.output)
    elif args.format == "csv":
        _write(R.profile_csv(result), args.output)
    elif args.format == "markdown":
        _write(R.profile_markdown(result, cores), args.output)
    elif args.format == "html":
        from convcalc.render.roofline import profile_html

        _write(profile_html(result, cores), args.output)
    else:
        from rich.console import Console

        if args.output:
            import io

            console = Console(record=True, width=220, file=io.StringIO())
        else:
            console = terminal_console()
            if not console.is_terminal:
                console = Console(width=220)
        for item in R.profile_renderables(result, cores):
            console.print(item)
        if args.output:
            _write(console.export_text(), args.output)
    return 0

"""``convcalc formulas [NAME]`` and ``convcalc explain LAYER ...``.

Import-light: only argparse here; sympy, the formulas and the renderers are
imported inside the handlers.  Neither command imports paddle.
"""

from __future__ import annotations

import argparse

_KINDS = ("conv2d", "pool2d", "linear", "batchnorm", "conv_transpose2d", "layernorm", "softmax", "attention",
          "rnn_cell")

FORMULAS_EPILOG = """\
examples:
  convcalc formulas                     every formula, grouped, in pretty unicode
  convcalc formulas conv_output_size    one formula (book eq. 5.6/5.7) with all its forms
  convcalc formulas conv_flops --latex  LaTeX, for papers and notes
  convcalc formulas --json              machine-readable catalogue
"""

EXPLAIN_EPILOG = """\
examples:
  convcalc explain conv2d --input 3x32x32 --out-channels 6 --kernel 3
  convcalc explain conv2d --input 3xHxW --out-channels 6 --kernel 3 --padding same
  convcalc explain pool2d --input 6x28x28 --kernel 2 --mode avg
  convcalc explain linear --in-features 120 --out-features 84
  convcalc explain conv2d --input 6x14x14 --out-channels 16 --kernel 5 --training   (+ backward)
  convcalc explain batchnorm --input 64x16x16 --json
  convcalc explain conv_transpose2d --input 16x6x6 --out-channels 8 --kernel 2 --stride 2
  convcalc explain attention --input 197x768 --heads 12
  convcalc explain layernorm --input 197x768
  convcalc explain softmax --input 12x197x197
  convcalc explain rnn_cell --input-size 16 --hidden-size 32 --mode lstm --steps 10
"""

_LAYER_EPILOGS = {
    "conv2d": "example:\n  convcalc explain conv2d --input 3x32x32 --out-channels 6 --kernel 3 --stride 1 "
    "--padding 1\n  (6 kernels 3x3x3: 168 parameters and 151,200 FLOPs without padding, book eq. 5.20/5.21)\n",
    "pool2d": "example:\n  convcalc explain pool2d --input 6x28x28 --kernel 2 --stride 2 --mode max\n"
    "  (LeNet's S2: 6x28x28 -> 6x14x14)\n",
    "linear": "example:\n  convcalc explain linear --in-features 120 --out-features 84\n"
    "  (LeNet's F6: 10,164 parameters, 10,080 FLOPs)\n",
    "batchnorm": "example:\n  convcalc explain batchnorm --input 64x16x16\n"
    "  (ResNet18's first BatchNorm2D: 256 parameters, 32,768 FLOPs)\n",
    "conv_transpose2d": "example:\n  convcalc explain conv_transpose2d --input 16x6x6 --out-channels 8 --kernel 2 "
    "--stride 2\n  (2x upsampling: 18,432 MACs; paddle.flops counts 74,880)\n",
    "layernorm": "example:\n  convcalc explain layernorm --input 197x768\n  (one ViT-B/16 LayerNorm)\n",
    "softmax": "example:\n  convcalc explain softmax --input 12x197x197\n  (one ViT-B/16 attention map)\n",
    "attention": "example:\n  convcalc explain attention --input 197x768 --heads 12\n"
    "  (one ViT-B/16 nn.MultiHeadAttention: projections, QK^T, softmax, AV)\n",
    "rnn_cell": "example:\n  convcalc explain rnn_cell --input-size 16 --hidden-size 32 --mode lstm --steps 10\n",
}


class _LayerKindAction(argparse._SubParsersAction):
    """Sub-parsers whose unknown names get the closest known one suggested."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.choices = None  # checked in __call__, with a suggestion

    def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[override]
        name = values[0]
        if name not in self._name_parser_map:
            from convcalc.errors import UnknownNameError

            err = UnknownNameError("layer kind", name, list(self._name_parser_map))
            raise argparse.ArgumentError(None, str(err))
        super().__call__(parser, namespace, values, option_string)


def register(subparsers) -> None:
    """Add ``formulas`` and ``explain`` to the ``convcalc`` command."""
    fp = subparsers.add_parser(
        "formulas",
        help="print the formulas with their book equation numbers",
        description=(
            "Print every formula convcalc uses -- output size, parameters, FLOPs in three "
            "conventions, receptive field -- with the book's equation numbers, in words and "
            "symbols.  The symbolic forms are made by calling the very functions that "
            "compute every number."
        ),
        epilog=FORMULAS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fp.add_argument("name", nargs="?", metavar="NAME", help="one formula, e.g. conv_output_size")
    fp.add_argument("--latex", action="store_true", help="print LaTeX instead of unicode")
    fp.add_argument("--json", action="store_true", help="print JSON")
    fp.set_defaults(func=run_formulas)

    ep = subparsers.add_parser(
        "explain",
        help="worked derivation of one layer: shape, params, FLOPs, receptive field",
        description=(
            "Derive one layer step by step: each formula (with the book's equation number), "
            "the numbers substituted, the result.  Output shape, parameters, FLOPs in the "
            "paddle/macs/flops conventions and the receptive-field step.  Sizes may be "
            "symbols (--input 3xHxW) to get expressions."
        ),
        epilog=EXPLAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    layers = ep.add_subparsers(
        dest="layer", metavar="LAYER", action=_LayerKindAction, parser_class=type(ep)
    )

    def common(p: argparse.ArgumentParser) -> None:
        if p.prog.split()[-1] in ("conv2d", "pool2d", "linear", "batchnorm", "layernorm", "softmax"):
            p.add_argument("--training", action="store_true",
                           help="add the backward of a training step: input- and weight-gradient FLOPs")
        p.add_argument("--latex", action="store_true", help="formulas in LaTeX instead of unicode")
        p.add_argument("--json", action="store_true", help="print JSON")
        p.set_defaults(func=run_explain)

    def layer(name: str, help_: str, description: str) -> argparse.ArgumentParser:
        return layers.add_parser(
            name,
            help=help_,
            description=description,
            epilog=_LAYER_EPILOGS[name],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    conv = layer(
        "conv2d",
        "a 2-D convolution",
        "Worked derivation of a 2-D convolution (book eq. 5.6/5.7, 5.20, 5.4/5.8/5.21, 5.1.4).",
    )
    conv.add_argument("--input", required=True, metavar="CxHxW", help="input shape, e.g. 3x32x32 or 3xHxW")
    conv.add_argument("--out-channels", required=True, metavar="P", help="number of kernels P")
    conv.add_argument("--kernel", required=True, metavar="K", help="kernel size: 3, or 3x5 for height x width")
    conv.add_argument("--stride", default="1", metavar="S", help="stride: 1 (default), or 2x1")
    conv.add_argument(
        "--padding", default="0", metavar="P",
        help="zero padding: 1, before,after (e.g. 0,1), top,bottom,left,right, same or valid",
    )
    conv.add_argument("--dilation", default="1", metavar="D", help="dilation (default 1)")
    conv.add_argument("--groups", default="1", metavar="G", help="groups (default 1); must divide both channel counts")
    conv.add_argument("--no-bias", action="store_true", help="no bias term (bias_attr=False)")
    common(conv)

    pool = layer(
        "pool2d",
        "max or average pooling",
        "Worked derivation of 2-D max/average pooling (book eq. 5.20/5.21 of 5.2.2, 5.1.4).",
    )
    pool.add_argument("--input", required=True, metavar="CxHxW", help="input shape, e.g. 6x28x28")
    pool.add_argument("--kernel", required=True, metavar="K", help="window size: 2, or 2x3")
    pool.add_argument("--stride", default=None, metavar="S", help="stride (default: the kernel size)")
    pool.add_argument(
        "--padding", default="0", metavar="P",
        help="zero padding: 1, before,after, top,bottom,left,right, same or valid",
    )
    pool.add_argument("--mode", default="max", choices=("max", "avg"), help="max (default) or avg")
    pool.add_argument("--ceil-mode", action="store_true", help="round the output size up")
    common(pool)

    lin = layer("linear", "a fully connected layer", "Worked derivation of a fully connected layer.")
    lin.add_argument("--in-features", required=True, metavar="IN", help="input features, e.g. 120")
    lin.add_argument("--out-features", required=True, metavar="OUT", help="output features, e.g. 84")
    lin.add_argument("--no-bias", action="store_true", help="no bias term")
    common(lin)

    bn = layer(
        "batchnorm",
        "BatchNorm2D (inference)",
        "Worked derivation of BatchNorm2D: trainable and running parameters, FLOPs at inference.",
    )
    bn.add_argument("--input", required=True, metavar="CxHxW", help="input shape, e.g. 64x16x16")
    common(bn)

    tconv = layer(
        "conv_transpose2d",
        "a 2-D transposed convolution",
        "Worked derivation of a 2-D transposed convolution: output size, parameters, FLOPs.",
    )
    tconv.add_argument("--input", required=True, metavar="CxHxW", help="input shape, e.g. 16x6x6")
    tconv.add_argument("--out-channels", required=True, metavar="P", help="output channels P")
    tconv.add_argument("--kernel", required=True, metavar="K", help="kernel size: 2, or 2x3")
    tconv.add_argument("--stride", default="1", metavar="S", help="stride (default 1)")
    tconv.add_argument("--padding", default="0", metavar="P", help="padding per side: 1, or 1x0")
    tconv.add_argument("--output-padding", default="0", metavar="O", help="extra size at the end (default 0)")
    tconv.add_argument("--dilation", default="1", metavar="D", help="dilation (default 1)")
    tconv.add_argument("--groups", default="1", metavar="G", help="groups (default 1)")
    tconv.add_argument("--no-bias", action="store_true", help="no bias term")
    common(tconv)

    ln = layer("layernorm", "LayerNorm", "Worked derivation of LayerNorm over the last dimension(s).")
    ln.add_argument("--input", required=True, metavar="SHAPE", help="input shape, e.g. 197x768")
    ln.add_argument("--normalized-dims", default="1", metavar="K", help="trailing dimensions normalised (default 1)")
    ln.add_argument("--no-affine", action="store_true", help="no scale and shift")
    common(ln)

    sm = layer("softmax", "softmax or log-softmax", "Worked derivation of softmax along one axis.")
    sm.add_argument("--input", required=True, metavar="SHAPE", help="input shape, e.g. 12x197x197")
    sm.add_argument("--axis", default="-1", metavar="A", help="axis (default -1)")
    sm.add_argument("--log", action="store_true", help="log-softmax")
    common(sm)

    at = layer("attention", "multi-head self-attention",
               "Worked derivation of nn.MultiHeadAttention on T tokens of width D: projections, scaling, QK^T, "
               "softmax, AV.")
    at.add_argument("--input", required=True, metavar="TxD", help="tokens x width, e.g. 197x768")
    at.add_argument("--heads", required=True, metavar="H", help="number of heads, e.g. 12")
    at.add_argument("--no-bias", action="store_true", help="projections without bias")
    common(at)

    rc = layer("rnn_cell", "an RNN/LSTM/GRU cell", "Worked derivation of a recurrent cell over some steps.")
    rc.add_argument("--input-size", required=True, metavar="I", help="input features, e.g. 16")
    rc.add_argument("--hidden-size", required=True, metavar="H", help="hidden units, e.g. 32")
    rc.add_argument("--mode", default="lstm", choices=("lstm", "gru", "rnn_tanh", "rnn_relu"), help="cell kind")
    rc.add_argument("--steps", default="1", metavar="T", help="time steps (default 1)")
    rc.add_argument("--no-bias", action="store_true", help="no bias terms")
    common(rc)

    ep.set_defaults(func=_explain_without_layer, explain_parser=ep)


# ------------------------------------------------------------------ value parsing
def _one(text: str, flag: str, *, nonnegative: bool = False):
    """An int (any sign: the formulas judge the range) or a symbol."""
    import re

    t = text.strip()
    if re.fullmatch(r"[+-]?\d+", t):
        return int(t)
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", t):
        import sympy

        if nonnegative:
            return sympy.Symbol(t, nonnegative=True, integer=True)
        return sympy.Symbol(t, positive=True, integer=True)
    from convcalc.errors import InvalidParameterError

    raise InvalidParameterError(
        f"{flag} {text!r} is not a whole number",
        f"write e.g. {flag} 3, a height x width pair such as 3x5, or a symbol such as K",
    )


def _pair(text: str, flag: str):
    import re

    parts = [p for p in re.split(r"[xX,]", text.strip())]
    if len(parts) == 1:
        return _one(parts[0], flag)
    if len(parts) == 2:
        return (_one(parts[0], flag), _one(parts[1], flag))
    from convcalc.errors import InvalidParameterError

    raise InvalidParameterError(
        f"{flag} {text!r} has {len(parts)} values", f"write one value ({flag} 3) or two ({flag} 3x5)"
    )


def _padding(text: str):
    t = text.strip()
    if t.lower() in ("same", "valid"):
        return t.upper()
    parts = [p for p in t.split(",")]
    if len(parts) in (1, 2, 4):
        values = tuple(_one(p, "--padding", nonnegative=True) for p in parts)
        return values[0] if len(values) == 1 else values
    from convcalc.errors import InvalidParameterError

    raise InvalidParameterError(
        f"--padding {text!r} has {len(parts)} values",
        "write 1, before,after (0,1), top,bottom,left,right (0,1,1,0), same or valid",
    )


# ------------------------------------------------------------------ handlers
def _print(text_fn, rich_fn, obj, latex: bool) -> None:
    import sys

    if sys.stdout.isatty():
        from rich.console import Console

        Console(highlight=False).print(rich_fn(obj, latex=latex), end="", soft_wrap=True)
    else:
        sys.stdout.write(text_fn(obj, latex=latex))


def run_formulas(args: argparse.Namespace) -> int:
    from convcalc.formulas import catalog
    from convcalc.render import formulas as render

    entries = (catalog.entry(args.name),) if args.name else catalog.catalog()
    if args.json:
        import json

        print(json.dumps(render.to_json_list(entries), indent=2, ensure_ascii=False))
        return 0
    _print(render.to_text, render.to_rich, entries, args.latex)
    return 0


def _explain_without_layer(args: argparse.Namespace) -> int:
    args.explain_parser.error(f"a layer kind is required: one of {', '.join(_KINDS)}")
    return 2  # not reached: error() exits


def _config(args: argparse.Namespace) -> tuple[tuple, dict]:
    from convcalc.trace.inputs import parse_shape

    if args.layer == "conv2d":
        shape = parse_shape(args.input, allow_symbols=True, min_dims=3, max_dims=3)
        return shape, dict(
            out_channels=_one(args.out_channels, "--out-channels"),
            kernel=_pair(args.kernel, "--kernel"),
            stride=_pair(args.stride, "--stride"),
            padding=_padding(args.padding),
            dilation=_pair(args.dilation, "--dilation"),
            groups=_one(args.groups, "--groups"),
            bias=not args.no_bias,
        )
    if args.layer == "pool2d":
        shape = parse_shape(args.input, allow_symbols=True, min_dims=3, max_dims=3)
        return shape, dict(
            kernel=_pair(args.kernel, "--kernel"),
            stride=None if args.stride is None else _pair(args.stride, "--stride"),
            padding=_padding(args.padding),
            mode=args.mode,
            ceil_mode=args.ceil_mode,
        )
    if args.layer == "linear":
        return (_one(args.in_features, "--in-features"),), dict(
            out_features=_one(args.out_features, "--out-features"), bias=not args.no_bias
        )
    if args.layer == "conv_transpose2d":
        shape = parse_shape(args.input, allow_symbols=True, min_dims=3, max_dims=3)
        return shape, dict(
            out_channels=_one(args.out_channels, "--out-channels"),
            kernel=_pair(args.kernel, "--kernel"),
            stride=_pair(args.stride, "--stride"),
            padding=_pair(args.padding, "--padding"),
            output_padding=_pair(args.output_padding, "--output-padding"),
            dilation=_pair(args.dilation, "--dilation"),
            groups=_one(args.groups, "--groups"),
            bias=not args.no_bias,
        )
    if args.layer == "layernorm":
        shape = parse_shape(args.input, allow_symbols=True, min_dims=1, max_dims=5)
        return shape, dict(normalized_dims=_one(args.normalized_dims, "--normalized-dims"),
                           affine=not args.no_affine)
    if args.layer == "softmax":
        shape = parse_shape(args.input, allow_symbols=True, min_dims=1, max_dims=5)
        return shape, dict(axis=_one(args.axis, "--axis"), log=args.log)
    if args.layer == "attention":
        shape = parse_shape(args.input, allow_symbols=True, min_dims=2, max_dims=2)
        return shape, dict(heads=_one(args.heads, "--heads"), bias=not args.no_bias)
    if args.layer == "rnn_cell":
        return (_one(args.input_size, "--input-size"),), dict(
            hidden_size=_one(args.hidden_size, "--hidden-size"), mode=args.mode,
            steps=_one(args.steps, "--steps"), bias=not args.no_bias,
        )
    shape = parse_shape(args.input, allow_symbols=True, min_dims=3, max_dims=3)
    return shape, {}


def run_explain(args: argparse.Namespace) -> int:
    from convcalc.explain.layers import explain_layer
    from convcalc.render import derivation as render

    shape, config = _config(args)
    d = explain_layer(args.layer, shape, training=getattr(args, "training", False), **config)
    if args.json:
        import json

        print(json.dumps(render.to_json_dict(d), indent=2, ensure_ascii=False))
        return 0
    _print(render.to_text, render.to_rich, d, args.latex)
    return 0

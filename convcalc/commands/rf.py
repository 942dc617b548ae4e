"""``convcalc rf``: one unit's theoretical receptive field beside its effective one, as a picture."""

from __future__ import annotations

import argparse

RF_EPILOG = """\
examples:
  convcalc rf book_lenet --data-dir ../shared/data/mnist --output rf.png
  convcalc rf book_resnet18 --layer net.3 --unit 1,1 --output rf.png
  convcalc rf book_lenet --weights lenet.pdparams --image digit.png --output rf_trained.png

The left panel is the input (an MNIST test digit, or --image, resized to the
model's input) with the theoretical field of the chosen unit (book 5.1.4);
the middle panel is its effective field, the gradient of that unit with
respect to the input (Luo et al. 2016), for the weights as built or as
trained (--weights, e.g. the checkpoint of `convcalc train book_lenet`; an
exported program's are its .pdiparams, its gradient built by Paddle's static
backward);
the right panel is the field's size and jump per layer.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rf",
        help="draw one unit's theoretical and effective receptive field (PNG/SVG/PDF)",
        description="Draw the theoretical receptive field of one unit on the input image beside its "
        "effective receptive field (the unit's input gradient), plus size and jump per layer. "
        "Needs matplotlib (pip install 'convcalc[plot]').",
        epilog=RF_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL",
                   help="zoo name, path/to/file.py:Name or an exported program (inference.json / .pdmodel)")
    p.add_argument("--input", "-i", metavar="CxHxW", help="input shape (default: the model's own)")
    p.add_argument("--layer", metavar="PATH", help="layer path (default: the last layer with a spatial field)")
    p.add_argument("--unit", metavar="I,J", type=_unit, help="output unit row,column (default: the centre)")
    p.add_argument("--image", metavar="FILE", help="an image file (any format Pillow reads), resized to the input")
    p.add_argument("--digit", metavar="N", type=int, default=0,
                   help="without --image: which MNIST test image to draw on (default 0)")
    p.add_argument("--data-dir", metavar="DIR",
                   help="folder with the MNIST files (default: $CONVCALC_DATA_DIR, else Paddle's cache)")
    p.add_argument("--weights", metavar="FILE", help="a .pdparams state dict to load (default: weights as built)")
    p.add_argument("--output", "-o", metavar="FILE", required=True, help="the picture to write (.png, .svg, .pdf)")
    p.set_defaults(func=run_rf)


def _unit(text: str) -> tuple[int, int]:
    try:
        i, j = (int(t) for t in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"unit must be two whole numbers I,J, got {text!r}") from None
    if i < 0 or j < 0:
        raise argparse.ArgumentTypeError(f"unit indices must be >= 0, got {text!r}")
    return (i, j)


def run_rf(args) -> int:
    from convcalc.render.pictures import check_plot_support

    check_plot_support(args.output, "convcalc rf", "")
    from convcalc.analysis import analyze, normalise_input
    from convcalc.analysis.effective import unit_field
    from convcalc.commands.report import _build
    from convcalc.render.pictures import draw_unit_field
    from convcalc.train.rf_inputs import load_image, load_weights

    built, shape = _build(args)
    if built.source == "program" and args.weights:
        from convcalc.errors import InputSpecError

        raise InputSpecError(
            f"--weights does not apply to the exported program {args.model}: its weights are its .pdiparams",
            "drop --weights, or export the model again with the trained weights",
        )
    shape = normalise_input(shape)
    image, source = load_image(shape, args.image, args.data_dir, args.digit)
    if args.weights:
        load_weights(built.model, args.weights)
    report = analyze(built.model, shape, name=built.name)
    uf = unit_field(built.model, report, args.layer, args.unit, image)
    path = draw_unit_field(uf, image, report, args.output,
                           weights=f"weights {args.weights}" if args.weights else "weights as built")
    top, bottom, left, right = uf.box
    print(
        f"{report.model} {uf.layer} unit {uf.unit[0]},{uf.unit[1]}: theoretical field {uf.size[0]}x{uf.size[1]} "
        f"(rows {top:g}..{bottom:g}, columns {left:g}..{right:g}, jump {uf.jump[0]}x{uf.jump[1]}); "
        f"gradient outside it {uf.outside:.1%}; input {source}; wrote {path}"
    )
    return 0

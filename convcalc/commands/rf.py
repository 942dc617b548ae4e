"""``convcalc rf``: a unit's theoretical receptive field (or several layers', nested) beside its effective one."""

from __future__ import annotations

import argparse

RF_EPILOG = """\
examples:
  convcalc rf resnet18 --output rf.png
  convcalc rf book_resnet18 --layers all --samples 32 --seed 1 --output rf.png
  convcalc rf book_lenet --data-dir ../shared/data/mnist --output rf.png
  convcalc rf book_resnet18 --layer net.3 --unit 1,1 --output rf.png
  convcalc rf book_lenet --weights lenet.pdparams --image digit.png --output rf_trained.png

The left panel is the input - --image, resized to the model's input; an MNIST
test digit for a one-channel 28x28 or 32x32 input when MNIST is found (or
--digit/--data-dir ask for one); otherwise a neutral grey picture with a dot
at each unit centre of the layer - with the theoretical field of the chosen
unit (book 5.1.4), or with --layers the nested fields of several layers.  The
default layer is the deepest whose field is still smaller than the input.  The
middle panel is the effective field: the gradient of that unit with respect to
the input (Luo et al. 2016), averaged over --samples random inputs drawn with
--seed (which seeds the weights as built too, so a picture can be made again),
for the weights as built or as trained (--weights, e.g. the checkpoint of
`convcalc train book_lenet`; an exported program's are its .pdiparams, its
gradient built by Paddle's static backward), with the square that holds 95% of
the gradient; the right panel is the field's size and jump along the main path.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rf",
        help="draw the theoretical and effective receptive field of a unit (PNG/SVG/PDF)",
        description="Draw the theoretical receptive field of a unit (or nested fields of several layers) on "
        "the input beside its effective receptive field (the unit's input gradient averaged over random "
        "inputs) and the radius holding 95% of it, plus size and jump per layer. "
        "Needs matplotlib (pip install 'convcalc[plot]').",
        epilog=RF_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL",
                   help="zoo name, path/to/file.py:Name or an exported program (inference.json / .pdmodel)")
    p.add_argument("--input", "-i", metavar="CxHxW", help="input shape (default: the model's own)")
    p.add_argument("--layer", metavar="PATH",
                   help="the layer whose unit is shown (default: the deepest whose field is smaller than the input)")
    p.add_argument("--layers", metavar="all|PATH,PATH",
                   help="draw the fields of several layers, nested: 'all' (the deepest layer of each resolution "
                   "level) or layer paths separated by commas")
    p.add_argument("--unit", metavar="I,J", type=_unit, help="output unit row,column (default: the centre)")
    p.add_argument("--samples", metavar="N", type=_samples, default=16,
                   help="random inputs the effective field is averaged over (default 16)")
    p.add_argument("--seed", metavar="S", type=_seed, default=0,
                   help="seed of the random inputs and of the weights as built (default 0)")
    p.add_argument("--image", metavar="FILE", help="an image file (any format Pillow reads), resized to the input")
    p.add_argument("--digit", metavar="N", type=int,
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


def _samples(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"--samples must be a whole number >= 1, got {text!r}")
    return n


def _seed(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if not 0 <= n < 2**32:
        raise argparse.ArgumentTypeError(f"--seed must be a whole number from 0 to 2**32 - 1, got {text!r}")
    return n


def run_rf(args) -> int:
    from convcalc.render.pictures import check_plot_support

    check_plot_support(args.output, "convcalc rf", "")
    import sys
    from dataclasses import replace

    import paddle

    from convcalc.analysis import analyze, normalise_input
    from convcalc.analysis.effective import nearest_unit, noise_inputs, pick_layer, pick_layers, unit_box, unit_field
    from convcalc.commands.report import _build
    from convcalc.render.pictures import box_label, draw_unit_field
    from convcalc.train.rf_inputs import load_image, load_weights, neutral_picture

    paddle.seed(args.seed)  # the weights as built: the same picture again for the same --seed
    built, shape = _build(args)
    if built.source == "program" and args.weights:
        from convcalc.errors import InputSpecError

        raise InputSpecError(
            f"--weights does not apply to the exported program {args.model}: its weights are its .pdiparams",
            "drop --weights, or export the model again with the trained weights",
        )
    shape = normalise_input(shape)
    picture = load_image(shape, args.image, args.data_dir, args.digit)  # before the long work: a bad file fails fast
    if args.weights:
        load_weights(built.model, args.weights)
    report = analyze(built.model, shape, name=built.name)
    h, w = (int(d) for d in shape[-2:])
    rec = pick_layer(report, args.layer)
    boxes_of = pick_layers(report, args.layers) if args.layers else []
    if boxes_of and not any(r is rec for r in boxes_of):  # the unit whose effective field is shown: its box too
        order = {id(r): k for k, r in enumerate(report.records)}
        boxes_of = sorted([*boxes_of, rec], key=lambda r: order[id(r)])
    if picture.neutral:  # its dots at the shown layer's unit centres
        lattice = neutral_picture(shape, (rec.rf_h.jump, rec.rf_w.jump), (rec.rf_h.start, rec.rf_w.start))
        picture = replace(picture, pixels=lattice)
    if picture.note:
        print(f"note: {picture.note}", file=sys.stderr)
    uf = unit_field(built.model, report, rec, args.unit, noise_inputs(shape, args.samples, args.seed))
    boxes = tuple(uf if r is rec else unit_box(r, nearest_unit(r, uf.centre)) for r in boxes_of)
    path = draw_unit_field(uf, picture.pixels, report, args.output,
                           weights=f"weights {args.weights}" if args.weights else "weights as built",
                           boxes=boxes, seed=args.seed, source=picture.source)
    top, bottom, left, right = uf.box
    side = 2 * uf.radius + 1
    print(
        f"{report.model} {uf.layer} unit {uf.unit[0]},{uf.unit[1]}: theoretical field {uf.size[0]}x{uf.size[1]} "
        f"(rows {top:g}..{bottom:g}, columns {left:g}..{right:g}, jump {uf.jump[0]}x{uf.jump[1]}); "
        f"gradient outside it {uf.outside:.1%}; effective field: 95% of the gradient within {side:g}x{side:g} "
        f"(r = {uf.radius:g} px), mean over {uf.samples} random input{'s' if uf.samples > 1 else ''} "
        f"(seed {args.seed}); input {picture.source}; wrote {path}"
    )
    if boxes:
        print("theoretical fields drawn: " + "; ".join(box_label(b, h, w) for b in boxes))
    return 0

"""``convcalc train``, ``convcalc reproduce`` and ``convcalc edges`` (book §5.1.7, 5.3-5.4).

Import-light: argparse only at module level; paddle and rich load in the handlers.
"""

from __future__ import annotations

import argparse
import sys

_MODELS_HELP = (
    "book_lenet (alias lenet), book_paddle_lenet (paddle_lenet), book_resnet18 (resnet18), "
    "book_resnet18_plain (resnet18_plain; or resnet18 --no-residual)"
)

_DATA_HELP = (
    "folder with MNIST: the book's mnist.json.gz, or t10k-*-ubyte.gz (+ train-*-ubyte.gz); "
    "default $CONVCALC_DATA_DIR, else Paddle's cache ~/.cache/paddle/dataset/mnist"
)

_TRAIN_EPILOG = """\
The book's protocol (5.3.3): SGD, cross-entropy, batch 64, 5 epochs, seed 100,
dev evaluation every 15 steps and at the last step; the best dev model is
tested.  Default learning rates are the book's: LeNet 0.1, ResNet18 0.01,
ResNet18 without residual connections 0.005.  With only the MNIST test set
present, train/dev come from its images 200..1399 (the output says so).

examples (../shared/data/mnist: any folder with the MNIST files; or set
CONVCALC_DATA_DIR once, or add --download when online):
  convcalc train lenet --data-dir ../shared/data/mnist
  convcalc train resnet18 --no-residual --epochs 2 --plot curves.png --json --data-dir ../shared/data/mnist
  convcalc train book_lenet --naive --limit 128 --max-steps 2 --data-dir ../shared/data/mnist
"""

_REPRODUCE_EPILOG = """\
Runs LeNet-5 (lr 0.1), ResNet18 without residual (lr 0.005) and with residual
(lr 0.01), each once per seed (100, 101, ...), and compares the mean test
accuracy with the book's 0.8600 / 0.8300 / 0.8950.  Exit 1 if the book's
conclusion (residual > LeNet > no residual) does not hold for the means.
ResNet18 takes minutes per run on a CPU.

example:
  convcalc reproduce --seeds 3 --data-dir ../shared/data/mnist
"""

_EDGES_EPILOG = """\
The 8-neighbour Laplacian [[-1,-1,-1],[-1,8,-1],[-1,-1,-1]] (5.1.7) applied with
the book's Conv2D (stride 1, no padding) to a greyscale picture resized to
--size x --size (256 as in the book).  Without IMAGE: the first MNIST test
digit if the data is found, else a generated picture.

examples:
  convcalc edges examples/shapes.png --out edges.png
  convcalc edges --data-dir ../shared/data/mnist --out digit-edges.png --naive --size 64
"""


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", metavar="DIR", help=_DATA_HELP)
    p.add_argument(
        "--download", action="store_true", help="fetch MNIST through paddle.vision.datasets.MNIST if missing (internet)"
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser(
        "train",
        help="train one of the book's MNIST models (5.3-5.4)",
        description="Train one of the book's models on its MNIST subset (train 1000 / dev "
        "200 / test 200) and report the best dev model's test accuracy.",
        epilog=_TRAIN_EPILOG,
        formatter_class=fmt,
    )
    p.add_argument("model", metavar="MODEL", help=_MODELS_HELP)
    p.add_argument("--epochs", type=int, default=5, help="epochs (default 5)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the book's for MODEL)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size (default 64)")
    p.add_argument("--seed", type=int, default=100, help="random seed (default 100, the book's)")
    p.add_argument("--eval-steps", type=int, default=15, help="evaluate on dev every N steps (default 15)")
    p.add_argument("--no-residual", action="store_true", help="ResNet18 without residual connections (5.4.2)")
    p.add_argument(
        "--optimizer", default="sgd", choices=("sgd", "momentum", "adam"), help="optimizer (default sgd, the book's)"
    )
    p.add_argument("--naive", action="store_true", help="book_lenet with the book's loop Conv2D/Pool2D (very slow)")
    p.add_argument("--checkpoint", metavar="PATH", help="write the best dev model's state dict (.pdparams)")
    p.add_argument("--plot", metavar="PNG", help="write the loss/accuracy curves (matplotlib)")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    p.add_argument("--limit", type=int, metavar="N", help="use only the first N images of each split (quick checks)")
    p.add_argument("--max-steps", type=int, metavar="N", help="stop after N training steps")
    _add_data_args(p)
    p.set_defaults(func=run_train)

    r = subparsers.add_parser(
        "reproduce",
        help="rerun the book's three MNIST experiments over several seeds",
        description="Rerun the book's LeNet-5 / ResNet18 (with and without residual "
        "connections) experiments and compare with its numbers.",
        epilog=_REPRODUCE_EPILOG,
        formatter_class=fmt,
    )
    r.add_argument("--seeds", type=int, default=3, help="number of seeds, from 100 (default 3)")
    r.add_argument("--epochs", type=int, default=5, help="epochs per run (default 5)")
    out = r.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print JSON instead of the table")
    out.add_argument("--markdown", action="store_true", help="print a Markdown table")
    r.add_argument("--quiet", action="store_true", help="no progress display")
    _add_data_args(r)
    r.set_defaults(func=run_reproduce)

    e = subparsers.add_parser(
        "edges",
        help="Laplacian edge detection with the book's Conv2D (5.1.7)",
        description="Detect edges in a picture with the book's Conv2D and the Laplacian "
        "kernel, and write the response as a greyscale image.",
        epilog=_EDGES_EPILOG,
        formatter_class=fmt,
    )
    e.add_argument("image", metavar="IMAGE", nargs="?", help="picture file (PNG, JPEG, ...)")
    e.add_argument("--out", metavar="PNG", default="edges.png", help="output image (default edges.png)")
    e.add_argument("--size", type=int, default=256, help="resize to SIZE x SIZE (default 256)")
    e.add_argument("--naive", action="store_true", help="use the book's loop Conv2D (slow)")
    e.add_argument("--data-dir", metavar="DIR", help="where to find an MNIST digit if no IMAGE")
    e.add_argument("--json", action="store_true", help="print a JSON summary")
    e.set_defaults(func=run_edges)


def _print(renderable: object) -> None:
    from convcalc.render.training import plain_console

    plain_console().print(renderable)


def run_train(args: argparse.Namespace) -> int:
    from convcalc.render import training as render
    from convcalc.train.data import load_book_splits
    from convcalc.train.runner import TrainConfig, check_output_path, train

    config = TrainConfig(
        model=args.model,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        seed=args.seed,
        eval_steps=args.eval_steps,
        optimizer=args.optimizer,
        no_residual=args.no_residual,
        naive=args.naive,
        checkpoint=args.checkpoint,
        train_limit=args.limit,
        dev_limit=args.limit,
        test_limit=args.limit,
        max_steps=args.max_steps,
    )
    if args.checkpoint:
        check_output_path(args.checkpoint)
    if args.plot:
        render.check_plot_support(args.plot)
    splits = load_book_splits(args.data_dir, download=args.download)
    with render.TrainProgress(f"{config.spec.name}", quiet=args.quiet) as progress:
        for note in splits.notes:
            progress.console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
        run = train(config, splits, progress)
    if args.plot:
        render.plot_curves(run.result, args.plot)
    if args.json:
        sys.stdout.write(render.to_json(run.result) + "\n")
    elif render.plain_console().is_terminal:
        _print(render.result_table(run.result))
    else:  # piped or redirected: one line per row, never wrapped
        _print(render.result_text(run.result))
    return 0


def run_reproduce(args: argparse.Namespace) -> int:
    from convcalc.render import training as render
    from convcalc.train.data import load_book_splits
    from convcalc.train.experiments import reproduce, seed_list
    from convcalc.train.runner import TrainConfig

    seeds = seed_list(args.seeds)
    base = TrainConfig(epochs=args.epochs)  # validates --epochs
    splits = load_book_splits(args.data_dir, download=args.download)
    with render.ReproduceProgress("reproduce", quiet=args.quiet, log_evals=False) as progress:
        for note in splits.notes:
            progress.console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
        rep = reproduce(splits, seeds, args.epochs, base=base, progress=progress)
    if args.json:
        sys.stdout.write(render.to_json(rep) + "\n")
    elif args.markdown:
        sys.stdout.write(render.reproduction_markdown(rep))
    else:
        _print(render.reproduction_table(rep))
        for note in rep.notes:
            _print(f"[yellow]note:[/yellow] {note}")
    return 0 if rep.conclusion_holds else 1


def run_edges(args: argparse.Namespace) -> int:
    from convcalc.render import training as render
    from convcalc.train.edges import detect_edges, load_image, sample_image
    from convcalc.train.runner import check_output_path

    check_output_path(args.out, "output image")
    if args.image:
        image, source = load_image(args.image, args.size), args.image
    else:
        image, source = sample_image(args.data_dir, args.size)
    result = detect_edges(image, naive=args.naive, source=source)
    path = render.save_edges(result, args.out)
    if args.json:
        sys.stdout.write(render.to_json({**result.to_dict(), "out": str(path)}) + "\n")
    else:
        h, w = result.input.shape
        oh, ow = result.output.shape
        _print(
            f"Laplacian edges of {source}: {h}x{w} -> {oh}x{ow} "
            f"({'loop' if args.naive else 'vectorised'} Conv2D), written to {path}"
        )
    return 0

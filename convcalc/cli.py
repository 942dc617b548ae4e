"""The ``convcalc`` command: parse, call the library, render, map errors to exit codes.

Thin by design (pip-audit/hatch style): each command's arguments and its call
into the library live in ``convcalc/commands/<area>.py``; this module only
assembles them and turns :class:`~convcalc.errors.ConvcalcError` into one line
on stderr and exit code 2.  Heavy imports (paddle, sympy) happen inside the
command that needs them, so ``convcalc formulas`` never imports paddle.

Exit codes: 0 success; 1 a check or comparison found a difference; 2 a usage
or input error; 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from collections.abc import Sequence

from convcalc import __version__
from convcalc.errors import ConvcalcError

# Modules under convcalc.commands, each with ``register(subparsers)``.  They
# must stay import-light: only argparse at module level.
COMMAND_MODULES = ("formulas", "report", "diff", "rf", "profile", "homework", "train", "validate")


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="convcalc",
        description=(
            "Exact output shapes, parameters, FLOPs and receptive fields of "
            "convolutional networks, from symbolic formulas checked against "
            "PaddlePaddle."
        ),
        epilog="Example: convcalc report resnet18 --format markdown",
    )
    parser.add_argument("--version", action="version", version=f"convcalc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"convcalc.commands.{name}")
        except ModuleNotFoundError as exc:  # an area not installed yet
            if exc.name != f"convcalc.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _subcommands(parser: argparse.ArgumentParser) -> list[str]:
    return list(_subparsers(parser))


def _quiet_paddle() -> None:
    """Keep Paddle's C++ log lines and import-time warnings out of a one-line error.

    Set before any command imports paddle; a user's own settings win.
    """
    os.environ.setdefault("GLOG_minloglevel", "2")  # the ccache warning: see convcalc/__init__.py


def main(argv: Sequence[str] | None = None) -> int:
    _quiet_paddle()
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # (named by the command's own parser, whose --help lists what it takes)
        chosen = _subparsers(parser).get(getattr(args, "command", None) or "", parser)
        chosen.error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(args, "func", None) is None:
        commands = ", ".join(name for name in _subcommands(parser))
        parser.error(f"a command is required: one of {commands}")
    previous, stop_repeating = _deliver_interrupts()
    try:
        return int(args.func(args) or 0)
    except ConvcalcError as err:
        from convcalc.render.escape import visible

        # (a message quotes what the user gave - a file name, a model name - and Paddle's own words: a control
        # character in them must not move the cursor or start a second line that looks like convcalc's)
        print(f"convcalc {args.command}: error: {visible(err)}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"convcalc {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `convcalc report ... | head`
        return 0
    finally:
        stop_repeating()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _deliver_interrupts() -> tuple:
    """Make one Ctrl-C always stop the command: ``(the handler replaced, a function that stops the repeats)``.

    One KeyboardInterrupt is not always enough: Python prints and drops one raised inside a weakref
    callback (every import runs one, importlib's module-lock ``cb``), and Paddle turns one raised
    inside its static build or its C++ kernels into an ordinary error, which a command may report and
    go on (validate went on to check every model and exit 1).  So after the first Ctrl-C the
    interrupt is sent again every second until the command ends; ``main`` itself, once stopping,
    ignores them.  Off the main thread nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        return None, lambda: None
    stopped = threading.Event()
    ending = [False]  # (set first thing in stop, before any call: a repeat landing inside stop is ignored)
    lock = threading.Lock()
    timers: list[threading.Timer] = []

    def schedule(delay: float) -> None:
        with lock:
            if stopped.is_set():
                return
            timer = threading.Timer(delay, again)
            timer.daemon = True
            timers[:] = [timer]
            timer.start()

    def again() -> None:
        with lock:
            if stopped.is_set():
                return
            os.kill(os.getpid(), signal.SIGINT)
        schedule(1.0)

    def stop() -> None:
        ending[0] = True
        with lock:
            stopped.set()
            for timer in timers:
                timer.cancel()

    def handler(signum, frame):
        # main is already printing "interrupted" (or returning), or stopping the repeats: a repeat sent just before
        # is ignored there (raised inside stop, it would leave main uncaught and Python end by SIGINT, exit -2)
        if ending[0] or stopped.is_set() or (frame is not None and frame.f_code in (main.__code__, stop.__code__)):
            return
        if not timers:
            schedule(0.05)
        if frame is not None and frame.f_code.co_name == "cb" and "importlib" in frame.f_code.co_filename:
            return  # Python would drop it here: the repeat brings it back in ordinary code
        raise KeyboardInterrupt

    return signal.signal(signal.SIGINT, handler), stop


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

"""``convcalc check`` (grade homework files) and ``convcalc verify-op`` (check an operator).

Import-light: only argparse here.  Layer questions never import paddle;
model questions and ``verify-op`` do (``verify-op`` for Paddle's reference; the
student's code runs only in a sandboxed child process).
"""

from __future__ import annotations

import argparse

CHECK_EPILOG = """\
examples:
  convcalc check answers.toml                      grade one student's file
  convcalc check answers.toml --json               the same for an autograder
  convcalc check submissions/ --questions questions.toml --gradebook grades.csv
                                                   grade a class against the teacher's questions
  convcalc check questions.toml --answer-key key.toml
                                                   write the complete answer key

  Try it on the book's exercises (a student with typical mistakes):
  convcalc check examples/homework/chapter5_student.toml   # exit 1: some answers are wrong

  convcalc check answers.toml --feedback hints --gradescope /autograder/results/results.json
                                                   a Gradescope autograder: no expected values shown

exit codes, one file: 0 every answer right; 1 some answer wrong; 2 the file is
invalid, or some answer in it could not be read (a wrong type, a misspelt field,
a huge number: the rest is still graded and shown), or a usage error.
Class mode (a folder): 0 every file right; 1 some answer wrong; 3 some file
needs the teacher's attention: invalid, with answers that could not be read
(scored 0, listed), or flagged for class integrity (two files with one
student_id, two files with the same content, or, with --id-pattern, a file
name that does not give its student_id; listed under "Integrity" and in the
gradebook's flags column, never merged); 2 a usage error.  The format is
described in docs/homework.md.  Nothing in a file is executed; a model given
as file.py:Name is only loaded with --allow-code.
"""

EXIT_WRONG = 1
EXIT_INVALID = 2
EXIT_CLASS_INVALID = 3

VERIFY_EPILOG = """\
examples:
  convcalc verify-op my_conv.py:Conv2D --kind conv2d
  convcalc verify-op my_pool.py:Pool2D --kind pool2d --mode avg --timeout 30
  convcalc verify-op my_conv.py:Conv2D --kind conv2d --no-bias --memory 1G
  convcalc verify-op my_conv.py:Conv2D --kind conv2d --forbid conv,pool

The operator is built like the book's (Conv2D(in_channels, out_channels,
kernel_size, stride, padding), Pool2D(size, mode, stride)), fresh random weights
and bias are copied in, and its output and gradients are compared with Paddle's
on a small grid of configurations.  The student's code runs in a sandbox (new
namespaces: read-only system, private /tmp, no network, no access to your files,
limits on time, memory, processes and output).  A trusted harness alone holds
the channel this process reads: it imports the file in a child that can only
answer its requests, calls the class itself and forwards what it returned; a
file without the class is refused before it runs.  This process decides.  The
verdict says when Paddle's own conv/pool function was called ("uses
paddle.nn.functional.conv2d"); --forbid conv,pool makes those raise.  Exit 0
when every configuration matches, 1 on the first mismatch (with its
configuration, max |diff| and shapes), 2 on a usage error or when the machine
cannot isolate the code (then --no-sandbox runs it unisolated).
"""


def register(subparsers) -> None:
    """Add ``check`` and ``verify-op`` to the ``convcalc`` command."""
    cp = subparsers.add_parser(
        "check",
        help="grade a homework answer file (or a folder of them)",
        description=(
            "Grade homework answers about layer shapes, parameters, FLOPs and receptive "
            "fields: per question and field a tick or a cross, the expected value, and for "
            "every wrong answer the worked derivation (as `convcalc explain` prints it) with "
            "a hint naming the likely mistake.  Given a folder, grade every .toml file in it "
            "and summarise what the class got right."
        ),
        epilog=CHECK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cp.add_argument("path", metavar="ANSWERS", help="an answer file (.toml) or a folder of them")
    cp.add_argument("--json", action="store_true", help="print JSON (for autograders)")
    cp.add_argument(
        "--questions",
        metavar="QUESTIONS.toml",
        help="grade against the teacher's question file (student files need only ids, answers)",
    )
    cp.add_argument("--gradebook", metavar="CSV", help="class mode: write one row per file to this CSV")
    cp.add_argument(
        "--excel",
        action="store_true",
        help="class mode: write the gradebook with a UTF-8 BOM so Excel shows non-ASCII names (王芳)",
    )
    cp.add_argument(
        "--feedback",
        choices=("full", "hints", "verdict"),
        default="full",
        help="what students see: full (expected values, hints, derivations; default), hints (hints, no"
        " expected values or derivations), verdict (right/wrong and points only)",
    )
    cp.add_argument(
        "--gradescope",
        metavar="RESULTS.json",
        help="one file: also write Gradescope's autograder results.json (score, max_score, a test per question)",
    )
    cp.add_argument(
        "--answer-key",
        metavar="KEY.toml",
        help="write the complete correct answer file for the question file ANSWERS",
    )
    cp.add_argument(
        "--allow-code",
        action="store_true",
        help="allow model questions that load a Python file (file.py:Name); off by default",
    )
    cp.add_argument(
        "--id-pattern",
        metavar="REGEX",
        help="class mode: file names must match REGEX in full, and its group 'id' (or first group) is the"
        r" student's id; a file whose student_id differs is flagged (e.g. '(?P<id>\d{7})_.*')",
    )
    cp.add_argument("--no-derivation", action="store_true", help="leave out the worked derivations")
    cp.add_argument(
        "--no-cache",
        action="store_true",
        help="recompute model questions' values (paddle and a trace) instead of reading them from the cache"
        " (~/.cache/convcalc/homework, or $CONVCALC_CACHE_DIR)",
    )
    cp.set_defaults(func=run_check)

    vp = subparsers.add_parser(
        "verify-op",
        help="check a student's Conv2D/Pool2D against Paddle",
        description=(
            "Check a student's convolution or pooling operator against paddle.nn.Conv2D, "
            "MaxPool2D or AvgPool2D over a grid of small configurations (channels, kernel, "
            "stride, padding, batch), copying the weights in.  Reports the first mismatching "
            "configuration, or a pass with the number of configurations tried."
        ),
        epilog=VERIFY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    vp.add_argument("target", metavar="FILE.py:Class", help="the student's file and class")
    vp.add_argument("--kind", required=True, choices=("conv2d", "pool2d"), help="what the operator computes")
    vp.add_argument(
        "--mode",
        choices=("max", "avg"),
        help="pooling mode to check (default: both when the constructor takes `mode`, else max)",
    )
    vp.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds the student's code may run (default 60; paddle's start-up not counted)",
    )
    vp.add_argument(
        "--no-bias",
        action="store_true",
        help="the assignment's Conv2D has no bias: compare with a bias-free paddle.nn.Conv2D"
        " (default: the book's Conv2D, eq. 5.18, must have one)",
    )
    vp.add_argument(
        "--memory",
        default="2G",
        metavar="SIZE",
        help="memory (address space) the student's process may use (default 2G)",
    )
    vp.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run the student's code WITHOUT isolation (only for trusted code, or where the kernel offers none)",
    )
    vp.add_argument(
        "--forbid",
        type=_forbid_groups,
        default=(),
        metavar="conv,pool",
        help="make Paddle's own convolution (conv: conv*d, unfold, fold) and/or pooling (pool) functions raise"
        " inside the sandbox, for assignments whose point is writing the operator; stated in the verdict",
    )
    vp.add_argument("--json", action="store_true", help="print JSON")
    vp.set_defaults(func=run_verify)


def _forbid_groups(text: str) -> tuple[str, ...]:
    groups = tuple(g.strip().lower() for g in text.split(",") if g.strip())
    bad = [g for g in groups if g not in ("conv", "pool")]
    if bad or not groups:
        raise argparse.ArgumentTypeError(f"unknown group {', '.join(bad) or repr(text)}: write conv, pool or conv,pool")
    return groups


def _print_json(data) -> None:
    import json

    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def run_check(args: argparse.Namespace) -> int:
    from convcalc.errors import AnswerFileError, ConvcalcError

    try:
        return _check(args)
    except ConvcalcError as err:
        if not args.json:
            from convcalc.render.escape import visible

            err.args = (visible(str(err)),)  # a key or file name from the student's file: never raw escapes
            raise
        from convcalc.render.homework import invalid_file_json

        code = "invalid_file" if isinstance(err, AnswerFileError) else "usage_error"
        _print_json(invalid_file_json(str(args.path), err, code))
        return err.exit_code


def _check(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from convcalc.errors import ConvcalcError

    if args.no_cache:
        os.environ["CONVCALC_CACHE_DIR"] = "off"

    path = Path(args.path)
    if args.answer_key:
        if args.gradebook or args.questions:
            raise ConvcalcError("--answer-key takes one question file", "drop --gradebook/--questions")
        from convcalc.homework.grading.answer_key import write_answer_key

        hw = write_answer_key(path, args.answer_key, allow_code=args.allow_code)
        fields = sum(len(q.ask) for q in hw.questions)
        print(f"wrote {args.answer_key}: {len(hw.questions)} question(s), {fields} answer field(s)")
        return 0
    if args.excel and not args.gradebook:
        raise ConvcalcError("--excel shapes the gradebook", "add --gradebook grades.csv")
    if args.id_pattern and not path.is_dir():
        raise ConvcalcError("--id-pattern checks the file names of a class", "give the submissions folder")

    questions = None
    if args.questions:
        from convcalc.homework.answers.schema import load_file

        questions = load_file(args.questions)

    if path.is_dir():
        if args.gradescope:
            raise ConvcalcError("--gradescope writes one student's results.json", "run it on the student's answer file")
        from convcalc.homework.grading.gradebook import grade_folder
        from convcalc.render.homework import class_json, class_summary_text

        exclude = (Path(args.questions),) if args.questions else ()
        summary = grade_folder(
            path,
            questions=questions,
            allow_code=args.allow_code,
            gradebook=args.gradebook,
            exclude=exclude,
            excel=args.excel,
            id_pattern=args.id_pattern,
        )
        if args.json:
            _print_json(class_json(summary, args.feedback))
        else:
            print(class_summary_text(summary), end="")
        if summary.has_invalid or summary.flagged:
            return EXIT_CLASS_INVALID
        return 0 if summary.all_correct else EXIT_WRONG

    if args.gradebook:
        raise ConvcalcError(
            f"--gradebook needs a folder of answer files, got the file {path}",
            "give the submissions folder",
        )
    from convcalc.homework.grading.grade import grade_file
    from convcalc.render.homework import grade_json, grade_text

    try:
        result = grade_file(str(path), questions=questions, allow_code=args.allow_code)
    except ConvcalcError as err:
        if args.gradescope:
            total = sum(q.points for q in questions.questions) if questions is not None else None
            _write_gradescope(args.gradescope, None, args.feedback, err, total)
        raise
    if args.gradescope:
        _write_gradescope(args.gradescope, result, args.feedback)
    if args.json:
        _print_json(grade_json(result, args.feedback))
    else:
        print(grade_text(result, show_derivation=not args.no_derivation, feedback=args.feedback), end="")
    if result.has_invalid:
        return EXIT_INVALID
    return 0 if result.all_correct else EXIT_WRONG


def _write_gradescope(path: str, result, feedback: str, error=None, max_score=None) -> None:
    import json

    from convcalc.files import write_atomic
    from convcalc.render.homework import gradescope_json

    data = gradescope_json(result, feedback, error, max_score)
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def run_verify(args: argparse.Namespace) -> int:
    from convcalc.homework.operators.sandbox import parse_size
    from convcalc.homework.operators.verify_op import verify_op
    from convcalc.render.homework import verify_json, verify_text

    result = verify_op(
        args.target,
        args.kind,
        args.mode,
        args.timeout,
        bias=not args.no_bias,
        memory=parse_size(args.memory),
        isolate=not args.no_sandbox,
        forbid=args.forbid,
    )
    if args.json:
        _print_json(verify_json(result))
    else:
        print(verify_text(result), end="")
    return 0 if result.passed else 1

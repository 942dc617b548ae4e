"""Rendering of the custom-model corpus check (``convcalc validate``'s second table): Markdown, JSON, rich."""

from __future__ import annotations

from typing import Any

from convcalc.checks.corpus.check import CaseOutcome, CorpusRun


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def corpus_markdown(run: CorpusRun | None) -> list[str]:
    """The corpus section of ``docs/validation.md``: kinds x right/wrong, then every case with its reason."""
    if run is None:
        return []
    lines = [
        "",
        "## Custom-model corpus",
        "",
        f"{len(run.outcomes)} small custom models written the way users write them (`convcalc/checks/corpus/`, one "
        "module per kind), each checked against a truth computed from Paddle alone "
        "(`convcalc/checks/corpus/truth.py`), never read from convcalc: the shapes of every output of every leaf "
        "layer call from Paddle's eager forward with hooks; the parameters from `model.parameters()` by "
        "identity (total, trainable, per owning layer, the layers that never ran); Paddle's own refusal "
        "message where its eager forward refuses the input (convcalc must refuse with that reason); and "
        "the counts worked out by hand where a case gives them.  The cases run in a few fresh spawned worker "
        "processes (a case Paddle refuses last in its worker; a crashed worker's cases again one per worker); "
        f"the whole corpus took {run.seconds:.0f} s.  `tests/test_corpus.py` runs the same check in CI.",
        "",
        "| Kind | Cases | Right | Wrong |",
        "|---|---:|---:|---:|",
    ]
    for kind, outcomes in run.kinds().items():
        wrong = sum(not o.ok for o in outcomes)
        lines.append(f"| {kind} | {len(outcomes)} | {len(outcomes) - wrong} | {f'**{wrong}**' if wrong else 0} |")
    lines += ["", "| Case | Kind | Input | Result | What it tests, or what was wrong |", "|---|---|---|---|---|"]
    for o in run.outcomes:
        result = "right" if o.ok else "**wrong**"
        why = "; ".join(o.mismatches) if o.mismatches else o.note
        if o.refused and o.ok:
            why = f"Paddle refuses: {o.refused}" + (f" ({o.note})" if o.note else "")
        lines.append(f"| {o.name} | {o.kind} | {o.inputs} | {result} | {_md(why)} |")
    return lines


def corpus_dict(run: CorpusRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "seconds": run.seconds,
        "wrong": run.wrong,
        "cases": [
            {"name": o.name, "kind": o.kind, "inputs": o.inputs, "ok": o.ok, "refused": o.refused,
             "mismatches": list(o.mismatches), "note": o.note, "seconds": o.seconds}
            for o in run.outcomes
        ],
    }


def corpus_from_dict(data: dict[str, Any] | None) -> CorpusRun | None:
    if data is None:
        return None
    return CorpusRun(tuple(CaseOutcome(c["name"], c["kind"], tuple(c["mismatches"]), c["inputs"], c["refused"],
                                       c["seconds"], c["note"]) for c in data["cases"]), data["seconds"])


def corpus_renderable(run: CorpusRun) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"custom-model corpus: convcalc vs Paddle's own truth ({run.seconds:.0f} s)",
                  header_style="bold")
    for col in ("", "Case", "Kind", "Input", "What was wrong"):
        table.add_column(col)
    for o in run.outcomes:
        mark = Text("✓", style="green") if o.ok else Text("✗", style="bold red")
        table.add_row(mark, o.name, o.kind, o.inputs, "; ".join(o.mismatches))
    return table

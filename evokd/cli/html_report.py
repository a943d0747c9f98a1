"""``evokd report RUN_DIR``: one self-contained ``report.html`` for a run, viewable without internet.

Plots are matplotlib PNGs embedded as base64; the style sheet and the few lines of script that
filter the sample table are inline. Every text that came from the teacher or the data is
HTML-escaped. The content comes from `evokd.inspection.load_run` (checkpoints plus run files).
"""

from __future__ import annotations

import base64
import io
import json
from collections import Counter
from html import escape
from pathlib import Path
from types import ModuleType

from evokd.agents import shot_check
from evokd.cli.inspection import (
    RunView,
    agreement_text,
    lineage,
    load_run,
    per_accepted_text,
    per_label,
    rejected_text,
)
from evokd.task import Task
from evokd.teacher.local import teacher_name

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1f2328;margin:0;background:#f6f8fa}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:0 0 10px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
section,header{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 20px;margin-bottom:16px}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px;margin-top:12px}
.fact{background:#f6f8fa;border-radius:6px;padding:8px 10px}.fact b{display:block;font-size:18px}
.muted{color:#656d76}figure{margin:8px 0}figure img{max-width:100%;height:auto}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #e6e9ed;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;position:sticky;top:0}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:nth-child(even){background:#fafbfc}#samples td:first-child{white-space:nowrap}
.badge{border-radius:10px;padding:1px 8px;font-size:12px;white-space:nowrap}
.accepted{background:#dafbe1;color:#116329}.rejected{background:#ffebe9;color:#a40e26}.pending{background:#fff8c5;color:#7d4e00}
.controls{display:flex;gap:10px;align-items:center;margin-bottom:8px}.controls input{flex:1;padding:6px 10px;font-size:14px}
.scroll{max-height:720px;overflow:auto;border:1px solid #e6e9ed}
pre{white-space:pre-wrap;background:#f6f8fa;padding:10px;border-radius:6px;font-size:12px}
ul.weak{margin:4px 0 0 18px;padding:0}
"""

# Filters the sample table by free text and verdict; a "#q=...&verdict=..." URL presets the filters.
SCRIPT = """
const q = document.getElementById('q'), verdict = document.getElementById('verdict'), count = document.getElementById('count');
const rows = Array.from(document.querySelectorAll('#samples tbody tr'));
function apply() {
  const text = q.value.trim().toLowerCase(), want = verdict.value;
  let shown = 0;
  for (const row of rows) {
    const ok = (!text || row.textContent.toLowerCase().includes(text)) && (!want || row.dataset.verdict === want);
    row.hidden = !ok;
    shown += ok;
  }
  count.textContent = shown + ' of ' + rows.length + ' samples';
}
q.addEventListener('input', apply);
verdict.addEventListener('change', apply);
const preset = new URLSearchParams(location.hash.slice(1));
q.value = preset.get('q') || '';
verdict.value = preset.get('verdict') || '';
apply();
window.addEventListener('load', () => {
  for (const img of document.querySelectorAll('figure img')) img.closest('figure').dataset.rendered = img.naturalWidth > 0;
});
"""


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the report for a run folder (default ``RUN_DIR/report.html``) and return its path."""
    view = load_run(run_dir)
    path = Path(out) if out else Path(run_dir) / "report.html"
    path.write_text(render(view), encoding="utf-8")
    return path


def render(view: RunView) -> str:
    """The whole page."""
    task = Task.from_dict(view.task)
    title = f"EvoKD run {Path(view.run_dir).name}"
    body = [
        header(view, task),
        curves(view),
        samples_per_round(view),
        hard_easy(view),
        labels(view, task),
        analyses(view),
        sample_table(view),
        prompts_and_settings(view),
    ]
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head>'
        f"<body><main>{''.join(body)}</main><script>{SCRIPT}</script></body></html>"
    )


# ----- plots -----


def figure(fig: object, alt: str) -> str:
    """A matplotlib figure as an embedded PNG."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<figure><img alt="{escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def _plt() -> ModuleType:
    """pyplot on the file-only backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def curves(view: RunView) -> str:
    """The student's dev/test score per round and per teacher token."""
    if not view.rounds:
        return ""
    plt = _plt()
    rounds = [r["round"] for r in view.rounds]
    tokens = [r.get("teacher_tokens", 0) for r in view.rounds]
    fig, (by_round, by_tokens) = plt.subplots(1, 2, figsize=(11, 3.6))
    for split, style in (("dev", "o-"), ("test", "s--")):
        scores = [r[split]["score"] for r in view.rounds]
        by_round.plot(rounds, scores, style, label=split)
        by_tokens.plot(tokens, scores, style, label=split)
    best = (view.summary or {}).get("best_round")
    if best is not None:
        by_round.axvline(best, color="#999", lw=1, ls=":", label=f"best (round {best})")
    by_round.set(xlabel="round", ylabel=view.metric, title="learning curve per round", xticks=rounds)
    by_tokens.set(xlabel="teacher tokens (cumulative)", ylabel=view.metric, title="learning curve per teacher token")
    scores = [r[split]["score"] for r in view.rounds for split in ("dev", "test")]
    low, high = min(scores), max(scores)
    pad = max(0.05, (high - low) * 0.1)  # a flat curve should look flat, not like noise blown up
    for ax in (by_round, by_tokens):
        ax.set_ylim(max(0.0, low - pad), min(1.0, high + pad) + 0.01)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    return _section("Learning curve", figure(fig, "learning curve per round and per teacher token"))


def samples_per_round(view: RunView) -> str:
    """Accepted and rejected samples per round, rejections by reason (plot and table)."""
    records = [r for r in view.rounds if r["round"] > 0]
    if not records:
        return ""
    plt = _plt()
    reasons = sorted({k for r in records for k in r.get("rejected", {})})
    rounds = [r["round"] for r in records]
    fig, ax = plt.subplots(figsize=(11, 3.4))
    bottom = [0] * len(records)
    layers: list[tuple[str, list[int], str | None]] = [("accepted", [r.get("accepted", 0) for r in records], "#2da44e")]
    layers += [(f"rejected: {k}", [r.get("rejected", {}).get(k, 0) for r in records], None) for k in reasons]
    for name, values, color in layers:
        ax.bar(rounds, values, bottom=bottom, label=name, color=color, width=0.6)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set(xlabel="round", ylabel="samples", title="accepted and rejected samples per round", xticks=rounds)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    rows = "".join(
        f'<tr><td class="num">{r["round"]}</td><td class="num">{r.get("accepted", 0)}</td>'
        f'<td class="num">{r.get("pool_accepted", 0)}</td><td>{escape(rejected_text(r))}</td>'
        f'<td class="num">{agreement_text(r)}</td>'
        f'<td class="num">{escape(per_accepted_text(r))}</td></tr>'
        for r in records
    )
    table = (
        '<table><thead><tr><th class="num">round</th><th class="num">accepted</th><th class="num">from the pool'
        '</th><th>rejected (by reason)</th><th class="num">student agreed with the teacher before training'
        '</th><th class="num">teacher tokens per accepted sample (pool · generated)'
        f"</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return _section("Samples per round", figure(fig, "accepted and rejected samples per round") + table)


def hard_easy(view: RunView) -> str:
    """Hard vs easy samples: how many were accepted, and how often they fooled the student before training."""
    accepted = [s for s in view.samples if s.get("verdict") == "accepted" and "fooled" in s]  # the Student node's mark
    if not accepted:
        return ""
    plt = _plt()
    rounds = sorted({s["round"] for s in accepted})
    fig, (counts, errors) = plt.subplots(1, 2, figsize=(11, 3.4))
    rows = []
    for offset, stance, color in ((-0.2, "hard", "#cf222e"), (0.2, "easy", "#0969da")):
        per_round = [[s for s in accepted if s["round"] == r and s.get("stance") == stance] for r in rounds]
        counts.bar([r + offset for r in rounds], [len(p) for p in per_round], width=0.4, label=stance, color=color)
        rates = [sum(s["fooled"] for s in p) / len(p) if p else float("nan") for p in per_round]
        errors.plot(rounds, rates, "o-", label=stance, color=color)
        total = [s for p in per_round for s in p]
        rows.append(
            f'<tr><td>{stance}</td><td class="num">{len(total)}</td>'
            f'<td class="num">{sum(s["fooled"] for s in total)}</td>'
            f'<td class="num">{sum(s["fooled"] for s in total) / len(total) if total else 0:.0%}</td></tr>'
        )
    counts.set(xlabel="round", ylabel="accepted samples", title="accepted hard vs easy samples", xticks=rounds)
    errors.set(
        xlabel="round",
        ylabel="share the student got wrong",
        title="student errors before training on them",
        xticks=rounds,
        ylim=(-0.05, 1.3),
    )
    counts.set_ylim(0, counts.get_ylim()[1] * 1.3)  # room for the legend above the bars
    for ax in (counts, errors):
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", ncol=2)
    table = (
        '<table><thead><tr><th>stance</th><th class="num">accepted</th><th class="num">student wrong</th>'
        f'<th class="num">share</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )
    return _section("Hard vs easy", figure(fig, "hard vs easy samples") + table)


def labels(view: RunView, task: Task) -> str:
    """Dev F1 per label (per entity type for NER) over the rounds, and the kept round's scores."""
    if not view.rounds:
        return ""
    plt = _plt()
    what = view.adapter.label_noun
    rounds = [r["round"] for r in view.rounds]
    fig, ax = plt.subplots(figsize=(11, 3.4))
    for label in task.labels:
        ax.plot(rounds, [per_label(r).get(label, {}).get("f1", 0.0) for r in view.rounds], "o-", label=label)
    ax.set(xlabel="round", ylabel="dev F1", title=f"dev F1 per {what}", xticks=rounds, ylim=(-0.05, 1.05))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9)
    best = (view.summary or {}).get("best_round", view.rounds[-1]["round"])
    record = next((r for r in view.rounds if r["round"] == best), view.rounds[-1])
    rows = "".join(
        f"<tr><td>{escape(label)}</td>"
        + "".join(f'<td class="num">{s.get(k, 0):.3f}</td>' for k in ("precision", "recall", "f1"))
        + f'<td class="num">{s.get("support", 0)}</td></tr>'
        for label in task.labels
        for s in [per_label(record).get(label, {})]
    )
    table = (
        f'<p class="muted">Round {record["round"]} (dev):</p><table><thead><tr><th>{what}</th><th class="num">precision</th>'
        f'<th class="num">recall</th><th class="num">F1</th><th class="num">support</th></tr></thead><tbody>{rows}</tbody></table>'
    )
    return _section(f"Scores per {what}", figure(fig, f"dev F1 per {what}") + table)


# ----- text sections -----


def _section(title: str, content: str, anchor: str = "") -> str:
    """A titled block of the page."""
    ident = f' id="{anchor}"' if anchor else ""
    return f"<section{ident}><h2>{escape(title)}</h2>{content}</section>"


def header(view: RunView, task: Task) -> str:
    """Title, status and the headline numbers."""
    s, settings = view.summary or {}, view.settings
    facts = [("task", f"{task.kind} · {len(task.labels)} labels"), ("status", view.status().split(";")[0])]
    if s:
        facts += [
            (f"kept round's dev {view.metric}", f"{s['dev']['score']:.4f} (round {s['best_round']})"),
            (f"test {view.metric}", f"{s['test']['score']:.4f}"),
            ("seed-only test", f"{s['seed_only']['test']['score']:.4f}"),
            ("teacher tokens", f"{s['teacher_tokens']:,}"),
            ("samples accepted / rejected", f"{s['accepted']} / {s['rejected']}"),
            ("tokens per accepted sample (pool · generated)", per_accepted_text(s)),
            ("time", f"{s.get('seconds', 0):.0f} s"),
        ]
    elif view.rounds:
        last = view.rounds[-1]
        facts += [
            (f"dev {view.metric} (round {last['round']})", f"{last['dev']['score']:.4f}"),
            ("teacher tokens", f"{last.get('teacher_tokens', 0):,}"),
        ]
    if check := (view.summary or {}).get("shot_check"):
        facts.append(("teacher on your shots", shot_check.summary(check)))
    # folders show their last part; the full path is in the tooltip
    facts += [
        ("data", Path(str(settings.get("data", "?"))).name),
        ("teacher", teacher_name(str(settings.get("teacher_id", "")), str(settings.get("teacher_model", ""))) or "?"),
        ("student", Path(str(settings.get("student") or "bundled MiniLM")).name),
        ("shots", str(settings.get("shots", "?"))),
    ]
    full = {"data": settings.get("data", ""), "student": settings.get("student", "")}
    cards = "".join(
        f'<div class="fact" title="{escape(str(full.get(k, v)))}"><span class="muted">{escape(k)}</span><b>{escape(v)}</b></div>'
        for k, v in facts
    )
    return (
        f"<header><h1>EvoKD run <code>{escape(Path(view.run_dir).name)}</code></h1>"
        f'<div class="muted">labels: {escape(", ".join(task.labels))} · {view.checkpoints} checkpoints · '
        f'{escape(view.run_dir)}</div><div class="facts">{cards}</div></header>'
    )


def analyses(view: RunView) -> str:
    """Each round's analysis, as the Generator received it (after any human edit)."""
    if not view.analyses:
        return ""
    items = []
    for rnd, a in sorted(view.analyses.items()):
        note = f" · {a['review']} by a reviewer" if a.get("review") else ""
        weak = "".join(
            f"<li><b>{escape(str(w['label']))}</b>: {escape(str(w['pattern']))}</li>" for w in a.get("weaknesses", [])
        )
        items.append(
            f'<h3>Round {rnd} <span class="muted">({escape(str(a.get("status", "ok")) + note)})</span></h3>'
            f'<p>{escape(str(a.get("summary", "")))}</p><ul class="weak">{weak}</ul>'
        )
    return _section("Analyses", "".join(items))


def sample_table(view: RunView) -> str:
    """Every sample (generated or from the pool) with its lineage, filterable by text and verdict."""
    cols = (
        "id",
        "round",
        "source",
        "stance",
        "weakness targeted",
        "requested",
        "label",
        "verdict",
        "student said (before)",
        "tokens",
        "text",
    )
    rows = []
    for s in view.samples:
        verdict = str(s.get("verdict", ""))
        shown = verdict + (f" ({s['reason']})" if s.get("reason") else "")
        before = view.adapter.show_prediction(s) + (" ✗" if s.get("fooled") else "")
        cells = [
            s["id"],
            s["round"],
            lineage(s),
            s.get("stance", ""),
            s.get("weakness", ""),
            s.get("requested", ""),
            view.adapter.show_label(s),
        ]
        rows.append(
            f'<tr data-verdict="{escape(verdict)}">'
            + "".join(f"<td>{escape(str(c))}</td>" for c in cells)
            + f'<td><span class="badge {escape(verdict)}">{escape(shown)}</span></td><td>{escape(before)}</td>'
            f'<td class="num">{s.get("teacher_tokens", 0)}</td><td>{escape(str(s.get("text", "")))}</td></tr>'
        )
    counts = Counter(str(s.get("verdict", "")) for s in view.samples)
    options = "".join(f'<option value="{escape(v)}">{escape(v)} ({n})</option>' for v, n in sorted(counts.items()))
    head = "".join(f"<th{' class=num' if c in ('round', 'tokens') else ''}>{escape(c)}</th>" for c in cols)
    controls = (
        f'<div class="controls"><input id="q" type="search" placeholder="search samples (text, label, weakness, id ...)">'
        f'<select id="verdict"><option value="">all verdicts</option>{options}</select>'
        f'<span id="count" class="muted">{len(view.samples)} samples</span></div>'
    )
    table = f'<div class="scroll"><table id="samples"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    return _section("Samples", controls + table, anchor="sample-table")


def prompts_and_settings(view: RunView) -> str:
    """The prompt texts and settings the run used, folded."""
    prompts = "".join(
        f"<details><summary>{escape(agent)} prompt</summary><pre>{escape(text)}</pre></details>"
        for agent, text in view.prompts.items()
    )
    settings = {k: v for k, v in view.settings.items() if not k.endswith("_prompt")}
    return _section(
        "Prompts and settings",
        prompts + f"<details><summary>settings (run.json)</summary>"
        f"<pre>{escape(json.dumps(settings, indent=2, ensure_ascii=False))}</pre></details>",
    )

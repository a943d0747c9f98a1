"""`evokd report RUN_DIR`: one self-contained report.html, opened in headless Chromium (Debian `chromium`)."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np

from evokd.cli import main
from evokd.records import read_jsonl
from tests.support.fake_openai import FakeOpenAI, SentimentTeacher, schema_name
from tests.support.runs import run_args


class MarkupTeacher(SentimentTeacher):
    """The scripted teacher, but generated texts carry HTML, which the report must show as text."""

    def __call__(self, body: dict) -> str:
        reply = super().__call__(body)
        return reply.replace("film", "<i>film</i>", 1) if schema_name(body) == "GeneratedText" else reply


def chromium(tmp_path: Path, *args: str) -> str:
    """Run headless Chromium offline on the given arguments; return what it printed."""
    exe = shutil.which("chromium")
    assert exe, "the report test needs Debian's chromium (apt-get install -y chromium)"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ]
    done = subprocess.run([exe, *flags, *args], capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def test_report_renders_offline(sentiment_dir, tiny_student, tmp_path):
    out = tmp_path / "run"
    with FakeOpenAI(MarkupTeacher()) as server:
        assert main(run_args(sentiment_dir, tiny_student, server, out)) == 0
    assert main(["report", str(out)]) == 0
    page = out / "report.html"
    html = page.read_text(encoding="utf-8")

    # Self-contained: nothing is fetched from anywhere; every plot is an embedded PNG that decodes.
    assert not re.search(r'\s(?:src|href)="(?!data:|#)', html) and "url(" not in html and "@import" not in html
    plots = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(plots) == 4  # learning curve, samples per round, hard vs easy, per label
    assert all(mpimg.imread(io.BytesIO(base64.b64decode(p))).shape[1] > 600 for p in plots)

    # After the page's script ran: images decoded, the #q= preset filtered the table, generated markup stays text.
    samples = read_jsonl(out / "samples.jsonl")
    matching = [s for s in samples if "w1" in " ".join(str(v) for v in s.values())]
    dom = chromium(tmp_path, "--dump-dom", page.as_uri() + "#q=w1")
    assert dom.count('data-rendered="true"') == 4
    assert f"{len(matching)} of {len(samples)} samples" in dom and 0 < len(matching) < len(samples)
    assert dom.count('<tr data-verdict="accepted" hidden') + dom.count('<tr data-verdict="rejected" hidden') == len(
        samples
    ) - len(matching)
    assert "&lt;i&gt;film&lt;/i&gt;" in dom and "<i>film" not in dom
    for section in (
        "Learning curve",
        "Samples per round",
        "Hard vs easy",
        "Scores per label",
        "Analyses",
        "It misses mild wording.",
    ):
        assert section in dom, section

    # A screenshot is not blank: the plots put many distinct colours on the page.
    shot = tmp_path / "report.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1600", page.as_uri())
    rgb = (mpimg.imread(shot)[..., :3] * 255).astype(np.uint32).reshape(-1, 3)
    colours = np.unique(rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2])
    assert len(colours) > 200 and (rgb.min(axis=1) < 200).mean() > 0.02

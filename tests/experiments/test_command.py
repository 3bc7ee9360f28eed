"""`trainwell experiment`: --list, one experiment into a folder, `all` into one HTML page whose every
image exists, bad names and options as user errors (exit 2)."""
import html.parser
import json
from pathlib import Path

from trainwell.cli import main
from trainwell.experiments.registry import CLAIMS
from trainwell.report.lectures_page import write_lectures_page


class _Images(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.ids = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        if "id" in attrs:
            self.ids.append(attrs["id"])


def _parse(path: Path) -> _Images:
    parser = _Images()
    parser.feed(path.read_text())
    return parser


def test_list_shows_every_claim_with_its_source(capsys):
    assert main(["experiment", "--list"]) == 0
    out = capsys.readouterr().out
    assert len(CLAIMS) >= 30
    for name in CLAIMS:
        assert name in out
    assert "Krizhevsky" in out and "Goyal" in out


def test_unknown_name_is_a_user_error_with_a_suggestion(capsys):
    assert main(["experiment", "relu-vs-tahn", "--smoke"]) == 2
    assert "relu-vs-tanh" in capsys.readouterr().err


def test_only_needs_all(capsys):
    assert main(["experiment", "gradcheck", "--only", "gradcheck"]) == 2


def test_one_experiment_writes_json_and_plot(tmp_path, capsys):
    out = tmp_path / "gc"
    assert main(["experiment", "gradcheck", "--smoke", "--quiet", "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["name"] == "gradcheck" and result["source"] and result["rows"]
    assert (out / "plot.png").read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    assert "claim" in printed and "source" in printed and ("HOLDS" in printed or "DOES NOT HOLD" in printed)


def test_all_writes_one_page_with_every_image(tmp_path):
    names = ["gradcheck", "initial-loss", "loss-surface"]
    assert main(["experiment", "all", "--smoke", "--quiet", "--only", ",".join(names), "--out", str(tmp_path)]) == 0
    page = tmp_path / "index.html"
    text = page.read_text()
    assert "The lectures, reproduced" in text
    parsed = _parse(page)
    assert sorted(parsed.images) == sorted(f"{n}/plot.png" for n in names)
    for src in parsed.images:
        assert (tmp_path / src).read_bytes()[:4] == b"\x89PNG", src
    for name in names:
        assert name in parsed.ids
        assert (tmp_path / name / "result.json").exists()


def test_page_shows_an_experiment_that_failed_to_run(tmp_path):
    ok = {"name": "a", "claim": "c", "source": "s", "columns": ["x"], "rows": [[1]], "verdict": "v", "passed": True,
          "tolerance": "t", "plot": "a/plot.png", "seconds": 1.0, "budget": "smoke"}
    broken = {"name": "b", "claim": "c2", "source": "s2", "passed": None, "error": "RuntimeError: boom <tag>"}
    page = write_lectures_page([ok, broken], tmp_path, "smoke")
    text = page.read_text()
    assert "ERROR" in text and "boom &lt;tag&gt;" in text, "errors are shown, escaped"
    assert _parse(page).images == ["a/plot.png"]
    assert "1 hold" in text and "1 failed to run" in text

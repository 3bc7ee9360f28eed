"""report.html opened in headless Chromium (DevTools protocol): every image loads, the console is clean.

Needs Debian's `chromium` package; the `chromium` fixture installs it with apt-get where it may
(see conftest.py), and skips with the reason where it cannot.
"""
from __future__ import annotations

import re

import pytest

# the first test may install Chromium with apt-get (about a minute here): more than the suite's 300 s on a slow mirror
pytestmark = pytest.mark.timeout(900)


def test_every_image_of_the_report_loads_and_the_console_has_no_error(classification_run, load_page):
    page = load_page(classification_run / "report.html")
    names = re.findall(r'<img src="([^"]+)"', (classification_run / "report.html").read_text())
    assert len(names) == 9
    assert [image["src"] for image in page.images] == names
    broken = [image for image in page.images if not image["complete"] or image["naturalWidth"] <= 0]
    assert broken == []
    assert page.errors == []


def test_the_check_sees_a_broken_image_and_a_console_error(tmp_path, load_page):
    """The control: the same check fails on a page with a missing image and a script error."""
    (tmp_path / "broken.html").write_text('<!doctype html><img src="missing.png"><img src="ok.svg">'
                                          '<script>console.error("boom"); undefinedCall();</script>')
    (tmp_path / "ok.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="3"></svg>')
    page = load_page(tmp_path / "broken.html")
    widths = {image["src"]: image["naturalWidth"] for image in page.images}
    assert widths == {"missing.png": 0, "ok.svg": 4}
    text = "\n".join(page.errors)
    assert "console: boom" in text and "undefinedCall" in text and "missing.png" in text

"""The report in a real browser: headless Chromium (Debian's package) driven by Playwright.

CI installs Chromium (see .ci/run); without it this test fails with instructions, it
is never skipped.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lossbridge

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE = "<script>alert(1)</script>"


def chromium_path() -> str:
    for candidate in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(candidate)
        if found:
            return found
    pytest.fail("no Chromium found: install Debian's chromium package (apt-get install chromium); "
                ".ci/run does this in CI")


def inspect(path: Path, screenshot: Path | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors, dialogs, requests = [], [], []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.resolve().as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.naturalWidth, e.naturalHeight, e.clientWidth, e.clientHeight])")
        verdict = page.locator("#verdict")
        box = verdict.bounding_box()
        result = {
            "errors": errors,
            "dialogs": dialogs,
            "requests": [u for u in requests if not u.startswith(("file:", "data:"))],
            "images": images,
            "verdict_visible": verdict.is_visible(),
            "verdict_box": box,
            "verdict_text": verdict.inner_text(),
            "body_text": page.inner_text("body"),
        }
        if screenshot is not None:
            page.screenshot(path=str(screenshot))
        browser.close()
    return result


def test_engel_report_in_chromium(sampled_engel, tmp_path):
    report = sampled_engel.to_html(tmp_path / "engel.html")
    screenshot = tmp_path / "engel.png"  # kept as the test's artefact
    seen = inspect(report, screenshot)
    assert seen["errors"] == [] and seen["dialogs"] == [] and seen["requests"] == []
    assert len(seen["images"]) == 9  # 7 figures + residual-vs-fitted and QQ
    assert all(w > 0 and h > 0 and cw > 0 and ch > 0 for w, h, cw, ch in seen["images"])
    # The verdict is readable without scrolling (inside the first 900 px).
    assert seen["verdict_visible"] and seen["verdict_box"]["y"] + seen["verdict_box"]["height"] <= 900
    # The headline is the verdict computed once (Engel: every ranked model misfits).
    assert " ".join(sampled_engel.verdict.headline.split()) in " ".join(seen["verdict_text"].split())
    assert "Neither likelihood describes these data well" in seen["verdict_text"]
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot: {screenshot} ({screenshot.stat().st_size} bytes); report "
          f"{report.stat().st_size} bytes")


def test_hostile_names_run_nothing_in_chromium(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=30)
    frame = pd.DataFrame({HOSTILE: x, "y": 2 * x + rng.normal(size=30)})
    analysis = lossbridge.fit(frame, f"y ~ `{HOSTILE}`", draws=100, tune=100, chains=2, seed=2,
                              progress=False)
    seen = inspect(analysis.to_html(tmp_path / "hostile.html"))
    assert seen["dialogs"] == [] and seen["errors"] == [] and seen["requests"] == []
    assert HOSTILE in seen["body_text"]  # shown as text
    assert all(w > 0 and h > 0 for w, h, _, _ in seen["images"])

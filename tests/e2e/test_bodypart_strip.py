"""The detail view's body-part strip: ``ai.bodypart_slices`` (written by the
``annotate-bodypart`` workflow) as a colour strip beside the slice slider, a marker at the
current slice and the current slice's region named next to its number.

Against ``radcurate serve`` on the phantom archive (tests/e2e/conftest.py); the workflow
runs through ``POST /api/workflows/annotate-bodypart/runs``. Screenshot:
tests/e2e/artifacts/bodypart-strip.png.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from radcurate.analyze.bodypart import slice_labels
from tests.e2e.conftest import UI

pytestmark = pytest.mark.slow

WORKFLOW = "annotate-bodypart"


def api(ui: UI, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, ui.base + path, timeout=60, **kwargs)
    assert response.status_code < 400, response.text
    return response.json()


def annotated_ct(ui: UI) -> tuple[str, str]:
    """Runs the workflow on every CT (once per server); the CT whose runs name the most
    regions, and its ``ai.bodypart_slices``."""
    names = [w["name"] for w in api(ui, "GET", "/api/workflows")]
    assert WORKFLOW in names  # a built-in annotator
    cts = api(ui, "GET", "/api/search", params={"q": "Modality:CT", "limit": 50})["items"]
    found: dict[str, str] = {}
    for item in cts:
        ai = api(ui, "GET", f"/api/series/{item['series_uid']}/results")["results"].get("ai", {})
        if isinstance(ai.get("bodypart_slices"), str):
            found[item["series_uid"]] = ai["bodypart_slices"]
    if not found:
        body = {"selection": {"query": "Modality:CT"}, "force": True}
        job = api(ui, "POST", f"/api/workflows/{WORKFLOW}/runs", json=body)
        deadline = time.monotonic() + 300
        while (record := api(ui, "GET", f"/api/jobs/{job['id']}"))["state"] not in (
            "done",
            "failed",
            "cancelled",
        ):
            assert time.monotonic() < deadline, record
            time.sleep(0.5)
        assert record["state"] == "done", record
        for item in cts:
            results = api(ui, "GET", f"/api/series/{item['series_uid']}/results")
            runs = results["results"].get("ai", {}).get("bodypart_slices")
            if isinstance(runs, str):
                found[item["series_uid"]] = runs
    assert found, "annotate-bodypart wrote ai.bodypart_slices on no CT"
    uid = max(found, key=lambda u: (len(set(slice_labels(found[u]))), len(found[u].split())))
    return uid, found[uid]


def test_the_bodypart_strip_follows_the_slices(ui: UI) -> None:
    uid, runs = annotated_ct(ui)
    labels = slice_labels(runs)
    segments = [run.rpartition("*")[0] for run in runs.split()]
    ui.open(f"/?series={uid}")
    detail = ui.page.locator("[data-testid=detail]")
    strip = detail.locator("[data-testid=bodypart-strip]")
    strip.wait_for()
    # as many slices as labels, one segment a run, one colour a region
    assert detail.locator("[data-testid=slice-label]").inner_text().endswith(f"/ {len(labels)}")
    parts = strip.locator("[data-testid=bodypart-segment]")
    assert parts.evaluate_all("ps => ps.map(p => p.dataset.region)") == segments
    counts = parts.evaluate_all("ps => ps.map(p => Number(p.dataset.count))")
    assert sum(counts) == len(labels)
    colours = parts.evaluate_all("ps => ps.map(p => getComputedStyle(p).backgroundColor)")
    by_region: dict[str, set[str]] = {}
    for region, colour in zip(segments, colours, strict=True):
        by_region.setdefault(region, set()).add(colour)
    assert all(len(c) == 1 for c in by_region.values()), by_region
    painted = {r: next(iter(c)) for r, c in by_region.items() if r != "none"}
    assert len(set(painted.values())) == len(painted), painted
    # the legend names each region once
    legend = detail.locator("[data-testid=bodypart-legend] li").all_inner_texts()
    assert [t.strip() for t in legend] == list(dict.fromkeys(segments))

    def shown() -> tuple[int, str]:
        number = int(detail.locator("[data-testid=slice-label]").inner_text().split("/")[0])
        return number - 1, detail.locator("[data-testid=bodypart-current]").inner_text().strip()

    index, region = shown()
    assert region == labels[index]
    # the marker sits over the current slice
    box = strip.bounding_box()
    marker = detail.locator("[data-testid=bodypart-marker]").bounding_box()
    assert box and marker
    centre = (marker["x"] + marker["width"] / 2 - box["x"]) / box["width"]
    assert abs(centre - (index + 0.5) / len(labels)) < 0.02
    ui.shot("bodypart-strip")

    # moving the slice changes the region shown: key presses to another region's slice
    target = next(
        (i for i in range(len(labels)) if labels[i] != region and labels[i] != "none"),
        None,
    )
    if target is None:
        target = next(i for i in range(len(labels)) if labels[i] != region)
    detail.focus()
    key = "ArrowDown" if target > index else "ArrowUp"
    for _ in range(abs(target - index)):
        ui.page.keyboard.press(key)
    ui.page.wait_for_function(
        "n => document.querySelector('[data-testid=slice-label]').textContent.startsWith(n + ' /')",
        arg=target + 1,
    )
    assert shown() == (target, labels[target])
    # a click on a segment goes to one of its slices
    first = parts.nth(0)
    first.click()
    index, region = shown()
    assert index < counts[0] and region == segments[0]

    # a reformat whose slices are not the labelled ones: no strip
    detail.locator("[data-testid=plane]").select_option("coronal")
    ui.page.wait_for_function("() => !document.querySelector('[data-testid=bodypart-strip]')")
    assert detail.locator("[data-testid=bodypart-current]").count() == 0
    detail.locator("[data-testid=plane]").select_option("native")
    strip.wait_for()

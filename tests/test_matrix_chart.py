"""The potential matrix as notebook 04 and the report draw it (issue 14): dashed thresholds, the groups' names
with their counts in the corners, every client name whole or ellipsised, inside the picture and never over
another name or a corner."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg

from helpers.core import config
from helpers.reporting import report_matrix
from helpers.reporting.plots import matrix as matrix_charts


def _segments(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    keys = np.array(["develop", "expand", "grow_with", "maintain"])
    names = [f"Zimmermann & Schwarz Optik GmbH Nummer {i}" if i % 7 == 0 else f"Kunde {i} KG" for i in range(n)]
    return pd.DataFrame({
        "customer_id": [f"C{i:04d}" for i in range(n)], "name": names,
        "quadrant_key": keys[rng.integers(0, 4, n)], "likely_lost": rng.random(n) < 0.2,
        # the largest clients bunched together: their names compete for the same place
        "upsell_score": np.r_[np.full(12, 98.0) + rng.random(12), rng.uniform(0, 100, n - 12)],
        "growth_score": np.r_[np.full(12, 60.0) + rng.random(12), rng.uniform(0, 100, n - 12)],
        "revenue_12m": np.r_[np.full(12, 1e6), rng.uniform(1e3, 1e5, n - 12)],
    })


def test_the_matrix_has_its_lines_corners_and_names_that_fit():
    settings = config.load_settings()
    segments = _segments()
    view = report_matrix.report_matrix_view(segments, settings, "de", moved={"C0001", "C0100"},
                                            labels=segments["name"], currency="EUR")
    figure = matrix_charts.matrix_chart(view)
    axis = figure.axes[0]
    dashed = [line for line in axis.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 2
    thresholds = report_matrix.thresholds_of(segments, settings)
    assert dashed[0].get_xdata()[0] == thresholds["upsell"] and dashed[1].get_ydata()[0] == thresholds["growth"]
    texts = [t.get_text() for t in axis.texts]
    live = segments[~segments["likely_lost"]]
    for key, name in (("develop", "Entwickeln"), ("maintain", "Betreuen")):
        count = int((live["quadrant_key"] == key).sum())
        assert f"{name}\n{count} Kunden" in texts
    renderer = FigureCanvasAgg(figure).get_renderer()
    frame = axis.get_window_extent(renderer)
    names = [t for t in axis.texts if t.get_text() not in view.corners.values()]
    assert names, "the largest clients are named"
    boxes = [t.get_window_extent(renderer) for t in axis.texts]
    for text in names:
        box = text.get_window_extent(renderer)
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, text.get_text()
        others = [b for b in boxes if b is not boxes[axis.texts.index(text)]]
        assert not any(box.overlaps(other) for other in others), f"{text.get_text()!r} overlaps another text"
        label = text.get_text()
        assert len(label) <= matrix_charts.MAX_LABEL and (label in set(segments["name"]) or label.endswith("…"))
    legend = [t.get_text() for t in axis.get_legend().get_texts()]
    assert any("Quadranten gewechselt" in entry and "(2)" in entry for entry in legend)
    assert "in €" in axis.get_title(loc="left")


def test_hundreds_of_moves_are_not_ringed():
    """CDNOW moved 2,239 customers in a month: their rings hid the picture (review of issue 14)."""
    segments = _segments()
    moved = set(segments["customer_id"].head(matrix_charts.MAX_RINGS + 1))
    view = report_matrix.report_matrix_view(segments, config.load_settings(), "en", moved=moved)
    legend = [t.get_text() for t in matrix_charts.matrix_chart(view).axes[0].get_legend().get_texts()]
    assert not any("changed quadrant" in entry for entry in legend)
    few = report_matrix.report_matrix_view(segments, config.load_settings(), "en", moved=set(list(moved)[:3]))
    legend = [t.get_text() for t in matrix_charts.matrix_chart(few).axes[0].get_legend().get_texts()]
    assert "changed quadrant since last month (3)" in legend

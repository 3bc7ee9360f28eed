"""The report draws experiment panels with sane axes: log scale only for positive finite values,
gaps for missing values, a bar chart from the table when a result has no panels."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from trainwell.experiments import figures  # noqa: E402
from trainwell.report.experiment_plots import DRAW, plot_experiment, table_panel  # noqa: E402


def _draw(panel):
    fig, ax = plt.subplots()
    DRAW[panel["kind"]](ax, panel)
    return fig, ax


def test_log_axis_only_for_positive_values():
    fig, ax = _draw(figures.lines("t", [figures.series("a", [1, 2, 3], [1.0, 0.1, 0.01])], logy=True))
    assert ax.get_yscale() == "log"
    plt.close(fig)
    fig, ax = _draw(figures.lines("t", [figures.series("a", [1, 2, 3], [1.0, -0.1, 0.01])], logy=True, logx=True))
    assert ax.get_yscale() == "linear" and ax.get_xscale() == "log"
    assert "non-positive" in ax.get_title()
    plt.close(fig)


def test_non_finite_values_become_gaps():
    s = figures.series("a", [1, 2, 3, 4], [1.0, float("nan"), float("inf"), 2.0])
    assert s["y"] == [1.0, None, None, 2.0]
    fig, ax = _draw(figures.lines("t", [s], logy=True))
    assert ax.get_yscale() == "log"
    lo, hi = ax.get_ylim()
    assert 0 < lo < 1.0 and 2.0 < hi < 10.0, "limits follow the finite values"
    plt.close(fig)


def test_bars_heatmap_contour_with_missing_values(tmp_path):
    result = {"name": "x", "passed": False, "plots": [
        figures.bars("b", ["a", "b"], [1.0, float("nan")], lo=[0.5, None], hi=[1.5, None], logy=True),
        figures.heatmap("h", [1, 2], ["r"], [[0.5, None]]),
        figures.contour("c", [0.5, 1.5], [0.5, 1.5], [[1.0, 2.0], [3.0, 4.0]],
                        [{"label": "p", "x": [0.6, 9.0], "y": [0.6, 0.7]}], logz=True)]}
    path = plot_experiment(result, tmp_path / "p.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_a_result_without_panels_gets_its_table_as_bars(tmp_path):
    result = {"name": "random-vs-grid", "passed": True, "columns": ["strategy", "trials", "median best"],
              "rows": [["random", 16, 0.9], ["grid", 16, 0.2]], "plots": []}
    panel = table_panel(result)
    assert panel["labels"] == ["random", "grid"] and panel["values"] == [0.9, 0.2], "the first column that varies"
    assert plot_experiment(result, tmp_path / "p.png").exists()
    assert table_panel({"columns": ["a", "b"], "rows": [["x", "text"]]}) is None

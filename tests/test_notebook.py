"""A real notebook, run headlessly in a fresh Jupyter kernel: every figure shows as an image.

tests/notebook.ipynb draws a graph after a plain `backward()`, a gradient check, a loss curve,
attention heads and embeddings, with no `%matplotlib` line. The kernel is this test run's own
Python (the `run_notebook` fixture of tests/conftest.py), so a fresh clone needs only
`make test`.
"""

from pathlib import Path

NOTEBOOK = Path(__file__).with_name("notebook.ipynb")
IMAGES = ("image/png", "image/svg+xml")


def test_every_figure_in_a_fresh_kernel_is_an_image(run_notebook):
    notebook = run_notebook(NOTEBOOK)  # a cell that fails raises, with its traceback
    figures = [c for c in notebook.cells if "figure" in c.metadata.get("tags", [])]
    assert len(figures) == 6
    for cell in figures:
        shown = [out for out in cell.outputs if out.output_type == "execute_result"]
        assert len(shown) == 1, cell.source
        assert any(kind in shown[0].data for kind in IMAGES), (cell.source, shown[0].data.keys())
    first = notebook.cells[1].outputs[0]
    assert first.output_type == "stream" and first.text.startswith("loss ")

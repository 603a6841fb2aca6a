"""bench/ablation.py writes its measured table into docs/tour/ablation.md between markers, and
keeps the reading written around them when it measures again."""

from types import SimpleNamespace

from bench import ablation


def results(val):
    """Two seeds of every variant on one corpus, each ending at `val`."""
    run = (val, 30.0, 1000, [(0, 4.0), (10, val)])
    return {("stories", name): [run, run] for name in ablation.VARIANTS}


def test_the_table_is_replaced_and_the_reading_around_it_kept(tmp_path):
    args = SimpleNamespace(steps=10, seeds=2)
    ablation.write_table(results(1.5), args, 1.0, tmp_path)
    page = tmp_path / "tour" / "ablation.md"
    first = page.read_text(encoding="utf-8")
    assert first.startswith("# The ablation")
    assert "| GPT-2 | 1.500 ± 0.000 | 30.0 | 1,000 |" in first
    page.write_text(first + "\n## Reading it\n\nWhat the numbers say.\n", encoding="utf-8")
    ablation.write_table(results(0.25), args, 1.0, tmp_path)
    second = page.read_text(encoding="utf-8")
    assert "| GPT-2 | 0.250 ± 0.000 |" in second and "1.500" not in second
    assert second.endswith("## Reading it\n\nWhat the numbers say.\n")
    assert second.count(ablation.BEGIN) == second.count(ablation.END) == 1

"""The README as a landing page: its example runs as printed, and its map's line counts hold.

The example is read from README.md and run: it must print what the README says it prints. The
map gives each folder's lines of Python; they must stay within 10% of the files' real count
(`wc -l` of the folder's .py files), so the map cannot silently drift as the code grows.
"""

import math
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
PACKAGES = ("engine", "nn", "tokenizer", "model", "viz")
IMPORTS = ("import ", "from ")


def section(title):
    return README.split(f"\n## {title}", 1)[1].split("\n## ", 1)[0]


def test_the_ten_line_example_prints_what_the_readme_says(capsys):
    text = section("Ten lines")
    code = re.search(r"```python\n(.*?)```", text, flags=re.S).group(1)
    printed = re.search(r"\nprints\n\n((?:    .*\n)+)", text).group(1)
    assert "train_step(" in code and ".generate(" in code and ".train(" in code
    statements = [line for line in code.splitlines() if line and not line.startswith(IMPORTS)]
    assert len(statements) <= 10
    scope = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 (the README's own code)
    out = capsys.readouterr().out
    assert out == "".join(line[4:] + "\n" for line in printed.splitlines())
    first, last = map(float, re.match(r"loss (\S+) -> (\S+)\n", out).groups())
    assert abs(first - math.log(512)) < 0.1 and last < 1.0  # a uniform guess, then learning
    tok, ids = scope["tok"], scope["ids"]
    assert out.splitlines()[1] == tok.decode(ids[0, :20].tolist())  # the window, by heart


def python_lines(folder):
    return sum(len(p.read_bytes().splitlines()) for p in (ROOT / folder).rglob("*.py"))


def test_the_maps_line_counts_are_within_ten_percent():
    rows = re.findall(
        r"^\| \[`(\w+)/`\]\(\1/\) \|.*\| ([\d,]+) \|$", section("The map"), flags=re.M
    )
    folders = [folder for folder, _ in rows]
    assert set(PACKAGES) <= set(folders) and {"tests", "bench"} <= set(folders)
    for folder, claimed in rows:
        real = python_lines(folder)
        claimed = int(claimed.replace(",", ""))
        assert abs(claimed - real) <= 0.1 * real, f"README's map: {folder}/ has {real} lines"

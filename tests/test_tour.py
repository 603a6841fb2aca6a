"""The guided tour (docs/tour/), checked so it never rots.

- Every snippet of every chapter is a doctest, run here as printed, each chapter in a fresh
  namespace and an empty working directory (a chapter may write files).
- Every chapter has the parts the tour promises: snippets, a picture, links to the code, and
  exercises with their answers folded away.
- Every link of the tour, the README and docs/reference.md leads somewhere: a file that exists
  (a heading that exists, for a `#part` of a Markdown file), and a link named like a Python
  object (`tokenizer.train.train_reference`) leads to the file that defines that object.
- The notebooks hold the chapters' snippets (they are what docs/make_notebooks.py writes), and
  run in a fresh Jupyter kernel.
- docs/images/ holds exactly the pictures docs/make_images.py makes.
"""

import doctest
import importlib
import importlib.util
import inspect
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
TOUR = ROOT / "docs" / "tour"
CHAPTERS = sorted(TOUR.glob("[0-9][0-9]-*.md"))
PAGES = [ROOT / "README.md", ROOT / "docs" / "reference.md", TOUR / "README.md", *CHAPTERS]


def docs_script(name):
    """A script of docs/ (not a package) imported as a module."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NOTEBOOKS = docs_script("make_notebooks")


def snippets(chapter):
    """The chapter's doctests. A Markdown fence ends an example's printed result, as a blank
    line would (it is replaced by one, so line numbers stay right)."""
    text = re.sub(r"^\s*```.*$", "", chapter.read_text(encoding="utf-8"), flags=re.M)
    return doctest.DocTestParser().get_doctest(text, {}, chapter.name, str(chapter), 0)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_snippet_runs_as_printed(chapter, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    test = snippets(chapter)
    assert len(test.examples) >= 8, "a chapter shows its ideas in small runnable snippets"
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = doctest.DocTestRunner(optionflags=flags)
    report = []
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


PARTS = ("## The idea", "## The math", "## In the code", "## See it", "## Try it", "## Exercises")
LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")
CODE_NAME = re.compile(r"`([A-Za-z_]\w*(?:\.\w+)+)`")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_has_its_parts(chapter):
    text = chapter.read_text(encoding="utf-8")
    assert [line for line in text.splitlines() if line in PARTS] == list(PARTS)
    links = LINK.findall(text)
    pictures = [target for bang, _, target in links if bang and target.startswith("../images/")]
    code = [name for bang, name, target in links if not bang and target.endswith(".py")]
    exercises = text.split("## Exercises", 1)[1]
    assert pictures, "at least one picture made by viz/"
    assert len(code) >= 3, "links to the files and functions that implement the chapter"
    assert (
        2 <= exercises.count("<details><summary>Answer</summary>") == exercises.count("</details>")
    )


def headings(page):
    """The anchors GitHub gives a Markdown page's headings."""
    titles = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", t.lower()).strip().replace(" ", "-") for t in titles}


def defining_file(name):
    """The source file of the Python object `name` (a dotted name: package.module.function)."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[i:]:
            obj = getattr(obj, attribute)
        return Path(inspect.getsourcefile(inspect.unwrap(obj))).resolve()
    raise ModuleNotFoundError(name)


@pytest.mark.parametrize(
    "page", [*PAGES, TOUR / "ablation.md"], ids=lambda p: str(p.relative_to(ROOT))
)
def test_every_link_leads_somewhere(page):
    links = LINK.findall(page.read_text(encoding="utf-8"))
    assert links
    for _, text, target in links:
        if re.match(r"[a-z]+:", target):  # http(s): and mailto: are not followed (no network)
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{page.name}: [{text}]({target}) leads nowhere"
        if anchor:
            assert anchor in headings(resolved), f"{page.name}: no heading #{anchor} in {path}"
        if resolved.suffix != ".py":
            continue
        name = CODE_NAME.fullmatch(text)
        if name:  # [`tokenizer.train.train_reference`](tokenizer/train.py): defined there
            assert defining_file(name.group(1)) == resolved, f"{page.name}: {text} -> {target}"
        else:  # [`tokenizer/train.py`](tokenizer/train.py): the link names its file
            assert text.strip("`") == str(resolved.relative_to(ROOT)), f"{page.name}: {text}"


def test_the_notebooks_are_the_chapters():
    covered = [path for name in NOTEBOOKS.NOTEBOOKS for path in NOTEBOOKS.chapters(name)]
    assert covered == CHAPTERS  # every chapter in one notebook, in order
    for name in NOTEBOOKS.NOTEBOOKS:
        written = (TOUR / name).read_text(encoding="utf-8")
        assert written == nbformat.writes(NOTEBOOKS.notebook(name)) + "\n", (
            f"docs/tour/{name} is not what the chapters make: run python docs/make_notebooks.py"
        )


def test_a_notebook_cell_ends_where_a_snippet_prints():
    cells = NOTEBOOKS.cells(
        "Text\n\n```python\n>>> a = 1\n>>> a + 1\n2\n>>> for i in range(2):\n...     a += i\n"
        ">>> print(a)\n2\n```\n\nMore text, and a shell line:\n\n```\nmake test\n```\n",
        "t",
    )
    kinds = [(c.cell_type, c.source) for c in cells]
    assert kinds == [
        ("markdown", "Text"),
        ("code", "a = 1\na + 1"),
        ("code", "for i in range(2):\n    a += i\nprint(a)"),
        ("markdown", "More text, and a shell line:\n\n```\nmake test\n```"),
    ]
    assert [c.id for c in cells] == ["t-0", "t-1", "t-2", "t-3"]


@pytest.mark.parametrize("name", NOTEBOOKS.NOTEBOOKS)
def test_the_notebook_runs_in_a_fresh_kernel(name, run_notebook):
    notebook = run_notebook(TOUR / name)  # a cell that fails raises, with its traceback
    code = [c for c in notebook.cells if c.cell_type == "code"]
    printed = [c for c in code if c.outputs]
    assert len(code) > 20 if name == "tour.ipynb" else len(code) > 5
    # a cell ends after each example whose result the chapter prints: most cells show one
    assert len(printed) >= 0.8 * len(code)


def test_docs_images_are_the_pictures_make_docs_draws():
    pictures = docs_script("make_images").PICTURES
    assert sorted(p.name for p in (ROOT / "docs" / "images").iterdir()) == sorted(pictures)
    shown = "".join(page.read_text(encoding="utf-8") for page in PAGES)
    assert [p for p in pictures if f"images/{p}" not in shown] == []  # every one is shown

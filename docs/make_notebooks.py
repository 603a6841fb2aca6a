"""Write the tour's notebooks from its chapters (`make docs` runs this).

    python docs/make_notebooks.py

Each chapter of docs/tour/ is Markdown whose snippets are doctests (`>>> ` lines). A notebook
holds the same text and the same snippets: the prose becomes Markdown cells, and each snippet
becomes code cells, without the prompts and the printed results (the kernel prints those). A
cell ends after each line whose result the chapter prints, so a notebook shows what the chapter
shows; a cell whose snippet shows an error is tagged `raises-exception`, so running the notebook
goes on past it. `NOTEBOOKS` says which chapters go into which notebook; tests/test_tour.py
checks that the notebooks are what this script writes, and runs them.
"""

from pathlib import Path

import nbformat

TOUR = Path(__file__).resolve().parent / "tour"
NOTEBOOKS = {
    "tour.ipynb": [f"0{n}-" for n in range(1, 10)],  # chapters 1 to 9
    "10-the-real-gpt2.ipynb": ["10-"],  # it needs GPT.from_pretrained (model/hf.py)
}
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}


def chapters(notebook):
    """The chapter files of `notebook` (a name in NOTEBOOKS), in order."""
    prefixes = NOTEBOOKS[notebook]
    return [p for prefix in prefixes for p in sorted(TOUR.glob(f"{prefix}*.md"))]


def cells(text, tag):
    """The notebook cells of one chapter's Markdown `text`; their ids start with `tag`."""
    made, prose, code, raises = [], [], [], []

    def flush(kind, lines):
        source = "\n".join(lines).strip("\n")
        if source.strip():
            new = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
            made.append(new(source, id=f"{tag}-{len(made)}"))
            if raises and kind == "code":  # a snippet that shows an error: the cell may raise
                made[-1].metadata["tags"] = ["raises-exception"]
        lines.clear()
        raises.clear()

    block, snippet, printed, source = None, False, False, False  # block: a fenced block's lines
    for line in text.splitlines():
        if block is None:
            if line.lstrip().startswith("```"):
                block, snippet, printed = [line], False, False
            else:
                prose.append(line)
            continue
        block.append(line)
        if line.strip() == "```":  # the end of the fenced block
            if snippet:
                flush("code", code)
            else:
                prose.extend(block)
            block = None
        elif line.startswith(">>>"):  # an example starts (as in doctest)
            if not snippet:
                flush("markdown", prose)
                snippet = True
            if printed:  # the example before printed something: a new cell starts here
                flush("code", code)
                printed = False
            code.append(line[4:])
            source = True
        elif source and line.startswith("..."):  # the example goes on
            code.append(line[4:])
        elif snippet:  # what the example prints, or a blank line
            source = False
            printed = printed or bool(line.strip())
            if line.startswith("Traceback (most recent call last):"):
                raises.append(line)
    flush("markdown", prose)
    return made


def notebook(name):
    """The notebook `name` of NOTEBOOKS, as a `nbformat.NotebookNode`."""
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": KERNEL, "language_info": {"name": "python"}}
    )
    for path in chapters(name):
        nb.cells += cells(path.read_text(encoding="utf-8"), path.name[:2])
    return nb


def main():
    for name in NOTEBOOKS:
        path = TOUR / name
        path.write_text(nbformat.writes(notebook(name)) + "\n", encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

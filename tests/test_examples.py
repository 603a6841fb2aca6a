"""The examples need torch and transformers, which the tests never import: they are compiled."""

import ast
import py_compile
from pathlib import Path

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))


def test_every_example_compiles_and_says_what_it_needs(tmp_path):
    assert [p.name for p in EXAMPLES] == ["continue_in_pytorch.py"]
    for path in EXAMPLES:
        py_compile.compile(str(path), cfile=str(tmp_path / "out.pyc"), doraise=True)
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert "torchrun --nproc_per_node" in doc and "pip install torch transformers" in doc

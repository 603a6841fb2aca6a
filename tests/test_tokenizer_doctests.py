"""The tiny examples in the tokenizer docstrings are part of the lesson: they must stay true."""

import doctest
import importlib

import pytest

MODULES = [
    "base",
    "bpe",
    "char",
    "encode",
    "files",
    "formats",
    "hf",
    "jsonfile",
    "patterns",
    "train",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"tokenizer.{name}")
    result = doctest.testmod(module)
    assert result.failed == 0
    assert result.attempted > 0 or name == "files"

"""The same arrays and metadata make the same checkpoint file, byte for byte, in any process."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import safetensors.numpy

from model import checkpoint

ROOT = Path(__file__).resolve().parents[1]
SAVE = """
import sys
import numpy as np
from model import checkpoint
arrays = {"b": np.arange(6, dtype=np.float32).reshape(2, 3), "a": np.array(3, dtype=np.int64)}
metadata = {name: {"value": i} for i, name in enumerate(["step", "config", "tokenizer", "seed",
            "corpus", "lr", "notes", "schedule"])}
checkpoint.save_arrays(sys.argv[1], arrays, metadata)
"""


def test_two_processes_write_the_same_bytes(tmp_path):
    """safetensors orders the metadata by a hash that changes with each process; the file's
    header is written sorted, so eight metadata keys cannot come out in another order."""
    paths = [tmp_path / f"{i}.safetensors" for i in range(2)]
    for path in paths:
        subprocess.run([sys.executable, "-c", SAVE, str(path)], cwd=ROOT, check=True)
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_the_sorted_header_is_a_valid_safetensors_file(tmp_path):
    path = tmp_path / "x.safetensors"
    arrays = {"w": np.ones((3, 5), np.float32), "é": np.zeros(7, np.float64)}
    checkpoint.save_arrays(path, arrays, {"zeta": 1, "alpha": "ü"})
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert (8 + n) % 8 == 0  # the arrays' bytes start aligned, as safetensors writes them
    header = json.loads(raw[8 : 8 + n])
    assert list(header) == sorted(header) and list(header["__metadata__"]) == sorted(
        header["__metadata__"]
    )
    loaded = safetensors.numpy.load(raw)
    assert loaded.keys() == arrays.keys()
    assert all(np.array_equal(loaded[k], arrays[k]) for k in arrays)
    assert checkpoint.load_arrays(path)[1] == {"zeta": 1, "alpha": "ü"}

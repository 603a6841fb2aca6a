"""A tied output matrix is stored once in our model files, and tied again on loading."""

import json

import numpy as np
import pytest
import safetensors.numpy

from model import GPT, GPTConfig, checkpoint
from model.checkpoint import CheckpointError

SHAPE = dict(vocab_size=50, block_size=8, n_layer=1, n_head=2, n_embd=16)


@pytest.mark.parametrize("tied", [True, False])
def test_the_tied_matrix_is_stored_once_and_tied_again(tied, tmp_path):
    model = GPT(GPTConfig(**SHAPE, tie_weights=tied))
    path = tmp_path / "m.safetensors"
    checkpoint.save_model(path, model, step=0)
    stored = safetensors.numpy.load_file(path)
    assert ("lm_head.weight" in stored) is not tied and "transformer.wte.weight" in stored
    loaded, _ = checkpoint.load_model(path)
    assert (loaded.lm_head.weight is loaded.transformer.wte.weight) is tied
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name], array)
    everything = 4 * sum(p.size for p in model.state_dict().values())  # lm_head counted twice
    assert path.stat().st_size < everything - (4 * 50 * 16 if tied else 0) + 2000


def write_old_format(path, model, head):
    """A file as tinyllm wrote it before: both names of the tied matrix."""
    state = {**model.state_dict(), "lm_head.weight": head}
    metadata = {"format": "tinyllm", "config": json.dumps(model.config.to_dict()), "step": "0"}
    safetensors.numpy.save_file(state, path, metadata=metadata)


def test_a_file_holding_both_names_is_read_if_they_agree(tmp_path):
    model = GPT(GPTConfig(**SHAPE))
    write_old_format(tmp_path / "old.safetensors", model, model.transformer.wte.weight.data)
    loaded, _ = checkpoint.load_model(tmp_path / "old.safetensors")
    assert loaded.lm_head.weight is loaded.transformer.wte.weight
    np.testing.assert_array_equal(loaded.lm_head.weight.data, model.lm_head.weight.data)
    write_old_format(tmp_path / "bad.safetensors", model, np.zeros((50, 16), np.float32))
    with pytest.raises(CheckpointError, match="'lm_head.weight' differs from 'transformer.wte"):
        checkpoint.load_model(tmp_path / "bad.safetensors")


def test_the_config_is_read_from_the_header_alone(tmp_path):
    model = GPT(GPTConfig(**SHAPE, n_kv_head=1))
    checkpoint.save_model(tmp_path / "m.safetensors", model, step=0)
    assert checkpoint.read_model_config(tmp_path / "m.safetensors") == model.config
    (tmp_path / "x.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    with pytest.raises(CheckpointError, match="x.safetensors"):
        checkpoint.read_model_config(tmp_path / "x.safetensors")

"""Training data: a corpus as one array of token ids, and random windows of it as batches.

The first 90% of the tokens train the model, the last 10% measure it on text it never saw.
A batch is `batch_size` windows of `block_size + 1` consecutive tokens: inputs are a window's
first `block_size` tokens and targets the same window shifted by one, so position t is
trained to predict token t + 1.
"""

import numpy as np


class TokenData:
    """Token ids (any integer array) split into train and validation parts."""

    def __init__(self, ids, block_size, train_fraction=0.9):
        ids = np.asarray(ids)
        largest = ids.max() if ids.size else 0
        dtype = np.uint16 if largest < 2**16 else np.int32 if largest < 2**31 else np.int64
        ids = ids.astype(dtype)  # uint16 quarters the memory whenever the vocabulary fits
        n_train = int(len(ids) * train_fraction)
        self.train, self.val = ids[:n_train], ids[n_train:]
        self.block_size = block_size
        if len(self.val) < block_size + 1:
            raise ValueError(
                f"corpus too short: {len(ids)} tokens leave {len(self.val)} for validation, "
                f"need at least block_size + 1 = {block_size + 1} (about "
                f"{10 * (block_size + 1)} tokens in all)"
            )

    def get_batch(self, split, batch_size, rng):
        """(x, y), both (batch_size, block_size) int64: y is x shifted by one token."""
        ids = self.train if split == "train" else self.val
        starts = rng.integers(0, len(ids) - self.block_size, size=batch_size)
        windows = ids[starts[:, None] + np.arange(self.block_size + 1)].astype(np.int64)
        return windows[:, :-1], windows[:, 1:]

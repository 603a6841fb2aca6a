"""How fast is the engine? Three tables, printed in about 20 seconds.

1. Per-op overhead: forward, and forward + backward, in microseconds on tiny (4, 4) float32
   tensors, where NumPy's arithmetic is negligible and what is left is the engine's own cost
   (building the Tensor and its graph node, the topological sort, unbroadcasting).
2. Matmul throughput: a 512 x 512 float32 `a @ b`, forward and backward (three matmuls:
   A @ B, G @ Bᵀ, Aᵀ @ G), against NumPy doing the same three matmuls on the same machine.
3. Scatter-add: the backward of an integer-array index (an embedding lookup, where a token id
   may repeat) must add rows of G into a (V, C) table. Four vectorised ways are timed.

Run with OpenBLAS's core-type overrides unset (as `make bench` does), or matmuls run at half
speed:  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m bench.engine_ops
"""

import functools
import time

import numpy as np

import engine
from engine import Tensor
from engine.shape_ops import add_rows


def seconds_per_call(fn, min_time=0.1, repeats=5):
    """The best, over `repeats` runs of at least `min_time` seconds each, of fn's time per call."""
    fn()  # warm up
    calls = 1
    while True:  # find a call count that takes about min_time
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            break
        calls *= 2
    best = elapsed / calls
    for _ in range(repeats - 1):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def interleaved_best(fns, rounds=5):
    """{name: best seconds per call}, timing the functions in turn, round after round.

    The machine is shared: interleaving makes a burst of load elsewhere hit every contender
    alike instead of whichever was being timed at that moment.
    """
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            best[name] = min(best[name], seconds_per_call(fn, min_time=0.04, repeats=1))
    return best


# ---- 1. per-op overhead on tiny tensors ----------------------------------------------------

OPS = {
    "a + b": lambda a, b: a + b,
    "a - b": lambda a, b: a - b,
    "a * b": lambda a, b: a * b,
    "a / b": lambda a, b: a / b,
    "a * 0.5": lambda a, b: a * 0.5,
    "-a": lambda a, b: -a,
    "a ** 2": lambda a, b: a**2,
    "a @ b": lambda a, b: a @ b,
    "sum()": lambda a, b: a.sum(),
    "sum(axis=-1)": lambda a, b: a.sum(axis=-1),
    "mean()": lambda a, b: a.mean(),
    "max(axis=-1)": lambda a, b: a.max(axis=-1),
    "exp": lambda a, b: a.exp(),
    "log": lambda a, b: a.log(),
    "sqrt": lambda a, b: a.sqrt(),
    "tanh": lambda a, b: a.tanh(),
    "sigmoid": lambda a, b: a.sigmoid(),
    "relu": lambda a, b: a.relu(),
    "erf": lambda a, b: a.erf(),
    "softmax": lambda a, b: a.softmax(),
    "log_softmax": lambda a, b: a.log_softmax(),
    "reshape(-1)": lambda a, b: a.reshape(-1),
    "transpose": lambda a, b: a.transpose(0, 1),
    "a[1:, ::2]": lambda a, b: a[1:, ::2],
    "a[int array]": lambda a, b: a[IDS],
    "masked_fill": lambda a, b: a.masked_fill(MASK, -np.inf),
    "cat": lambda a, b: engine.cat([a, b], axis=1),
    "stack": lambda a, b: engine.stack([a, b]),
    "where": lambda a, b: engine.where(MASK, a, b),
}
IDS = np.array([0, 2, 2, 3])
MASK = np.triu(np.ones((4, 4), dtype=bool), k=1)


def op_overhead_table():
    rng = np.random.default_rng(0)
    a = Tensor(rng.uniform(0.5, 2.0, (4, 4)).astype(np.float32), requires_grad=True)
    b = Tensor(rng.uniform(0.5, 2.0, (4, 4)).astype(np.float32), requires_grad=True)
    bare = seconds_per_call(lambda: np.add(a.data, b.data), min_time=0.02)
    print("Per-op cost on (4, 4) float32 tensors, microseconds per call")
    print(f"(for scale: a bare NumPy add of the same arrays takes {bare * 1e6:.2f} us)\n")
    print(f"{'op':<16}{'forward':>10}{'fwd+bwd':>10}")
    for name, op in OPS.items():
        seed = np.ones(op(a, b).shape, dtype=np.float32)

        def forward_backward(op=op, seed=seed):
            op(a, b).backward(seed)

        forward = seconds_per_call(lambda op=op: op(a, b), min_time=0.02, repeats=3)
        both = seconds_per_call(forward_backward, min_time=0.02, repeats=3)
        print(f"{name:<16}{forward * 1e6:>10.1f}{both * 1e6:>10.1f}")


# ---- 2. matmul throughput ------------------------------------------------------------------


def matmul_table(n=512):
    rng = np.random.default_rng(0)
    a_np, b_np, g_np = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(3))
    a, b = Tensor(a_np, requires_grad=True), Tensor(b_np, requires_grad=True)

    def numpy_three():
        a_np @ b_np
        g_np @ b_np.T
        a_np.T @ g_np

    def engine_forward_backward():
        (a @ b).backward(g_np)

    flops = 2 * n**3  # one n x n x n matmul: n³ multiply-adds
    rows = {  # name: (function, work in FLOPs)
        "NumPy A @ B": (lambda: a_np @ b_np, flops),
        "engine a @ b, forward": (lambda: a @ b, flops),
        "NumPy 3 matmuls": (numpy_three, 3 * flops),
        "engine forward+backward": (engine_forward_backward, 3 * flops),
    }
    best = interleaved_best({name: fn for name, (fn, _) in rows.items()})
    print(f"\n{n} x {n} float32 matmul (forward + backward = 3 matmuls)\n")
    print(f"{'':<26}{'ms':>8}{'GFLOP/s':>10}")
    for name, (_, work) in rows.items():
        print(f"{name:<26}{best[name] * 1e3:>8.2f}{work / best[name] / 1e9:>10.1f}")
    ratio = best["engine forward+backward"] / best["NumPy 3 matmuls"]
    print(f"engine forward+backward takes {ratio:.2f}x the time of NumPy's 3 matmuls")


# ---- 3. scatter-add for the backward of an integer-array index -----------------------------


def add_at(ids, g, vocab):
    dx = np.zeros((vocab, g.shape[1]), dtype=g.dtype)
    np.add.at(dx, ids, g)
    return dx


def bincount(ids, g, vocab):
    """One bincount over flat (row, column) positions; bincount sums in float64."""
    channels = g.shape[1]
    flat = (ids[:, None] * channels + np.arange(channels)).ravel()
    sums = np.bincount(flat, weights=g.ravel(), minlength=vocab * channels)
    return sums.reshape(vocab, channels).astype(g.dtype)


def one_hot_matmul(ids, g, vocab):
    """dX = onehot(ids)ᵀ @ G: a (V, N) @ (N, C) matmul, mostly multiplying zeros."""
    one_hot = np.zeros((vocab, len(ids)), dtype=g.dtype)
    one_hot[ids, np.arange(len(ids))] = 1
    return one_hot @ g


def sort_reduceat(ids, g, vocab):
    """The engine's own: sort the ids, sum each run of equal ids with reduceat."""
    return add_rows(ids, g, (vocab, g.shape[1]))


SCATTERS = {
    "np.add.at": add_at,
    "np.bincount": bincount,
    "one-hot matmul": one_hot_matmul,
    "sort + reduceat": sort_reduceat,
}


VOCABS = (65, 4096, 50257)  # a character vocabulary, a small BPE one, GPT-2's


def scatter_add_table(count=768, channels=128):
    rng = np.random.default_rng(0)
    print(f"\nScatter-add of {count} rows of {channels} float32 into a (V, {channels}) table, us")
    print(f"\n{'method':<18}" + "".join(f"{f'V={v}':>10}" for v in VOCABS))
    times = {name: [] for name in SCATTERS}
    for vocab in VOCABS:
        ids = rng.integers(vocab, size=count)
        g = rng.standard_normal((count, channels), dtype=np.float32)
        expected = add_at(ids, g, vocab)
        for scatter in SCATTERS.values():
            np.testing.assert_allclose(scatter(ids, g, vocab), expected, rtol=1e-5, atol=1e-5)
        calls = {name: functools.partial(fn, ids, g, vocab) for name, fn in SCATTERS.items()}
        for name, seconds in interleaved_best(calls).items():
            times[name].append(seconds)
    for name, row in times.items():
        print(f"{name:<18}" + "".join(f"{t * 1e6:>10.1f}" for t in row))
    for column, vocab in enumerate(VOCABS):
        fastest = min(times, key=lambda name: times[name][column])
        speedup = times["np.add.at"][column] / times[fastest][column]
        print(f"fastest for V={vocab}: {fastest} ({speedup:.1f}x np.add.at)")


if __name__ == "__main__":
    start = time.perf_counter()
    op_overhead_table()
    matmul_table()
    scatter_add_table()
    print(f"\n(benchmark took {time.perf_counter() - start:.0f} s)")

"""How much memory a run needs, estimated before anything big is allocated.

A model too big for the machine should be refused in a line that says how much it needs, not
found out by a MemoryError halfway through building it (or by the operating system killing
the process). The estimate is rough (within a factor of about two) and counts, in float32:

    parameters      P, counted from the config as GPT builds it (`parameter_count`): for GPT-2
                    with biases, V·C + T·C + L·(12·C² + 13·C) + 2·C
    gradients       P
    AdamW state     2·P                                        (exp_avg and exp_avg_sq)
    the worker      2·P              its gradients, and the shared buffer they come back through
                                     (model/data_parallel.py: where two cores share each step)
    batches         16·A·B·T         a step's A micro-batches (grad_accum), x and y in int64
    activations     B·T · (L·(20·C + 3·nh·T) + 3·V + 4·C)      per micro-batch: what backward
                                                                keeps per token in each block
                                                                (layer norms, q|k|v, the MLP's
                                                                4·C before and after GELU,
                                                                attention scores and weights),
                                                                and the logits, softmax and
                                                                their gradient at the head
    tokens          the corpus: about 24 bytes per character while it is read and tokenized

and, to sample R rows of N tokens (prompt and new ones; T' = min(N, T) the longest context):

    tokens          8·R·N                                      int64
    KV cache        2·L·R·T'·nkv·hs                            keys and values of each layer
    a forward       R·T' · (V + 8·C + nh·T')                   logits, a block's activations
                                                                and attention scores
    probabilities   48·R·V                                     float64, and five copies of it

(V vocabulary, T block_size, L n_layer, nh n_head, C n_embd, B batch_size, A grad_accum), and
refuses only what cannot fit in the memory this machine has available now.
"""

BYTES_PER_FLOAT = 4
BYTES_PER_CORPUS_CHAR = 24


def parameter_count(config):
    """The parameters of a GPT of `config` (a GPTConfig), a tied embedding counted once."""
    V, T, L, C, H = (config.vocab_size, config.block_size, config.n_layer, config.n_embd,
                     config.n_inner)  # fmt: skip
    qkv = (config.n_head + 2 * config.n_kv_head) * config.head_size
    hidden = 2 * H if config.mlp == "swiglu" else H  # c_fc makes gate | up for SwiGLU
    norm = C if config.norm == "rmsnorm" or not config.bias else 2 * C
    per_layer = C * qkv + C * C + C * hidden + H * C + 2 * norm
    if config.bias:
        per_layer += qkv + C + hidden + C
    embeddings = V * C + (T * C if config.pos == "learned" else 0)
    return embeddings + L * per_layer + norm + (0 if config.tie_weights else V * C)


def training_bytes(config):
    """The estimate above for training a TrainConfig: {part: bytes}."""
    model = config.model
    p = BYTES_PER_FLOAT * parameter_count(model)
    per_token = model.n_layer * (20 * model.n_embd + 3 * model.n_head * model.block_size)
    per_token += 3 * model.vocab_size + 4 * model.n_embd
    tokens = config.batch_size * model.block_size
    return {
        "parameters": p,
        "gradients": p,
        "AdamW state": 2 * p,
        "the worker's gradients": 2 * p,
        "a step's batches": 16 * config.grad_accum * tokens,
        f"activations of a {config.batch_size} x {model.block_size} batch": BYTES_PER_FLOAT
        * tokens
        * per_token,
    }


def sampling_bytes(config, rows, length):
    """The estimate above for sampling `rows` rows of `length` tokens from a GPT of `config`
    (a GPTConfig): {part: bytes}."""
    T = min(length, config.block_size)
    kv = 2 * config.n_layer * rows * T * config.n_kv_head * config.head_size  # k and v
    forward = rows * T * (config.vocab_size + 8 * config.n_embd + config.n_head * T)
    return {
        "tokens": 8 * rows * length,
        "the KV cache": BYTES_PER_FLOAT * kv,
        f"a forward of {rows:,} x {T:,} tokens": BYTES_PER_FLOAT * forward,
        "probabilities": 48 * rows * config.vocab_size,
    }


def check_corpus(n_chars):
    """Refuse (MemoryError) a corpus of `n_chars` characters that cannot fit."""
    check_fits({"corpus": BYTES_PER_CORPUS_CHAR * n_chars}, f"a corpus of {n_chars:,} characters")


def available_bytes():
    """The memory this process can still use: Linux's MemAvailable, lowered to the control
    group's limit when one is set (as in a container); None where it cannot be read."""
    available = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        available = int(fields["MemAvailable"].split()[0]) * 1024
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as f:
            used = int(f.read())
        if limit != "max":
            available = min(available, int(limit) - used)
    except (OSError, ValueError, KeyError, IndexError):
        pass
    return available


def check_fits(parts, what):
    """Raise MemoryError, saying how much `what` needs and how much is available, when the
    sum of `parts` ({part: bytes}) exceeds the available memory."""
    needed, available = sum(parts.values()), available_bytes()
    if available is None or needed <= available:
        return
    detail = ", ".join(f"{name} {format_bytes(n)}" for name, n in parts.items())
    detail = f" ({detail})" if len(parts) > 1 else ""
    raise MemoryError(
        f"{what} needs about {format_bytes(needed)} of memory{detail}, but only "
        f"{format_bytes(available)} is available"
    )


def format_bytes(n):
    """1536 -> '1.5 KiB': a size as a person reads it."""
    if n < 1024:
        return f"{n} B"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        n /= 1024
        if n < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}"

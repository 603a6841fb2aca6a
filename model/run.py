"""A training run and its directory: everything needed to continue it, or to sample from it.

run_dir/
  model.safetensors      the weights (GPT-2 names), the model config in the metadata
  optimizer.safetensors  AdamW's moments and step counts
  state.json             training config, step, best val loss, every random generator's state
  tokenizer.txt          the tokenizer
  metrics.jsonl          one JSON line per log interval and per evaluation
  samples.txt            text sampled at the end of training
"""

import hashlib
import json
from pathlib import Path

import numpy as np

import engine
import tokenizer as tok
from engine.files import write_atomic
from model import checkpoint, corpus
from model.data import TokenData
from model.gpt import GPT
from model.train import TrainConfig, make_optimizer

MODEL, OPTIMIZER, STATE, TOKENIZER, METRICS, SAMPLES = (
    "model.safetensors",
    "optimizer.safetensors",
    "state.json",
    "tokenizer.txt",
    "metrics.jsonl",
    "samples.txt",
)


def load_corpus(config):
    """The corpus text and its entropy floor in nats per character (None when unknown)."""
    if config.corpus in corpus.CORPORA:
        return corpus.get_corpus(config.corpus, seed=config.seed, n_chars=config.corpus_chars)
    min_chars = 10 * (config.model.block_size + 2)
    return corpus.load_text_corpus(config.corpus, min_chars=min_chars), None


class Run:
    """The state of one training run: config, tokenizer, data, model, optimizer, counters."""

    def __init__(self, config, text, floor_per_char, tokenizer, run_dir):
        config = config.with_vocab_size(tokenizer.vocab_size)
        self.config, self.tokenizer, self.dir = config, tokenizer, Path(run_dir)
        self.text_sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
        ids = np.asarray(tokenizer.encode(text), dtype=np.int64)
        self.data = TokenData(ids, config.model.block_size)
        # Tokenizing loses no information, so the text's entropy spread over its tokens is
        # the per-token floor that no model's loss can beat on average.
        self.floor = None if floor_per_char is None else floor_per_char * len(text) / len(ids)
        self.model = GPT(config.model)
        self.optimizer = make_optimizer(self.model, config)
        # Batches draw from a stream of their own, apart from init's and dropout's.
        self.data_rng = np.random.default_rng([config.seed, 1])
        self.step, self.best_val, self.metrics = 0, float("inf"), []
        self.dir.mkdir(parents=True, exist_ok=True)

    @classmethod
    def create(cls, config):
        """A new run: generate or read the corpus, build the tokenizer, initialise the model."""
        if (Path(config.out_dir) / STATE).exists():
            raise FileExistsError(
                f"{config.out_dir} already holds a run: continue it with --resume "
                f"{config.out_dir}, or choose another --out-dir"
            )
        engine.manual_seed(config.seed)
        text, floor = load_corpus(config)
        if config.tokenizer == "char":
            tokenizer = tok.CharTokenizer.from_text(text)
        else:
            tokenizer = tok.BPETokenizer()
            tokenizer.train(text, config.bpe_vocab_size)
        return cls(config, text, floor, tokenizer, config.out_dir)

    @classmethod
    def resume(cls, run_dir, max_iters=None):
        """Continue the run saved in `run_dir`, optionally to a new `max_iters`."""
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise FileNotFoundError(f"run directory not found: {run_dir}")
        state = checkpoint.read_json(run_dir / STATE)
        try:
            saved = dict(state["config"], out_dir=str(run_dir))
            if max_iters is not None:
                saved["max_iters"] = max_iters
            config = TrainConfig(**saved)
            step, best_val = int(state["step"]), float(state["best_val"])
            data_rng, engine_rng = state["data_rng"], state["engine_rng"]
        except (KeyError, TypeError, ValueError) as e:
            raise checkpoint.CheckpointError(f"{run_dir / STATE} is not a run state: {e}") from e
        text, floor = load_corpus(config)
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != state.get("text_sha256"):
            raise checkpoint.CheckpointError(
                f"the corpus {config.corpus!r} differs from the one {run_dir} was trained on"
            )
        run = cls(config, text, floor, tok.load(run_dir / TOKENIZER), run_dir)
        model, model_step = checkpoint.load_model(run_dir / MODEL)
        if model.config != run.model.config:
            raise checkpoint.CheckpointError(
                f"{run_dir / MODEL} holds a model of another config ({model.config}) than "
                f"{run_dir / STATE} ({run.model.config})"
            )
        run.model.load_state_dict(model.state_dict())
        arrays, metadata = checkpoint.load_arrays(run_dir / OPTIMIZER)
        try:
            run.optimizer.load_state_dict(
                {"state": arrays, "param_groups": metadata["param_groups"]}
            )
        except (KeyError, ValueError) as e:
            raise checkpoint.CheckpointError(f"{run_dir / OPTIMIZER} does not fit: {e}") from e
        # Each file is written atomically, but not the set: a save cut short leaves files of
        # two different steps, which must not be mixed into a silently inexact resume.
        if not model_step == metadata.get("step") == step:
            raise checkpoint.CheckpointError(
                f"{run_dir} holds files of different steps (model {model_step}, optimizer "
                f"{metadata.get('step')}, state {step}): a save was interrupted"
            )
        try:
            run.data_rng.bit_generator.state = data_rng
            engine.set_rng_state(engine_rng)
        except (KeyError, TypeError, ValueError) as e:
            raise checkpoint.CheckpointError(f"{run_dir / STATE} has a damaged RNG state") from e
        run.step, run.best_val = step, best_val
        run.metrics = [m for m in read_metrics(run_dir)[0] if m["step"] <= step]
        return run

    @staticmethod
    def load_for_sampling(run_dir):
        """(model, tokenizer) of a saved run, the model in eval mode."""
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise FileNotFoundError(f"run directory not found: {run_dir}")
        model, _ = checkpoint.load_model(run_dir / MODEL)
        model.eval()
        return model, tok.load(run_dir / TOKENIZER)

    def save(self):
        """Write the whole run directory (each file atomically)."""
        checkpoint.save_model(self.dir / MODEL, self.model, self.step)
        optimizer = self.optimizer.state_dict()
        metadata = {"param_groups": optimizer["param_groups"], "step": self.step}
        checkpoint.save_arrays(self.dir / OPTIMIZER, optimizer["state"], metadata)
        self.tokenizer.save(self.dir / TOKENIZER)
        state = {
            "config": self.config.to_dict(),
            "step": self.step,
            "best_val": self.best_val,
            "entropy_floor": self.floor,
            "text_sha256": self.text_sha256,
            "data_rng": self.data_rng.bit_generator.state,
            "engine_rng": engine.get_rng_state(),
        }
        write_atomic(self.dir / STATE, json.dumps(state, indent=2))
        self._write_metrics()

    def log_metrics(self, **values):
        """Append one line (step, losses, lr, ...) to metrics.jsonl."""
        self.metrics.append(values)
        self._write_metrics()

    def _write_metrics(self):
        lines = "".join(json.dumps(m) + "\n" for m in self.metrics)
        write_atomic(self.dir / METRICS, lines)

    def last_eval_step(self):
        """The step of the latest evaluation in the metrics, -1 before the first."""
        return max((m["step"] for m in self.metrics if m["kind"] == "eval"), default=-1)

    def floor_note(self):
        """', entropy floor 1.23' when the corpus's floor is known."""
        return "" if self.floor is None else f" (entropy floor {self.floor:.4f})"


def read_metrics(run_dir):
    """(rows of run_dir/metrics.jsonl, the corpus's entropy floor from state.json or None).

    Errors name the file: a missing metrics.jsonl, or one that is not JSON lines.
    """
    path = Path(run_dir) / METRICS
    if not path.is_file():
        raise FileNotFoundError(f"no {METRICS} in run directory {str(run_dir)!r}")
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise checkpoint.CheckpointError(f"{path} is not valid JSON lines ({e})") from e
    state_path = Path(run_dir) / STATE
    floor = checkpoint.read_json(state_path).get("entropy_floor") if state_path.is_file() else None
    return rows, floor

"""A training run and its directory: everything needed to continue it, or to sample from it.

    run_dir/
      checkpoints/
        step-000500/              one complete checkpoint: every file of step 500
          model.safetensors       the weights (GPT-2 names, a tied lm_head once); in the
                                  metadata the model config, the step, and the tokenizer's
                                  size and SHA-256
          optimizer.safetensors   AdamW's moments and step counts; the param groups
          state.json              training config (the corpus as a resolved path), step, best
                                  val loss and its step, the corpus's SHA-256, every random
                                  generator's state
          tokenizer.txt           the tokenizer
          metrics.jsonl           the metrics up to this step, which a resume continues
        step-003000/              the newest
      metrics.jsonl               every metric so far: a JSON line per log interval and per eval
      samples.txt, loss.png, graph.svg, ...    what a finished run shows
      .lock                       held by the one process that trains the run

A save writes a whole new `step-N` directory and makes it complete with one rename
(model/run_dir.py), so whenever a process dies, by kill -9 or a full disk, the newest complete
checkpoint is untouched. At most two are kept: the newest, and the best by validation loss
when that is an older one. Resume continues the newest (and says so when it skips one whose
save was cut short); sampling, plots and graphs read the newest too, or the checkpoint
directory named in place of the run. A model and a tokenizer that were not trained together,
or a corpus whose content changed, are refused.
"""

import json
import os
import shlex
from dataclasses import replace
from pathlib import Path

import numpy as np

import engine
from engine.files import write_atomic
from model import checkpoint, corpus, memory, pretrained
from model.checkpoint import (
    METRICS,
    MODEL,
    OPTIMIZER,
    STATE,
    TOKENIZER,
    CheckpointError,
    load_checkpoint,
    read_metrics_file,
    read_state,
)
from model.data import TokenData
from model.gpt import GPT
from model.run_dir import CHECKPOINTS, RunDir, require_directory
from model.train import make_optimizer
from model.train_config import TrainConfig


def load_corpus(config):
    """The text of the run's corpus and its entropy floor in nats per character (None when
    unknown); a file needs 10 blocks of text at least, for batches and validation."""
    min_chars = 10 * (config.model.block_size + 2)
    return corpus.load(config.corpus, config.corpus_chars, config.seed, min_chars)


class Run:
    """The state of one training run: config, tokenizer, data, model, optimizer, counters.

    A run made by `create` or `resume` holds its directory's lock until `close()` (or the end
    of a `with run:` block, or of the process)."""

    def __init__(self, config, text, floor_per_char, tokenizer, disk):
        if not config.init_from:  # a model trained from keeps its vocab_size
            config = config.with_vocab_size(tokenizer.vocab_size)
        memory.check_fits(memory.training_bytes(config), "this run")
        self.config, self.tokenizer, self.disk, self.dir = config, tokenizer, disk, disk.path
        self.text_sha256 = corpus.sha256(text)
        try:
            ids = np.asarray(tokenizer.encode(text), dtype=np.int64)
        except ValueError as e:  # a tokenizer made before, for another text
            made = f"--init-from {config.init_from}" if config.init_from else config.tokenizer
            raise ValueError(
                f"corpus {config.corpus} does not fit the tokenizer of {made}: {e}"
            ) from None
        self.data = TokenData(ids, config.model.block_size)
        # Tokenizing loses no information, so the text's entropy spread over its tokens is
        # the per-token floor that no model's loss can beat on average.
        self.floor = None if floor_per_char is None else floor_per_char * len(text) / len(ids)
        self.model = GPT(config.model)
        self.optimizer = make_optimizer(self.model, config)
        # Batches draw from a stream of their own, apart from init's and dropout's.
        self.data_rng = np.random.default_rng([config.seed, 1])
        self.step, self.metrics = 0, []
        self.best_val, self.best_step = float("inf"), None
        self.saved_step = None  # the step of the newest complete checkpoint on disk
        self.interrupted_by = None  # the signal that stopped training, if one did

    def close(self):
        """Release the run directory's lock."""
        self.disk.unlock()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @classmethod
    def create(cls, config, log=print):
        """A new run: generate or read the corpus, build the tokenizer, initialise the model.

        The run directory may hold what a first save cut short, but no complete checkpoint."""
        new_directory = not Path(config.out_dir).exists()
        disk = RunDir(config.out_dir)
        disk.refuse_inside_a_run()
        disk.refuse_old_layout()
        if not disk.checkpoints():  # else a run's, which is refused below, once it is locked
            disk.refuse_foreign_files()
        disk.lock()
        try:
            if disk.checkpoints():
                raise FileExistsError(
                    f"{config.out_dir} already holds a run: continue it with --resume "
                    f"{shlex.quote(config.out_dir)}, or choose another --out-dir"
                )
            _report_debris(disk, log)
            disk.check_writable()
            config = replace(config, **_resolve_paths(config.to_dict()))
            engine.manual_seed(config.seed)
            text, floor = load_corpus(config)
            if not config.init_from:
                tokenizer = pretrained.new_tokenizer(config.tokenizer, text, config.bpe_vocab_size)
                return cls(config, text, floor, tokenizer, disk)
            start, tokenizer = pretrained.load_pretrained(config.init_from)
            run = cls(config, text, floor, tokenizer, disk)
            run.model.load_state_dict(pretrained.fine_tune_weights(start, run.model.config))
            return run
        except BaseException:
            disk.discard() if new_directory else disk.unlock()
            raise

    @classmethod
    def resume(cls, run_dir, log=print, **changes):
        """Continue the run saved in `run_dir` from its newest complete checkpoint.

        `changes` are flags, as `TrainConfig.resumed_with` takes them: max_iters, lr, min_lr
        and lr_decay_iters may change (a smaller lr after a run diverged, say), and corpus, the
        corpus file's new place, accepted only if its content is the same; any other must be
        the run's own."""
        changes = {name: value for name, value in changes.items() if value is not None}
        require_directory(run_dir)
        where = Path(os.path.abspath(run_dir))  # `.` or `step-N/..` name no directory of their own
        if where.parent.name == CHECKPOINTS:
            raise ValueError(
                f"{run_dir} is a checkpoint: resume its run directory, which continues the "
                "newest checkpoint"
            )
        if where.name == CHECKPOINTS and RunDir(where.parent).checkpoints():
            raise ValueError(
                f"{run_dir} is a run's {CHECKPOINTS} directory: resume the run itself "
                f"({where.parent}), which continues its newest checkpoint"
            )
        disk = RunDir(run_dir).lock()
        try:
            return cls._resume(disk, changes, log)
        except BaseException:
            disk.unlock()
            raise

    @classmethod
    def _resume(cls, disk, changes, log):
        disk.refuse_old_layout()
        latest = disk.latest()
        if latest is None:
            again = f"tinyllm train --out-dir {shlex.quote(str(disk.path))}"
            raise CheckpointError(
                f"{disk.path} holds no complete checkpoint to resume (was its first save cut "
                f"short?): start it again with {again}"
            )
        state = read_state(latest / STATE)
        try:
            config = TrainConfig(**dict(state["config"], out_dir=str(disk.path)))
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{latest / STATE} holds a bad config: {e}") from e
        changes = {**changes, **_resolve_paths(changes)}
        if Path(changes.get("out_dir", disk.path)).resolve() == disk.path.resolve():
            changes.pop("out_dir", None)  # the run's own directory, however it is spelled
        config = config.resumed_with(**changes)
        for cut in disk.incomplete():
            log(f"Skipping {cut.name}: its save was cut short. Resuming from {latest.name}.")
        disk.remove_debris()
        disk.check_writable()
        model, metadata, tokenizer = load_checkpoint(latest)
        text, floor = _load_same_corpus(config, state, latest)
        run = cls(config, text, floor, tokenizer, disk)
        if model.config != run.model.config:
            saved, expected = model.config.to_dict(), run.model.config.to_dict()
            differ = ", ".join(
                f"{name} {saved[name]!r} vs {expected[name]!r}"
                for name in expected
                if saved[name] != expected[name]
            )
            raise CheckpointError(
                f"{latest / MODEL} holds a model of another config than {latest / STATE} ({differ})"
            )
        run.model.load_state_dict(model.state_dict())
        arrays, optimizer = checkpoint.load_arrays(latest / OPTIMIZER)
        try:
            run.optimizer.load_state_dict(
                {"state": arrays, "param_groups": optimizer.get("param_groups")}
            )
        except ValueError as e:
            raise CheckpointError(f"{latest / OPTIMIZER} does not fit this run: {e}") from e
        step = state["step"]
        if not metadata.get("step") == optimizer.get("step") == step:
            raise CheckpointError(
                f"{latest} holds files of different steps (model {metadata.get('step')}, "
                f"optimizer {optimizer.get('step')}, state {step})"
            )
        try:
            run.data_rng.bit_generator.state = state["data_rng"]
            engine.set_rng_state(state["engine_rng"])
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{latest / STATE} has a damaged RNG state") from e
        run.step = run.saved_step = step
        run.best_val, run.best_step = state["best_val"], state["best_step"]
        run.metrics = [m for m in read_metrics_file(latest / METRICS) if m["step"] <= step]
        run._write_metrics()  # drop what was logged after the checkpoint: it is trained again
        return run

    @staticmethod
    def load_for_sampling(path):
        """(model, tokenizer) of a run's newest checkpoint, of the checkpoint directory `path`
        or of a Hugging Face model directory, the model in eval mode."""
        return pretrained.load_pretrained(path)

    def save(self):
        """Save a checkpoint of this step: all its files into a new directory that one rename
        makes complete, then delete the checkpoints that are neither the newest nor the best.

        A failure (a full disk, say) raises the OSError, naming the file, and leaves the
        checkpoints on disk as they were."""
        try:
            with self.disk.new_checkpoint(self.step) as directory:
                self.tokenizer.save(directory / TOKENIZER)
                fingerprint = checkpoint.fingerprint(directory / TOKENIZER)
                pair = {"vocab_size": self.tokenizer.vocab_size, "sha256": fingerprint}
                checkpoint.save_model(directory / MODEL, self.model, step=self.step, tokenizer=pair)
                optimizer = self.optimizer.state_dict()
                metadata = {"param_groups": optimizer["param_groups"], "step": self.step}
                checkpoint.save_arrays(directory / OPTIMIZER, optimizer["state"], metadata)
                write_atomic(directory / STATE, json.dumps(self._state(), indent=2))
                write_atomic(directory / METRICS, self._metrics_lines())
        except OSError as e:
            if e.errno is None:
                raise
            kept = "" if self.saved_step is None else f"; the one of step {self.saved_step} is kept"
            note = f"{e.strerror} (saving the checkpoint of step {self.step}{kept})"
            raise type(e)(e.errno, note, e.filename) from e
        self.saved_step = self.step
        self.disk.keep_only({self.step, self.best_step})

    def _state(self):
        return {
            "config": self.config.to_dict(),
            "step": self.step,
            "best_val": self.best_val,
            "best_step": self.best_step,
            "entropy_floor": self.floor,
            "text_sha256": self.text_sha256,
            "data_rng": self.data_rng.bit_generator.state,
            "engine_rng": engine.get_rng_state(),
        }

    def log_metrics(self, **values):
        """Append one line (step, losses, lr, ...) to metrics.jsonl."""
        self.metrics.append(values)
        self._write_metrics()

    def _metrics_lines(self):
        return "".join(json.dumps(m) + "\n" for m in self.metrics)

    def _write_metrics(self):
        write_atomic(self.dir / METRICS, self._metrics_lines())

    def last_eval_step(self):
        """The step of the latest evaluation in the metrics, -1 before the first."""
        return max((m["step"] for m in self.metrics if m.get("kind") == "eval"), default=-1)

    def floor_note(self):
        """', entropy floor 1.23' when the corpus's floor is known."""
        return "" if self.floor is None else f" (entropy floor {self.floor:.4f})"


def _resolve_paths(flags):
    """The file flags among `flags` made absolute, as a run saves them: the corpus, the
    tokenizer and the init-from model, where each is a path, not a name ('stories', 'char')."""
    names = {"corpus": corpus.CORPORA, "tokenizer": pretrained.TOKENIZERS, "init_from": ("",)}
    return {
        name: str(Path(flags[name]).resolve())
        for name in names
        if name in flags and flags[name] not in names[name]
    }


def _report_debris(disk, log):
    removed = disk.remove_debris()
    if removed:
        log(f"Removed {len(removed)} temporary file(s) that a cut-short save left in {disk.path}")


def _load_same_corpus(config, state, latest):
    """The corpus of a resumed run, checked to be the very text it was trained on."""
    try:
        text, floor = load_corpus(config)
    except FileNotFoundError as e:
        raise FileNotFoundError(f"{e}; if it moved, name its new place with --corpus") from e
    found, saved = corpus.sha256(text), state["text_sha256"]
    if found != saved:
        raise CheckpointError(
            f"the corpus {config.corpus} differs from the one {latest.parent.parent} was "
            f"trained on (SHA-256 {found[:12]}..., not {saved[:12]}...)"
        )
    return text, floor


def read_metrics(run_dir):
    """(rows of run_dir/metrics.jsonl, the corpus's entropy floor or None), for plots.

    Errors name the file: a missing metrics.jsonl, or one that is not metrics rows.
    """
    rows = read_metrics_file(Path(run_dir) / METRICS)
    latest = RunDir(run_dir).latest()
    floor = None if latest is None else read_state(latest / STATE)["entropy_floor"]
    return rows, floor

"""A GPT language model, its training loop, sampler, checkpoints, corpora and command line.

Read in this order: config.py and gpt.py (the model), sample.py (generation with a KV cache),
data.py (batches), train_config.py and train.py (the loop), data_parallel.py (a step's rows
shared by two processes), checkpoint.py, run_dir.py and run.py (saving and resuming: the
files, the directory, the run), memory.py (what a run needs before it starts), corpus.py (the
generated toy corpora), report.py (what a run prints and draws at its end), hf.py with
hf_gpt2.py and hf_llama.py (Hugging Face directories, both ways), pretrained.py (what a
command reads or a fine-tuning starts from), cli_entry.py, cli.py, cli_parser.py and
cli_paths.py (the `tinyllm` command: its entry point, its commands, its flags, and the
checks of its paths).
"""

__all__ = ["GPT", "GPTConfig"]


def __getattr__(name):
    """`model.GPT` and `model.GPTConfig`, loaded when first asked for, so that the `tinyllm`
    command's entry point (cli_entry.py) imports nothing heavy before it runs."""
    if name in __all__:
        from model import gpt

        return getattr(gpt, name)
    raise AttributeError(f"module 'model' has no attribute {name!r}")

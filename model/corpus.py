"""Text to train on: the generated toy corpora by name, or any UTF-8 text file.

The project writes its own corpora, so a fresh machine needs no download:

    stories   children's stories from a small grammar (model/corpora/stories.py)
    addition  sums like `47+385=234`, the answer reversed (model/corpora/addition.py)

Both come with their exact entropy in nats per character, `-log P(text) / len(text)`: the
lowest loss any model could reach on them. A character-level model's validation loss (nats per
token, one token per character) printed next to it shows how close to perfect the model is.

    >>> text, floor = get_corpus("stories", n_chars=2000)
    >>> round(floor, 3)  # nats per character
    0.047
"""

import hashlib
from pathlib import Path

from model import memory
from model.corpora.addition import (
    AdditionProblem,
    addition_accuracy,
    generate_addition,
    held_out_problems,
)
from model.corpora.stories import generate_stories, parse_stories

CORPORA = ("stories", "addition")

__all__ = [
    "CORPORA",
    "AdditionProblem",
    "addition_accuracy",
    "generate_addition",
    "generate_stories",
    "get_corpus",
    "held_out_problems",
    "load",
    "load_text_corpus",
    "parse_stories",
    "sha256",
]


def load(name_or_path, n_chars=500_000, seed=0, min_chars=1000):
    """A generated corpus by name (`n_chars` of it, from `seed`) or a UTF-8 file's text (of
    at least `min_chars`): returns `(text, entropy floor in nats per character)`, the floor
    None for a file. The memory the text takes is checked before it is generated or read."""
    if name_or_path in CORPORA:
        memory.check_corpus(n_chars)
        return get_corpus(name_or_path, seed=seed, n_chars=n_chars)
    path = Path(name_or_path)
    if path.is_file():
        memory.check_corpus(path.stat().st_size)
    return load_text_corpus(path, min_chars=min_chars), None


def sha256(text):
    """The SHA-256 of a text's UTF-8 bytes: a corpus's fingerprint."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def get_corpus(name, seed=0, n_chars=500_000):
    """A generated corpus: returns `(text, entropy floor in nats per character)`.

    `n_chars` is a minimum: whole stories or lines are added until the text is that long.
    """
    if name == "stories":
        text, info = generate_stories(n_chars=n_chars, seed=seed)
    elif name == "addition":
        text, info = generate_addition(n_chars=n_chars, seed=seed)
    else:
        raise ValueError(f"unknown corpus {name!r}; the generated corpora are {', '.join(CORPORA)}")
    return text, info.nats_per_char


def load_text_corpus(path, min_chars=1000):
    """The text of a UTF-8 file, checked to be long enough to train on.

    Training keeps the last 10% of the tokens for validation, and a batch needs `block_size + 1`
    of them, so the file needs at least about `10 * (block_size + 2)` characters (what a run
    asks for); `min_chars` defaults to 1000, enough for a `block_size` of 64.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"corpus file {str(path)!r} does not exist")
    if not path.is_file():
        raise ValueError(f"corpus path {str(path)!r} is not a file")
    data = path.read_bytes()
    if not data:
        raise ValueError(f"corpus file {str(path)!r} is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"corpus file {str(path)!r} is not UTF-8 text: byte {error.start} is "
            f"{data[error.start : error.start + 1]!r}"
        ) from None
    if len(text) < min_chars:
        raise ValueError(
            f"corpus file {str(path)!r} has {len(text)} characters; at least {min_chars} are "
            "needed to train on (the last 10% is kept for validation)"
        )
    return text

"""Reading a JSON file field by field, so that every error names the file and the field.

>>> file = JsonFile("t.json", {"model": {"type": "BPE", "merges": ["a b"]}})  # or .read(path)
>>> file.get("model.type", (str,)), file.get("model.merges.0", (str,))
('BPE', 'a b')
>>> file.get("model.vocab", (dict,))
Traceback (most recent call last):
ValueError: t.json, model.vocab: missing
>>> file.expect("model.type", ("WordPiece",))
Traceback (most recent call last):
ValueError: t.json, model.type: is "BPE"; tinyllm reads only "WordPiece"
"""

import json
from pathlib import Path


class JsonFile:
    """A parsed JSON file whose fields are fetched by their dotted names ("model.type"), every
    error naming the file and the field."""

    def __init__(self, path, data):
        self.path, self.data = path, data

    @classmethod
    def read(cls, path):
        """Parse the file at `path`, which must hold a JSON object."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: not a JSON file ({error})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
        return cls(path, data)

    def error(self, name, message):
        return ValueError(f"{self.path}, {name}: {message}")

    def lookup(self, name, default=KeyError):
        """The field `name` ("a.b.c"), or `default` when it is missing (KeyError: an error)."""
        value, keys = self.data, name.split(".")
        for depth, key in enumerate(keys):
            if isinstance(value, list) and key.isdigit() and int(key) < len(value):
                value = value[int(key)]
                continue
            if not isinstance(value, dict):
                raise self.error(".".join(keys[:depth]), f"expected an object, got {value!r:.80}")
            if key not in value:
                if default is KeyError:
                    raise self.error(".".join(keys[: depth + 1]), "missing")
                return default
            value = value[key]
        return value

    def get(self, name, kinds, default=KeyError):
        """The field `name`, which must be of one of the types `kinds` (None: null)."""
        value = self.lookup(name, default)
        kinds = tuple(type(None) if kind is None else kind for kind in kinds)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
            raise self.error(name, f"expected {names}, got {value!r:.80}")
        return value

    def expect(self, name, allowed, default=KeyError, why=""):
        """The field `name`, which must equal one of `allowed`; `why` ends the error message."""
        value = self.lookup(name, default)
        if value not in allowed:
            wanted = " or ".join(json.dumps(a, ensure_ascii=False) for a in allowed)
            shown = json.dumps(value, ensure_ascii=False)[:80]
            raise self.error(name, f"is {shown}; tinyllm reads only {wanted}{why}")
        return value

"""The text inside the graph pictures: op names, tensor values, backward rules.

Graphviz draws "HTML-like" labels (a small table per node), so names can be bold and shapes
small; every piece of text is escaped here before it goes into one (`table`), and the plain
labels (titles, cluster names, arrows) through `plain`. Names are the user's own text, so
both make anything printable: `dot` reads a backslash as the start of `\\N` (the node's name),
`\\G` (the graph's), ... even inside HTML labels, an ESC character is no valid XML, and a lone
surrogate cannot be written to a UTF-8 file at all.
"""

import html
import re

import graphviz
import numpy as np

from viz.trace import rerun

SMALL = 6
"""Tensors with at most this many elements show their values (and their gradient's) in full."""

OP_SYMBOLS = {
    "Add": "+",
    "Sub": "−",
    "Mul": "×",
    "Div": "÷",
    "MatMul": "@",
    "Neg": "neg",
    "Pow": "**",
    "TensorPow": "**",
    "GetItem": "[ ]",
    "ReLUOp": "relu",
}


CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # not \n: a line break, kept
SURROGATE = re.compile("[\ud800-\udfff]")  # half of a UTF-16 pair: no character on its own
SHOWN = (int, float, str, tuple, np.ndarray)  # options worth a label (not a random generator)


def op_name(ctx):
    """A short name for the op `ctx`, with its options: `+`, `** 2`, `sum(axis=1)`, `[0, :2]`."""
    name, options = op_parts(ctx)
    return f"{name}({options})" if options else name


def op_parts(ctx):
    """The op's name and its options as text: ("sum", "axis=1"); ("[0, :2]", "") for x[0, :2]."""
    cls = type(ctx).__name__
    options = getattr(ctx, "options", {})
    if cls == "Pow":
        return f"** {options['exponent']:g}", ""
    if cls == "NumberPow":  # base ** x
        return f"{options['base']:g} **", ""
    if cls == "GetItem":
        index = options["index"]
        parts = index if isinstance(index, tuple) else (index,)
        return "[" + ", ".join(_index_part(i) for i in parts) + "]", ""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", cls.removesuffix("Op")).lower()
    name = OP_SYMBOLS.get(cls) or words  # "LogSoftmaxOp" -> "log_softmax"
    shown = [_option(k, v) for k, v in options.items() if isinstance(v, SHOWN) and v is not False]
    return name, ", ".join(shown)


def _index_part(i):
    if isinstance(i, slice):  # as written: "4:", ":2", "::2", "1:5:2", ":"
        text = ":".join("" if x is None else str(x) for x in (i.start, i.stop))
        return text if i.step is None else f"{text}:{i.step}"
    if i is Ellipsis:
        return "..."
    if isinstance(i, list):  # x[[3, 1, 4]]: shown as the array it is read as
        i = np.asarray(i)
    if hasattr(i, "shape") and getattr(i, "ndim", 0) > 0:  # x[ids], or x[mask] (a bool mask)
        return f"{'bool mask' if i.dtype == bool else 'ints'}{tuple(i.shape)}"
    return str(i)


def _option(key, value):
    """`key=value` with arrays shown by shape only (a mask of 4096 booleans is no label)."""
    if isinstance(value, np.ndarray) and value.size > 1:
        return f"{key}={value.dtype}{value.shape}"
    if isinstance(value, float):
        return f"{key}={value:g}"
    text = f"{key}={value}"
    return text if len(text) <= 24 else text[:22] + "…"


def values(array):
    """The elements of a small array, each written as `number` writes it: `2.0000`, `1e-05`,
    `[1.5000, -2.0000]`, `5`, `True`; of a long one, the first and last two."""
    array = np.asarray(array)
    if array.size == 1:
        return number(array.item())
    each = {"all": number}
    return np.array2string(array, separator=", ", threshold=SMALL, edgeitems=2, formatter=each)


def number(value):
    """One element, as micrograd writes data: floats with 4 decimals (4 significant digits
    where decimals would hide them: `1e-05`, `2.5e+07`), integers and booleans as they are."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    value = float(value)  # a float16's own comparison with 1e5 would overflow
    fixed = value == 0 or 1e-3 <= abs(value) < 1e5  # else 4 decimals would hide it
    return f"{value:.4f}" if fixed else f"{value:.4g}"


def shape_text(shape):
    return str(tuple(shape))


def shape_word(shape):
    """`scalar` for a 0-D tensor (shape `()`), else its shape: `(2, 3)`."""
    return "scalar" if len(shape) == 0 else shape_text(shape)


def rule(ctx, slot):
    """The backward rule for input `slot` of op `ctx`, e.g. `dA = G @ Bᵀ` (G is dL/d(output))."""
    rules = type(ctx).rules
    if slot < len(rules):
        return rules[slot]
    return rules[0] if len(rules) == 1 else ""


def broadcast_notes(ctx, output):
    """For each input: the sum that undoes broadcasting on its gradient, or "" where none.

    The op's backward returns each input's gradient in the broadcast shape; the engine then
    sums it over the new leading axes and the stretched size-1 axes (`engine.backward.unbroadcast`).
    Running backward once on a zero gradient tells those shapes exactly (on a fresh copy of the
    node: backward may have freed what the recorded one saved).
    """
    if not ctx.differentiable:  # no backward to run (floor_divide), so no sums to tell
        return [""] * len(ctx.inputs)
    fresh, _ = rerun(ctx)
    grads = fresh.backward(np.zeros(output.shape, dtype=output.dtype))
    notes = []
    for inp, g in zip(ctx.inputs, grads, strict=True):
        if g is None or inp is None or g.shape == inp.shape:
            notes.append("")
            continue
        extra = g.ndim - inp.ndim
        axes = list(range(extra)) + [
            extra + i for i, n in enumerate(inp.shape) if n == 1 and g.shape[extra + i] != 1
        ]
        word = "axis" if len(axes) == 1 else "axes"
        notes.append(f"then sum over {word} {', '.join(map(str, axes))}")
    return notes


def norm(array):
    """The Euclidean norm of `array` as text, summed in float64: a float16 gradient's squares
    overflow at 256 (its norm showed `inf`), and would warn even where no norm is shown."""
    return f"{np.linalg.norm(np.asarray(array, dtype=np.float64)):.4g}"


def table(title, lines, first=None):
    """An HTML-like label: `title` in bold (or `first` in plain type) over smaller lines."""
    rows = [f"<b>{_escape(title)}</b>"] if title else []
    rows += [_escape(first)] if first else []
    rows += [f'<font point-size="10">{_escape(line)}</font>' for line in lines]
    body = "".join(f"<tr><td>{row}</td></tr>" for row in rows)
    return f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">{body}</table>>'


def plain(text):
    """Text for a plain (not HTML-like) label, shown as written: `graphviz.escape` doubles the
    backslashes and keeps a name like `<i>` from being read as HTML."""
    return graphviz.escape(_printable(text))


def _escape(text):
    """Text for an HTML-like label: entities for `& < > "`, backslashes doubled (`\\\\` shows one
    backslash; `\\G` would show the graph's name), newlines as line breaks, and a leading `]` as
    an entity too (Graphviz 2.43 cannot read a cell that holds `]` or `]]` alone)."""
    text = html.escape(_printable(text)).replace("\\", "\\\\").replace("\n", "<br/>")
    return "&#93;" + text[1:] if text.startswith("]") else text


def _printable(text):
    """`text` with control characters written out (`\\x1b`) and lone surrogates as U+FFFD."""
    text = SURROGATE.sub("\ufffd", str(text))
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)

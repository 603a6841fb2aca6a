"""Learning BPE merges from text: a reference trainer to read, and a fast one to use.

Both take the corpus as chunks (the pieces the split pattern cut it into, see `patterns.py`),
either as a list of bytes (repeats allowed) or as a `{chunk: count}` mapping (the same corpus,
counted), and return the list of merged pairs in order; the i-th pair becomes token `256 + i`.
Each step merges the most frequent adjacent pair, counting overlapping pairs within each chunk
and never across chunks. Ties go to the smallest `(left_id, right_id)`, so training is
deterministic.

    >>> train_reference([b"aaabdaaabac"], 3)   # Wikipedia's example: Z=aa, Y=ab, X=ZY
    [(97, 97), (97, 98), (256, 257)]

By hand: "aaabdaaabac" holds aa 4 times (overlapping), ab twice, the rest once; aa becomes
Z = 256, giving "ZabdZabac". Now Za and ab both occur twice; the tie goes to the smaller pair
(97, 98), so ab becomes Y = 257: "ZYdZYac". Then ZY becomes X = 258: "XdXac".

The reference trainer recounts every pair of the whole corpus after each merge: obviously right,
but each merge costs a pass over the corpus. The fast trainer keeps an index from each pair to
the places it occurs and a heap of pair counts; a merge then updates only the counts of the pairs
around each of its occurrences. Both count each distinct chunk once, weighted by its frequency.
"""

import heapq
from array import array
from collections import Counter

import numpy as np

from tokenizer.base import get_stats, merge


def train_reference(chunks, num_merges):
    """The textbook trainer: `num_merges` times, count all pairs and merge the most frequent.

    Returns the merged pairs in order; stops early when no pair is left (every chunk is a single
    token).
    """
    counted = Counter(chunks)  # each distinct chunk once, with the number of times it occurs
    parts, weights = [list(chunk) for chunk in counted], list(counted.values())
    merges = []
    for step in range(num_merges):
        stats = {}
        for ids, weight in zip(parts, weights, strict=True):
            get_stats(ids, stats, weight)
        if not stats:
            break
        pair = max(stats, key=lambda p: (stats[p], -p[0], -p[1]))
        parts = [merge(ids, pair, 256 + step) for ids in parts]
        merges.append(pair)
    return merges


END, GONE = -1, -2
"""Ids no token has: END fills the slot after each chunk, so that no pair reaches from one chunk
into the next; GONE marks the slot of a token that a merge joined to its left neighbour."""

BULK = 64
"""A merge with at least this many places to visit is applied to all of them at once with NumPy
(`_Corpus.merge_bulk`); fewer are cheaper one by one in Python (`_Corpus.merge_each`)."""


def train_fast(chunks, num_merges, verbose=False):
    """Same result as `train_reference`, with each merge costing only its own occurrences.

    The corpus (`_Corpus`) holds every distinct chunk's tokens end to end, each pair's total
    count and the positions where it occurs. A heap finds the most frequent pair: counts only go
    down once a pair exists, so an entry whose count no longer matches is stale, and is pushed
    back with the true count when it reaches the top. An entry is the one int
    `pair - count * span`, with every pair below `span`: it sorts as `(-count, pair)` would (most
    frequent first, ties to the smallest pair, the reference's tie-break), and ints compare
    faster than tuples.
    """
    width = 256 + num_merges  # every id is below `width`
    corpus = _Corpus(Counter(chunks), width)
    counts = corpus.counts
    span = width * width
    heap = [pair - count * span for pair, count in counts.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < num_merges and heap:
        neg_count, pair = divmod(heap[0], span)
        count = counts[pair]
        if count != -neg_count:  # stale: the count went down since the push
            if count > 0:
                heapq.heapreplace(heap, pair - count * span)
            else:
                heapq.heappop(heap)
            continue
        heapq.heappop(heap)
        left, right = divmod(pair, width)
        idx = 256 + len(merges)
        merges.append((left, right))
        if verbose:
            print(
                f"merge {len(merges)}/{num_merges}: {(left, right)} -> {idx} ({count} occurrences)"
            )
        positions = sorted(corpus.where.pop(pair))  # left to right, as `merge` goes
        born = {}  # the pairs this merge makes -> the slots where it makes them
        if len(positions) >= BULK and left != right:
            corpus.merge_bulk(left, right, idx, positions, born)
        else:
            corpus.merge_each(left, right, idx, positions, born)
        corpus.where.update(born)
        del counts[pair]  # now zero: no occurrence is left
        for new in born:  # the pairs made by this merge: they need a heap entry
            if counts[new] > 0:
                heapq.heappush(heap, new - counts[new] * span)
    return merges


class _Corpus:
    """The distinct chunks of a corpus as one linked list of tokens, indexed by pair.

    Attributes:
      ids       every distinct chunk's tokens, laid end to end, END after each (and before the
                first); a merge writes the new id at the left token's slot and GONE at the
                right one's;
      freq      freq[i] is the number of times slot i's chunk occurs in the corpus;
      nxt, prv  the slots of the live neighbours of each live token;
      counts    pair -> its total count over the corpus;
      where     pair -> the slots where it started when it was made (in no particular order);
                an occurrence that a later merge took apart stays listed, and is recognised
                and skipped.
    A pair (left, right) is the int `left * width + right`: it hashes and compares faster than a
    tuple, and orders the same way.

    `ids`, `freq`, `nxt` and `prv` are `array.array`s, which Python indexes about as fast as a
    list, and `np_ids`, ... are NumPy arrays over the same memory (`np.frombuffer`), so the two
    ways of merging below work on one state.
    """

    def __init__(self, counted, width):
        self.width = width
        chunks = list(counted)
        lengths = np.fromiter(map(len, chunks), np.int64, len(chunks))
        tokens = np.frombuffer(b"".join(chunks), np.uint8)
        # chunk c starts after the c + 1 ENDs that precede it: slot 0 and one after each chunk
        slots = np.arange(len(tokens)) + np.repeat(np.arange(len(chunks)), lengths) + 1
        ids = np.full(len(tokens) + len(chunks) + 1, END, np.int64)
        ids[slots] = tokens
        freq = np.zeros_like(ids)
        freq[slots] = np.repeat(np.fromiter(counted.values(), np.int64, len(chunks)), lengths)
        self.ids, self.np_ids = _shared(ids)
        self.freq, self.np_freq = _shared(freq)
        self.nxt, self.np_nxt = _shared(np.arange(1, len(ids) + 1))
        self.prv, self.np_prv = _shared(np.arange(-1, len(ids) - 1))
        starts = np.flatnonzero((ids[:-1] >= 0) & (ids[1:] >= 0))  # a token followed by one
        pairs = ids[starts] * width + ids[starts + 1]
        self.counts, self.where = {}, {}
        for pair, count, at in _grouped(pairs, starts, freq[starts]):
            self.counts[pair] = count
            self.where[pair] = at

    def merge_each(self, a, b, idx, positions, born):
        """Merge the pair (a, b) into `idx` at each of `positions` (ascending) that still holds
        it, one by one, as `merge` does; add each new pair's slots to `born`."""
        ids, freq, nxt, prv = self.ids, self.freq, self.nxt, self.prv
        counts, width = self.counts, self.width
        for i in positions:
            j = nxt[i]
            if ids[i] != a or ids[j] != b:
                continue  # stale: an earlier merge took this occurrence apart
            w = freq[i]
            before, after = prv[i], nxt[j]
            x, y = ids[before], ids[after]
            if x >= 0:  # (x, a) becomes (x, idx)
                counts[x * width + a] -= w
                new = x * width + idx
                counts[new] = counts.get(new, 0) + w
                born.setdefault(new, []).append(before)
            if y >= 0:  # (b, y) becomes (idx, y)
                counts[b * width + y] -= w
                new = idx * width + y
                counts[new] = counts.get(new, 0) + w
                born.setdefault(new, []).append(i)
            ids[i], ids[j], nxt[i], prv[after] = idx, GONE, after, i

    def merge_bulk(self, a, b, idx, positions, born):
        """`merge_each` for a pair of two different tokens, with NumPy, all occurrences at once.

        Two occurrences of (a, b) with a != b never overlap, so the neighbours of all of them can
        be read before any is merged, except where two touch (a b a b: the second one's left
        neighbour becomes the first one's new token). Touching occurrences are rare, and go to
        `merge_each` after the others: neither group reads a slot that the other one writes.
        """
        ids, nxt, prv = self.np_ids, self.np_nxt, self.np_prv
        i = np.asarray(positions)
        i = i[ids[i] == a]
        j = nxt[i]
        holds = ids[j] == b
        i, j = i[holds], j[holds]
        after = nxt[j]
        touch = after[:-1] == i[1:]  # occurrence k touches occurrence k + 1
        if touch.any():
            chained = np.zeros(len(i), bool)
            chained[:-1] |= touch
            chained[1:] |= touch
            later = i[chained].tolist()
            i, j, after = i[~chained], j[~chained], after[~chained]
        before, w = prv[i], self.np_freq[i]
        x, y = ids[before], ids[after]
        has_x, has_y = x >= 0, y >= 0
        width, counts = self.width, self.counts
        new = np.concatenate([x[has_x] * width + idx, idx * width + y[has_y]])
        at = np.concatenate([before[has_x], i[has_y]])
        weights = np.concatenate([w[has_x], w[has_y]])
        for pair, count, slots in _grouped(new, at, weights):
            left, right = divmod(pair, width)
            old = b * width + right if left == idx else left * width + a
            counts[old] -= count  # (x, a) becomes (x, idx), or (b, y) becomes (idx, y)
            counts[pair] = count  # a new pair: `merge_each` may add the touching ones' after
            born[pair] = slots
        ids[i], ids[j], nxt[i], prv[after] = idx, GONE, after, i
        if touch.any():
            self.merge_each(a, b, idx, later, born)


def _grouped(keys, positions, weights):
    """(key, total weight, list of positions) for each distinct key, in key order.

    >>> _grouped(np.array([7, 3, 7]), np.array([10, 11, 12]), np.array([1, 2, 5]))
    [(3, 2, [11]), (7, 6, [10, 12])]
    """
    if len(keys) == 0:
        return []
    order = np.argsort(keys, kind="stable")  # stable: each key's positions keep their order
    keys, weights = keys[order], weights[order]
    positions = positions[order].tolist()
    first = np.empty(len(keys), bool)  # where a run of equal keys starts
    first[0] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    totals = np.add.reduceat(weights, starts).tolist()
    bounds = starts.tolist() + [len(keys)]
    return [
        (key, total, positions[bounds[g] : bounds[g + 1]])
        for g, (key, total) in enumerate(zip(keys[starts].tolist(), totals, strict=True))
    ]


def _shared(values):
    """An int64 `array.array` holding `values`, and a NumPy array over the same memory."""
    memory = array("q", values.astype(np.int64).tobytes())
    return memory, np.frombuffer(memory, np.int64)

"""Encoding chunks fast: the same tokens as `base.apply_merges`, with less Python per merge.

`apply_merges` is the definition: merge the lowest-ranked pair everywhere, again and again. The
encoders here merge one occurrence at a time instead, the lowest-ranked pair's leftmost one,
which gives the same tokens: the pairs a merge makes hold its new token, so they rank after it
(no merge can use a token before the merge that makes it), and the lowest rank left is the same
pair's next occurrence to the right, as long as there is one.

- `apply_merges_fast`: one chunk; the search for the next merge runs inside C.
- `_apply_merges_heap`: one long chunk, in n log n.
- `ChunkEncoder.encode_many`: many chunks at once, in step, with NumPy.
"""

import heapq
from itertools import pairwise, repeat

import numpy as np

LONG_CHUNK = 64
"""Chunks of at least this many tokens are merged with a heap (n log n) instead of the scan of
`apply_merges_fast`, which costs a pass over the chunk per merge (n squared on long chunks)."""

NO_MERGE = (float("inf"), None)
"""The `(rank, new_id)` of a pair that is not a merge: it ranks after every merge."""

END, GONE = -1, -2
"""Ids no token has: END fills the slot after each chunk laid out by `encode_many`, GONE marks
the slot of a token that a merge joined to its left neighbour."""


def apply_merges_fast(ids, ranks):
    """Same result as `apply_merges`, with the work of each merge done inside C.

    `pair_ranks[i]` is the `(rank, new_id)` of the pair `(ids[i], ids[i + 1])`, so the next merge
    is `min(pair_ranks)` and its place `pair_ranks.index(...)`: loops that run in C, with no
    Python call per pair. A merge then looks up only the two pairs around it.

    >>> ranks = {(97, 97): (0, 256), (256, 97): (1, 257)}
    >>> apply_merges_fast(list(b"aaaa"), ranks), apply_merges_fast(list(b"aaa"), ranks)
    ([256, 256], [257])
    """
    if len(ids) >= LONG_CHUNK:
        return _apply_merges_heap(ids, ranks)
    ids = list(ids)
    rank_of = ranks.get
    pair_ranks = list(map(rank_of, pairwise(ids), repeat(NO_MERGE)))
    while pair_ranks:
        best = min(pair_ranks)
        if best is NO_MERGE:  # no pair left is a merge
            break
        i = pair_ranks.index(best)
        ids[i] = best[1]
        del ids[i + 1], pair_ranks[i]
        if i > 0:
            pair_ranks[i - 1] = rank_of((ids[i - 1], ids[i]), NO_MERGE)
        if i < len(pair_ranks):
            pair_ranks[i] = rank_of((ids[i], ids[i + 1]), NO_MERGE)
    return ids


def _apply_merges_heap(ids, ranks):
    """`apply_merges_fast` for long chunks, in O(n log n) instead of O(n^2).

    The tokens form a linked list (`nxt`, `prv`, by original position), and a heap holds
    `(rank, position, left, right)` for every mergeable adjacent pair. Merging may make heap
    entries stale (a neighbour changed); those are recognised and skipped when popped. Equal
    ranks pop leftmost first, which is the left-to-right order of `merge`.
    """
    ids = list(ids)
    n = len(ids)
    nxt = list(range(1, n + 1))
    prv = list(range(-1, n - 1))
    heap = [(ranks[p][0], i, *p) for i, p in enumerate(pairwise(ids)) if p in ranks]
    heapq.heapify(heap)
    while heap:
        _, i, left, right = heapq.heappop(heap)
        j = nxt[i]
        if ids[i] is None or j >= n or ids[i] != left or ids[j] != right:
            continue  # stale: this pair is no longer there
        ids[i] = ranks[left, right][1]
        ids[j] = None
        nxt[i] = nxt[j]
        if nxt[i] < n:
            prv[nxt[i]] = i
        for a, b in ((prv[i], i), (i, nxt[i])):
            if a >= 0 and b < n and (ids[a], ids[b]) in ranks:
                heapq.heappush(heap, (ranks[ids[a], ids[b]][0], a, ids[a], ids[b]))
    return [t for t in ids if t is not None]


class ChunkEncoder:
    """Encodes chunks (UTF-8 bytes) with one vocabulary's merges.

    Attributes:
      byte_ids  byte_ids[b] is the id of the single byte b;
      ranks     {(left_id, right_id): (rank, new_id)}, rank 0 first, as `apply_merges` takes;
      keys      every merge's pair as the int `left * width + right` (every id is below
                `width`), sorted for `np.searchsorted`; `key_ranks[k]` is the rank of the pair
                `keys[k]`, and `new_ids[r]` the id the merge of rank r makes.
    """

    def __init__(self, byte_ids, merges):
        self.byte_ids = list(byte_ids)
        self.ranks = {pair: (rank, idx) for rank, (pair, idx) in enumerate(merges.items())}
        self.width = 1 + max([*self.byte_ids, *merges.values()])
        pairs = np.array(list(merges), np.int64).reshape(-1, 2)
        keys = pairs[:, 0] * self.width + pairs[:, 1]
        self.key_ranks = np.argsort(keys)
        self.keys = keys[self.key_ranks]
        self.new_ids = np.array(list(merges.values()), np.int64)
        self._identity = self.byte_ids == list(range(256))
        self._byte_pair_ranks = None  # made by the first `encode_many`

    def encode(self, data):
        """The token ids of one chunk."""
        ids = list(data) if self._identity else [self.byte_ids[b] for b in data]
        return apply_merges_fast(ids, self.ranks)

    def encode_many(self, chunks):
        """`[self.encode(data) for data in chunks]`, with the short chunks all encoded at once."""
        if not self.ranks:
            return [self.encode(data) for data in chunks]
        short = iter(self._encode_in_step([data for data in chunks if len(data) < LONG_CHUNK]))
        return [next(short) if len(data) < LONG_CHUNK else self.encode(data) for data in chunks]

    def _encode_in_step(self, chunks):
        """The token ids of each chunk, all chunks merged in step with NumPy.

        Chunks never share a merge, so they can all be encoded together: their tokens lie end to
        end in one array (END after each, linked by `nxt` and `prv`), and in each round every
        chunk that still holds a mergeable pair merges its lowest-ranked one, leftmost first,
        with a dozen NumPy calls for all of them. `rank_at[s]` is `rank * n + s` for the pair
        that starts at slot s (at least `none` when it is no merge), so one
        `np.minimum.reduceat` over each chunk's slots finds every chunk's lowest rank and, among
        equal ranks, its leftmost slot. There are as many rounds as the most merges any one
        chunk needs, hence short chunks only.
        """
        lengths = np.fromiter(map(len, chunks), np.int64, len(chunks))
        n = int(lengths.sum()) + len(chunks) + 1
        # the bytes of each chunk, 256 for END: chunk c follows the c + 1 ENDs before it
        raw = np.full(n, 256, np.int64)
        raw[np.arange(n - len(chunks) - 1) + np.repeat(np.arange(len(chunks)), lengths) + 1] = (
            np.frombuffer(b"".join(chunks), np.uint8)
        )
        ids = np.array([*self.byte_ids, END], np.int64)[raw]
        nxt, prv = np.arange(1, n + 1), np.arange(-1, n - 1)
        none = len(self.new_ids) * n  # every rank * n + slot is below it
        rank_at = np.full(n, none, np.int64)
        rank_at[:-1] = self._byte_pair_ranks_table()[raw[:-1] * 257 + raw[1:]] * n + np.arange(
            n - 1
        )
        active = (np.cumsum(lengths + 1) - lengths)[lengths >= 2]  # chunks that may still merge
        while len(active):
            # each chunk's slots run on to the next active chunk: the ones between hold no merge
            best = np.minimum.reduceat(rank_at, active)
            active, best = active[best < none], best[best < none]
            rank, i = np.divmod(best, n)
            j = nxt[i]
            before, after, new = prv[i], nxt[j], self.new_ids[rank]
            ids[i], ids[j], nxt[i], prv[after], rank_at[j] = new, GONE, after, i, none
            rank_at[i] = self._ranks_of(new, ids[after]) * n + i
            rank_at[before] = self._ranks_of(ids[before], new) * n + before
        kept = ids[ids != GONE]
        ends = np.flatnonzero(kept == END)
        return list(map(kept.tolist().__getitem__, map(slice, ends[:-1] + 1, ends[1:])))

    def _ranks_of(self, left, right):
        """The rank of each pair (left, right) of ids, or len(merges) for no merge."""
        keys = left * self.width + right
        k = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        found = (left >= 0) & (right >= 0) & (self.keys[k] == keys)
        return np.where(found, self.key_ranks[k], len(self.new_ids))

    def _byte_pair_ranks_table(self):
        """`_ranks_of` for all pairs of two bytes (or END, as 256), a table of 257 * 257."""
        if self._byte_pair_ranks is None:
            ids = np.array([*self.byte_ids, END], np.int64)
            self._byte_pair_ranks = self._ranks_of(np.repeat(ids, 257), np.tile(ids, 257))
        return self._byte_pair_ranks

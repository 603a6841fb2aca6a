"""Learning BPE merges from text: a reference trainer to read, and a fast one to use.

Both take the corpus as chunks (the pieces the split pattern cut it into, see `patterns.py`)
and return the list of merged pairs in order; the i-th pair becomes token `256 + i`. Each step
merges the most frequent adjacent pair, counting overlapping pairs within each chunk and never
across chunks. Ties go to the smallest `(left_id, right_id)`, so training is deterministic.

    >>> train_reference([b"aaabdaaabac"], 3)   # Wikipedia's example: Z=aa, Y=ab, X=ZY
    [(97, 97), (97, 98), (256, 257)]

By hand: "aaabdaaabac" holds aa 4 times (overlapping), ab twice, the rest once; aa becomes
Z = 256, giving "ZabdZabac". Now Za and ab both occur twice; the tie goes to the smaller pair
(97, 98), so ab becomes Y = 257: "ZYdZYac". Then ZY becomes X = 258: "XdXac".

The reference trainer recounts every pair of the whole corpus after each merge: obviously right,
but each merge costs a pass over the corpus. The fast trainer counts each distinct chunk once
(with its frequency), keeps an index from each pair to the places it occurs and a heap of pair
counts; a merge then updates only the counts of the pairs around each of its occurrences.
"""

import heapq
from collections import Counter, defaultdict

from tokenizer.base import get_stats, merge


def train_reference(chunks, num_merges):
    """The textbook trainer: `num_merges` times, count all pairs and merge the most frequent.

    `chunks` is a list of bytes (repeats allowed). Returns the merged pairs in order; stops
    early when no pair is left (every chunk is a single token).
    """
    parts = [list(chunk) for chunk in chunks]
    merges = []
    for step in range(num_merges):
        stats = {}
        for ids in parts:
            get_stats(ids, stats)
        if not stats:
            break
        pair = max(stats, key=lambda p: (stats[p], -p[0], -p[1]))
        parts = [merge(ids, pair, 256 + step) for ids in parts]
        merges.append(pair)
    return merges


def train_fast(chunks, num_merges, verbose=False):
    """Same result as `train_reference`, with each merge costing only its own occurrences.

    State:
      ids     every distinct chunk's tokens, laid end to end in one list, with `freq[i]` the
              number of times position i's chunk occurs in the corpus;
      nxt/prv links between neighbouring tokens of a chunk (-1 at a chunk's ends); a merge
              unlinks the right token and sets its id to None;
      counts  pair -> total count over the corpus;
      where   pair -> positions where it starts (stale ones are checked and skipped);
      heap    (-count, pair) entries; an entry whose count no longer matches `counts` is stale
              and is dropped (or re-pushed with the current count) when it reaches the top.
    """
    ids, freq, nxt, prv = [], [], [], []
    for chunk, count in Counter(chunk for chunk in chunks if chunk).items():
        start, n = len(ids), len(chunk)
        ids += chunk
        freq += [count] * n
        nxt += [*range(start + 1, start + n), -1]
        prv += [-1, *range(start, start + n - 1)]
    counts, where = defaultdict(int), defaultdict(set)
    for i, j in enumerate(nxt):
        if j >= 0:
            counts[ids[i], ids[j]] += freq[i]
            where[ids[i], ids[j]].add(i)
    heap = [(-count, pair) for pair, count in counts.items()]
    heapq.heapify(heap)

    changed = set()  # the pairs whose count went up during the current merge

    def move(old, new, at, weight):
        """One occurrence of the pair `old` becomes `new`, starting at position `at`."""
        counts[old] -= weight
        counts[new] += weight
        where[new].add(at)
        changed.add(new)

    merges = []
    while len(merges) < num_merges and heap:
        neg_count, pair = heapq.heappop(heap)
        if counts[pair] != -neg_count:  # stale entry: the count went down since the push
            if counts[pair] > 0:
                heapq.heappush(heap, (-counts[pair], pair))
            continue
        idx = 256 + len(merges)
        merges.append(pair)
        if verbose:
            print(f"merge {len(merges)}/{num_merges}: {pair} -> {idx} ({-neg_count} occurrences)")
        changed.clear()
        for i in sorted(where.pop(pair)):  # left to right, as merge() does
            j = nxt[i]
            if ids[i] != pair[0] or j < 0 or ids[j] != pair[1]:
                continue  # stale: this occurrence was consumed by an earlier merge
            before, after = prv[i], nxt[j]
            if before >= 0:  # (x, a) becomes (x, new)
                move((ids[before], ids[i]), (ids[before], idx), before, freq[i])
            if after >= 0:  # (b, y) becomes (new, y)
                move((ids[j], ids[after]), (idx, ids[after]), i, freq[i])
                prv[after] = i
            counts[pair] -= freq[i]
            ids[i], ids[j], nxt[i] = idx, None, after
        del counts[pair]  # now zero: no occurrence is left
        for p in changed:  # these counts went up: they need a fresh heap entry
            if counts[p] > 0:
                heapq.heappush(heap, (-counts[p], p))
    return merges

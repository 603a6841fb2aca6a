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
(with its frequency), keeps an index from each pair to the chunks that contain it and a heap of
pair counts, and after a merge it recounts only the chunks that held the merged pair.
"""

import heapq
from collections import Counter
from itertools import pairwise

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
    """Same result as `train_reference`, with each merge costing only the chunks it touches.

    State:
      words  the distinct chunks as token lists, `freqs` how often each occurs in the corpus;
      counts pair -> its total count over the corpus;
      where  pair -> indices of the words that contain it (may include stale entries);
      heap   (-count, pair) entries; an entry whose count no longer matches `counts` is stale
             and is skipped (or re-pushed with the current count) when it reaches the top.
    """
    distinct = Counter(chunks)
    words = [list(chunk) for chunk in distinct]
    freqs = list(distinct.values())
    counts, where = {}, {}
    for w, ids in enumerate(words):
        get_stats(ids, counts, freqs[w])
        for pair in pairwise(ids):
            where.setdefault(pair, set()).add(w)
    heap = [(-count, pair) for pair, count in counts.items()]
    heapq.heapify(heap)

    merges = []
    while len(merges) < num_merges and heap:
        neg_count, pair = heapq.heappop(heap)
        count = counts.get(pair, 0)
        if count != -neg_count:  # stale entry: its count went down since it was pushed
            if count > 0:
                heapq.heappush(heap, (-count, pair))
            continue
        idx = 256 + len(merges)
        merges.append(pair)
        if verbose:
            print(f"merge {len(merges)}/{num_merges}: {pair} -> {idx} ({count} occurrences)")
        changed = set()
        for w in where.pop(pair):
            old = words[w]
            new = merge(old, pair, idx)
            if len(new) == len(old):
                continue  # stale index entry: this word no longer holds the pair
            for p in pairwise(old):
                counts[p] -= freqs[w]
            for p in pairwise(new):
                counts[p] = counts.get(p, 0) + freqs[w]
                where.setdefault(p, set()).add(w)
                changed.add(p)
            words[w] = new
        del counts[pair]  # now zero: merge() left no occurrence behind
        for p in changed:  # counts that may have gone up need a fresh heap entry
            heapq.heappush(heap, (-counts[p], p))
    return merges

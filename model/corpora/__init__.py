"""Generated toy corpora: a story grammar and addition problems. Use them through `model.corpus`.

grammar.py (a probabilistic grammar that can parse its own text), stories.py (the story
grammar and its exact entropy), addition.py (sums with a held-out test set).
"""

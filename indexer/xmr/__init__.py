"""Session-aware XR-Linear ranker, offline side: featuriser, hybrid trie-tree, per-level rankers.

`features` and `params` are shared with the server (`autocomplete.xmr_ranker`); the rest runs
only at build time.
"""

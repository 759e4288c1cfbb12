"""Session-aware XR-Linear, training side: examples, hybrid trie-tree, per-level rankers.

What is learned here is served by `autocomplete.model.xmr.XMRModel` and written through it.
"""

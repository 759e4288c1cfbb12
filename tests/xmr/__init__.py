"""Tests of the session-aware XR-Linear ranker (indexer.xmr, autocomplete.xmr_ranker)."""

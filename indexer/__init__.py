"""Offline side: query log -> sessions and time split -> shared tables -> XR-Linear training.

Writes every artifact through its owner in `autocomplete.model` (the one package it imports);
the blend is fitted afterwards by `autocomplete.build`. Also holds the pure pieces the
evaluator and the server share: text normalisation, sessions, quality metrics.
"""

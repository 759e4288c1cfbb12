"""Offline side: query log -> training pairs -> features -> hybrid index -> artifacts.

Also holds the pure pieces the server shares (text normalisation, featuriser, artifact format).
"""

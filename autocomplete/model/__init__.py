"""Every serving artifact of an index directory, each with the one type that writes and reads it.

    manifest.json                  `manifest` (format version, checksums; checked by `artifact`)
    labels*, endings*, transitions*   `labels.LabelTable.save` / `labels.LabelIndex.load`
    xmr_words, xmr_grams, xmr_idf, xmr_featurizer   `featurizer.Featurizer` (version inside)
    xmr_cptr_{l}, xmr_perm         `tree.HybridTree`
    xmr_w_{l}, xmr_b_{l}, xmr_wt_{l}   `levels.LevelWeights`
    xmr_vkey_{l}, xmr_model        `xmr.XMRModel` (the chain above; `xmr.RankParams` inside)
    xmr_trans, xmr_label_words     `session.SessionTables`
    blend                          `weights.BlendWeights` (fitted at build, version inside)

The indexer writes through these types and the server reads through them; this package
imports nothing else of the project. `buckets` is the one definition of prefix-length buckets;
`analyzer` holds the featuriser's pure text analyzers.
"""

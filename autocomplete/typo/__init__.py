"""Spelling tolerance: the prefixes a user with a typo probably meant.

`edits` is the engine (every one-edit variant of a string, probed against sorted keys at
once); `corrector` is the policy (`TypoCorrector.spellings`: which words look wrong, which
variants are frequent enough to be what was meant).
"""

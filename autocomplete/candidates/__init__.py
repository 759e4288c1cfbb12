"""Where the blend's suggestions come from: `schema` (the feature columns and the candidate
set) and `generator` (the sources that fill them for one keystroke)."""

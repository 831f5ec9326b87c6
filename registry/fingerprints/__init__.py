"""Near-copy fingerprint engines.

Images: `image` turns a picture into binary descriptors, `matching` finds registered
works whose descriptors are close in Hamming distance (its visual-word inverted file is
in `words`), `evalset` builds the labelled evaluation set used to calibrate and measure
both (scripts/eval_fingerprints.py). Clips: `video`, `alignment`, and the exact frame-hash
index in `index`. Indexes are made of immutable segments (`segments` names their files);
`live` is the per-process cache of the database that the API searches. `descriptors` is
the JSON form of a query's descriptors, for clients that match without uploading.
Typed errors for untrusted uploads live in `errors`.
"""

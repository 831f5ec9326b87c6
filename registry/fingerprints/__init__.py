"""Near-copy fingerprint engines (pure library: no database, no web).

Images: `image` turns a picture into binary descriptors, `matching` finds registered
works whose descriptors are close in Hamming distance, `evalset` builds the labelled
evaluation set used to calibrate and measure both (scripts/eval_fingerprints.py).
Typed errors for untrusted uploads live in `errors`.
"""

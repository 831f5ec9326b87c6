"""Interchange documents: a source version as Croissant and as a Hugging Face dataset card,
a model as SPDX 3; each read with the scoping of the record it describes."""

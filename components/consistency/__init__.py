"""Consistency training (FixMatch, with FlexMatch/FreeMatch thresholds): labeled + unlabeled images -> classifier.

Nothing heavy is imported here: `spec` (config, keys) is light enough for
pipeline construction; the training code (`consistency`, `fixmatch`) loads
TensorFlow and augment_ops when the executor runs.
"""

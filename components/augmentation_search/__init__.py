"""Augmentation search: a two-pass search that picks an augment_ops policy for the data.

Modules: candidates (search space), distances (pass 1 effects, Frechet
distance), clustering, trials (pass 2 short trainings), selection (choice
rule), search_policy (policies in augment_ops form), compiled_ops (fast
policy runs), proxy, box_prior (detection), report, augmentation_search
(both passes without TFX), spec / component / executor (TFX).
"""

"""Autofit: profile the data, plan which techniques to try, build the TFX DAG, select the champion.

Nothing here imports TFX at module level: the plan and its validation run
before the (slow) pipeline imports, so config mistakes are reported at once.
"""

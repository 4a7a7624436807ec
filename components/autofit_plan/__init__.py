"""AutofitPlan: records the plan autofit made when the pipeline was built, as an artifact in lineage."""

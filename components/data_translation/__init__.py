"""Data translation: image datasets in common formats -> canonical Examples + DataSpec.

Use `component.DataTranslation` in a pipeline, or `translation.translate()` in
plain Python; both take a `spec.TranslationConfig`.
"""

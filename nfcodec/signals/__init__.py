"""Signals: reading, writing and describing the data a field represents (one module per modality)."""

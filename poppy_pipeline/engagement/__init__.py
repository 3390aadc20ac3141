"""Engagement scores and trending (seed 002), the interaction report, and the engine's files."""

"""Layers 3 and 4: each user's preference over the engine's 21 categories, learned from their events
and measured against the simulation's truth (or held-out Likes on real data)."""

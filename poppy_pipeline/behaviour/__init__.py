"""Browsing behaviour of seed 001: the behaviour model, sessions of actions, the oracle, and the sliding
windows of actions with their 20 features."""

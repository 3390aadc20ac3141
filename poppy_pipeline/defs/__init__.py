"""The Dagster layer: assets, checks, IO managers, resources, jobs and schedules.

Each asset lives in the module of its own name (with its checks), so `celestial_objects` is in
`defs/celestial_objects.py`. The computation itself is in the pure modules of `poppy_pipeline`.
"""

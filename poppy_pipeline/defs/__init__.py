"""The Dagster definitions: assets (each with its checks), resource instances, jobs and schedules.

`poppy_pipeline/definitions.py` loads this folder with `dg.load_from_defs_folder`: every module
here is read for definitions, so nothing else belongs here. Each asset lives in the module of
its own name, so `celestial_objects` is in `defs/celestial_objects.py`; `resources.py` binds every
resource, `schedules.py` holds the jobs and schedules. The helpers they share are in
`poppy_pipeline/dagster_support/`, the computation in the pure core (`poppy_pipeline/*.py`).
"""

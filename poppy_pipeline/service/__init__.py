"""The Poppy back end's ML service, served by the pipeline (`make serve`).

An adapter, not core: a small FastAPI app (`app.py`) that answers the back end's
`POST /run-layer/{n}` with the published engine files (`records.py`, `published.py`), and launches
a `run` as a Dagster run through the webserver's GraphQL API (`dagster_runs.py`), one at a time
and shared by concurrent requests for the same layer (`runs.py`). `python -m poppy_pipeline.service`
starts it (`__main__.py`); its settings come from the environment (`settings.py`).
"""

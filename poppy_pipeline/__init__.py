"""poppy_pipeline: the Poppy Universe's interaction data turned into the artifacts its apps run on."""

from poppy_pipeline.common.allocation import tune_allocation

tune_allocation()  # large arrays reuse the process's memory, in small pages (allocation.py)

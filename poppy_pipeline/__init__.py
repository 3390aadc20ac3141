"""poppy_pipeline: the Poppy Universe's interaction data turned into the artifacts its apps run on."""

from poppy_pipeline.allocation import keep_freed_memory

keep_freed_memory()  # large arrays reuse freed memory instead of page-faulting afresh (allocation.py)

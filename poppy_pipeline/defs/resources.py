"""Every resource the definitions use, bound once for the whole code location.

The keys are the names assets ask for: `simulation` (the simulated world's parameters),
`interaction_source` and `action_source` (simulate, or read a real log or the app's database),
`outputs` (the one folder every output goes under; the IO managers take it by key) and one IO
manager per file format. Their classes are in `poppy_pipeline/dagster_support/`; change a
setting through run config (`resources.<key>.config.<field>`) or the environment variables
their fields name.
"""

import dagster as dg

from poppy_pipeline.dagster_support.io_managers import csv_io_manager, onnx_io_manager, pickle_io_manager
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
from poppy_pipeline.dagster_support.simulation_resource import SimulationResource
from poppy_pipeline.dagster_support.source_resources import ActionSourceResource, InteractionSourceResource


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "simulation": SimulationResource(),
            "interaction_source": InteractionSourceResource(),
            "action_source": ActionSourceResource(),
            "outputs": OutputsResource(),
            "csv_io_manager": csv_io_manager,
            "pickle_io_manager": pickle_io_manager,
            "onnx_io_manager": onnx_io_manager,
        }
    )

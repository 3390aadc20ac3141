"""The `simulation` resource: the parameters of the simulated world, one place for all.

Its fields are derived from the core's declarations (`SimulationSettings`, `BehaviourSettings`:
name, type, default, description); add a setting there, not here. Set them in run config
(`resources.simulation.config.<field>`, e.g. from the UI's launchpad or
`dagster asset materialize --config-json`), or for the two most common ones with the environment
variables `POPPY_SEED` and `POPPY_NUM_USERS` (read when the resource is made).
"""

import os
from dataclasses import fields
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import dagster as dg
from pydantic import Field, create_model

from poppy_pipeline.behaviour.model import BehaviourSettings
from poppy_pipeline.common.paths import DEFAULT_OBJECTS_DIR
from poppy_pipeline.simulation.setting_declarations import Setting, SettingsError, declared_settings
from poppy_pipeline.simulation.settings import SimulationSettings


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"environment variable {name} must be an integer, got {raw!r}") from None


def _config_field(setting: Setting) -> tuple[Any, Any]:
    """A declared setting as a pydantic field: its type, default and description (env-overridable)."""
    if setting.env:
        description = f"{setting.description} (${setting.env})"
        return setting.type, Field(
            default_factory=partial(_env_int, setting.env, setting.default), description=description
        )
    # A plain default (pydantic copies a list or dict per instance) is what Dagster's UI shows.
    return setting.type, Field(default=setting.default, description=setting.description)


_DECLARED = declared_settings(SimulationSettings) + declared_settings(BehaviourSettings)
Settings = TypeVar("Settings", bound="DataclassInstance")
if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    class _SimulationFields(dg.ConfigurableResource):
        """The declared settings as fields, made when the module loads (below): to the checker, Any."""

        def __getattr__(self, name: str) -> Any: ...

else:
    _SimulationFields = create_model(
        "_SimulationFields", __base__=dg.ConfigurableResource, **{s.name: _config_field(s) for s in _DECLARED}
    )


class SimulationResource(_SimulationFields):
    """Parameters of the simulated users, interactions and browsing sessions (defaults reproduce seed 000).

    Every field but `objects_dir` is derived from `SimulationSettings` and `BehaviourSettings`.
    """

    objects_dir: str = Field(
        default_factory=lambda: os.environ.get("POPPY_OBJECTS_DIR") or DEFAULT_OBJECTS_DIR,
        description="Folder of stars.csv, planets.csv, moons.csv ($POPPY_OBJECTS_DIR).",
    )

    def settings(self) -> SimulationSettings:
        """The validated pure-core settings; raises `SettingsError` naming a bad field."""
        return _core_settings(self, SimulationSettings)

    def behaviour(self) -> BehaviourSettings:
        """The validated settings of the browsing-session generator; raises `SettingsError` naming a bad field."""
        return _core_settings(self, BehaviourSettings)


def _core_settings(resource: dg.ConfigurableResource, settings_class: type[Settings]) -> Settings:
    return settings_class(**{f.name: getattr(resource, f.name) for f in fields(settings_class)})

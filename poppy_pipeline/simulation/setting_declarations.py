"""How a setting is declared once and refused with one sentence, for every settings class.

`setting(default, description, env=...)` makes a dataclass field that carries its description
(shown in Dagster's UI) and the environment variable that overrides it; `declared_settings` lists
a class's fields as run config sees them, which is how the `simulation` resource derives its config
(`dagster_support/simulation_resource.py`). `require_setting` raises `SettingsError` naming the
setting, its rule and the value given. `SimulationSettings` (`settings.py`) and `BehaviourSettings`
(`behaviour/model.py`) are declared with them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import GenericAlias
from typing import Any, get_args, get_origin, get_type_hints


class SettingsError(ValueError):
    """An invalid simulation setting; the message names the setting."""


@dataclass(frozen=True)
class Setting:
    """One declared setting as run config sees it (lists and dicts, not tuples and mappings)."""

    name: str
    type: Any
    default: Any
    description: str
    env: str | None  # environment variable that overrides the default in the Dagster resource


def setting(default: Any, description: str, *, env: str | None = None) -> Any:
    """A settings dataclass field declared once: default, description (shown in Dagster's UI), env."""
    metadata = {"description": description, "env": env}
    if isinstance(default, dict | list):
        return field(default_factory=lambda: copy.copy(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def declared_settings(settings_class: type) -> list[Setting]:
    """The `setting(...)` fields of a settings dataclass, in declaration order."""
    hints = get_type_hints(settings_class)
    return [
        Setting(
            name=f.name,
            type=_config_type(hints[f.name]),
            default=_config_value(f.default_factory() if callable(f.default_factory) else f.default),
            description=f.metadata["description"],
            env=f.metadata["env"],
        )
        for f in fields(settings_class)
    ]


def _config_type(hint: Any) -> Any:
    """Abstract collection hints become the concrete types that run config carries (`dict[K, V]`)."""
    origin = get_origin(hint)
    if origin is Mapping:
        return GenericAlias(dict, get_args(hint))
    if origin is Sequence:
        return GenericAlias(list, get_args(hint))
    return hint


def _config_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def require_setting(ok: bool, name: str, rule: str, value: object) -> None:
    """Raise `SettingsError` as `simulation.<name> <rule>, got <value>` unless `ok`."""
    if not ok:
        raise SettingsError(f"simulation.{name} {rule}, got {value!r}")

"""The service's settings from the environment: one sentence per bad value, the token never shown."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from poppy_pipeline.service.settings import DEFAULT_PORT, SettingsError, from_environment

TOKEN = "settings-Tk-4q8"


def test_the_defaults():
    settings = from_environment({"POPPY_SERVICE_TOKEN": TOKEN})
    assert settings.port == DEFAULT_PORT and settings.dagster_url == "http://127.0.0.1:3000"
    assert settings.export_dir == Path("data/outputs/engine_exports").resolve()
    assert (settings.span_days, settings.when_too_few) == (30, "fail")


def test_the_files_are_where_the_pipeline_publishes_them(tmp_path: Path):
    env = {"POPPY_SERVICE_TOKEN": TOKEN, "POPPY_DATA_DIR": str(tmp_path)}
    assert from_environment(env).export_dir == tmp_path / "engine_exports"
    env["POPPY_ENGINE_EXPORT_DIR"] = str(tmp_path / "Output_Data")
    assert from_environment(env).export_dir == tmp_path / "Output_Data"


@pytest.mark.parametrize("token", [None, "", "   "])
def test_no_token_refuses_to_start(token: str | None):
    env = {} if token is None else {"POPPY_SERVICE_TOKEN": token}
    with pytest.raises(SettingsError, match="POPPY_SERVICE_TOKEN is not set: the service refuses to start"):
        from_environment(env)


@pytest.mark.parametrize(
    ("name", "value", "sentence"),
    [
        ("POPPY_SERVICE_PORT", "http", "POPPY_SERVICE_PORT must be a whole number from 1 to 65535, not 'http'."),
        ("POPPY_SERVICE_PORT", "70000", "POPPY_SERVICE_PORT must be a whole number from 1 to 65535, not '70000'."),
        ("POPPY_SERVICE_SPAN_DAYS", "0", "POPPY_SERVICE_SPAN_DAYS must be a whole number from 1 to 3660, not '0'."),
        ("POPPY_SERVICE_WHEN_TOO_FEW", "guess", "POPPY_SERVICE_WHEN_TOO_FEW must be fail or simulate, not 'guess'."),
    ],
)
def test_a_bad_value_is_one_sentence(name: str, value: str, sentence: str):
    with pytest.raises(SettingsError) as raised:
        from_environment({"POPPY_SERVICE_TOKEN": TOKEN, name: value})
    assert str(raised.value) == sentence


def test_the_token_is_not_in_the_settings_text():
    settings = from_environment({"POPPY_SERVICE_TOKEN": TOKEN})
    assert TOKEN not in repr(settings) and TOKEN not in str(settings) and TOKEN not in f"{settings}"


def test_a_base_run_config_file(tmp_path: Path):
    env = {"POPPY_SERVICE_TOKEN": TOKEN, "POPPY_SERVICE_RUN_CONFIG": "config/run.yaml"}
    assert from_environment(env).base_run_config["execution"] == {"config": {"in_process": {}}}
    (tmp_path / "list.yaml").write_text("- a\n")
    for path, why in ((tmp_path / "missing.yaml", "is not readable YAML (FileNotFoundError)"),
                      (tmp_path / "list.yaml", "does not hold run config (a mapping)")):  # fmt: skip
        with pytest.raises(SettingsError, match=re.escape(f"POPPY_SERVICE_RUN_CONFIG names {path}, which {why}")):
            from_environment({**env, "POPPY_SERVICE_RUN_CONFIG": str(path)})

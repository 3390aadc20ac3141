"""The Dagster UI in headless Chromium, against `make ui` (embedded) and the cluster's webserver.

poppy_pipeline_tests/dagster_ui.mjs clicks through the UI (playwright-core from browser/node_modules,
Debian's Chromium); this module prepares each server's data, checks what the browser saw and what
the launched runs did. Screenshots are kept under test-artifacts/ui/<server>/.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from poppy_pipeline.click_model import browser_bundle as bundle
from poppy_pipeline.definitions import defs
from poppy_pipeline_tests.support.browser_harness import find_chromium
from poppy_pipeline_tests.support.cluster_support import (
    CLUSTER_SEED,
    CLUSTER_USERS,
    DAGSTER,
    REPO,
    Webserver,
    free_port,
    require,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

SCRIPT = Path(__file__).parents[1] / "support" / "dagster_ui.mjs"
ARTIFACTS = REPO / "test-artifacts" / "ui"
WEEK = ("2026-11-15", "2026-11-21")
MISSING_DAY = "2026-11-02"  # before WEEK: its session_actions were never materialized
# The click model on one week of data: thresholds that the week can meet (as test_cli's whole graph).
LENIENT = {"ops": {"click_model": {"config": {"min_auc": 0.5, "min_oracle_ratio": 0.5, "max_calibration_error": 1.0}}}}
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}


def asset_groups() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for spec in defs.resolve_all_asset_specs():
        groups.setdefault(spec.group_name or "default", []).append(spec.key.to_user_string())
    return groups


# What the pages need, in one process: interaction_report and click_model with their upstream.
WEEK_RUN = ["asset", "materialize", "-m", "poppy_pipeline.definitions",
            "--select", "*interaction_report,*click_model", "--partition-range", f"{WEEK[0]}...{WEEK[1]}",
            "--config-json", json.dumps(LENIENT | IN_PROCESS)]  # fmt: skip


@pytest.fixture(scope="module")
def make_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webserver]:
    """`make ui`'s command (`dagster dev` on workspace.yaml, sqlite instance) on a free port, with
    the week prepared while it starts."""
    folder = tmp_path_factory.mktemp("make_ui")
    home = folder / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(home)):
        pass  # its sqlite storage created once, before two processes open it
    port = free_port()
    env = {
        "DAGSTER_HOME": str(home),
        "POPPY_DATA_DIR": str(folder / "outputs"),
        "POPPY_OBJECTS_DIR": str(folder / "no_objects"),
        "POPPY_NUM_USERS": CLUSTER_USERS,
        "POPPY_SEED": CLUSTER_SEED,
        # The UI's launches run side by side; each holds the outputs folder (docs/operations.md, "One run per
        # outputs folder"), so the later ones wait for it.
        "POPPY_LOCK_WAIT_SECONDS": "240",
    }
    webserver = Webserver(url=f"http://127.0.0.1:{port}", env=env, name="make_ui")
    with open(folder / "dagster_dev.log", "wb") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster")), "dev", "-h", "127.0.0.1", "-p", str(port)],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        week = WeekRun(webserver)
        wait_for_http(f"{webserver.url}/server_info", timeout=180)
        week.wait()
        yield webserver
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)  # its throwaway instance needs no orderly shutdown
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


class WeekRun:
    """Materialize WEEK_RUN into the server's instance and empty outputs folder (in the background)."""

    def __init__(self, webserver: Webserver):
        shutil.rmtree(webserver.data_dir, ignore_errors=True)
        webserver.data_dir.mkdir(parents=True)
        self.log = webserver.data_dir.parent / f"{webserver.name}-week.log"
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [DAGSTER, *WEEK_RUN], cwd=REPO, env={**os.environ, **webserver.env}, stdout=log, stderr=log
            )

    def wait(self, timeout: float = 240) -> None:
        try:
            returncode = self.process.wait(timeout=timeout)
        finally:
            self.process.kill()
        assert returncode == 0, self.log.read_text()[-3000:]


def wait_for_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            assert time.monotonic() < deadline, f"{url} did not answer within {timeout:.0f} s"
            time.sleep(0.5)


@pytest.fixture(params=["make_ui", "cluster"])
def server(request: pytest.FixtureRequest) -> Webserver:
    """Each server, with WEEK_RUN materialized into its instance by the CLI."""
    webserver: Webserver = request.getfixturevalue(request.param)
    if request.param == "cluster":
        WeekRun(webserver).wait()
    return webserver


def browse(webserver: Webserver, plan: list[dict]) -> list[dict]:
    chromium = find_chromium()
    require(chromium is not None, "chromium")
    node = shutil.which("node")
    require(node is not None and (bundle.BROWSER_DIR / "node_modules" / "playwright-core").is_dir(), "node/npm ci")
    out = ARTIFACTS / webserver.name
    out.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            node,
            str(SCRIPT),
            "--url",
            webserver.url,
            "--chromium",
            chromium,
            "--out",
            str(out),
            "--plan",
            json.dumps(plan),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    failed = [step for step in report["results"] if "error" in step]
    assert not failed, failed
    return report["results"]


def test_the_ui_in_chromium(server: Webserver):
    groups = asset_groups()
    since = time.time()
    graph, report, model, trending, partition, missing = browse(
        server,
        [
            {"action": "graph", "location": server.location, "groups": groups},
            {"action": "figures", "asset": "interaction_report"},
            {"action": "figures", "asset": "click_model"},
            {"action": "materialize", "asset": "trending_objects"},
            {"action": "materialize", "asset": "simulated_interactions", "partition": WEEK[1]},
            {"action": "materialize", "asset": "sliding_window_features", "partition": MISSING_DAY},
        ],
    )
    assert sorted(graph["shown"]) == sorted(name for names in groups.values() for name in names)
    figures = [path.name for path in (server.data_dir / "figures").glob("*.png")]
    model_figures = [name for name in figures if name.startswith("click_model")]
    assert model["images"] == len(model_figures) > 0
    assert report["images"] == len(figures) - len(model_figures) > 0

    run_ids = server.run_ids_since(since)
    runs = {}
    for name, step in (("trending", trending), ("partition", partition), ("missing", missing)):
        (run_id,) = [run_id for run_id in run_ids if run_id.startswith(step["launched"].split()[-1])]
        runs[name] = server.wait_for_run(run_id, timeout=240)
    assert runs["trending"]["status"] == "SUCCESS"
    assert runs["partition"]["status"] == "SUCCESS"
    assert {"key": "dagster/partition", "value": WEEK[1]} in runs["partition"]["tags"]
    assert runs["missing"]["status"] == "FAILURE"

    (failure,) = server.failures(runs["missing"]["id"])
    assert failure["error"]["className"] == "Failure"
    sentence = failure["error"]["message"].strip().removeprefix("dagster._core.definitions.events.Failure: ")
    assert "\n" not in sentence and f"is not materialized for {MISSING_DAY}" in sentence
    assert sentence.split()[0] in ("session_actions", "simulated_interactions")
    (run_page,) = browse(server, [{"action": "page", "path": f"/runs/{runs['missing']['id']}", "expect": sentence}])
    assert run_page["found"] >= 1

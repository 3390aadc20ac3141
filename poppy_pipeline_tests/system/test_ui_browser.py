"""The Dagster UI in headless Chromium, against `make ui` (embedded) and the cluster's webserver.

poppy_pipeline_tests/support/dagster_ui.mjs clicks through the UI (playwright-core from
browser/node_modules, Debian's Chromium); this module prepares each server's data with `make run`,
checks what the browser saw and what the launched runs and backfills did. Screenshots are kept
under test-artifacts/ui/<server>/.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest

from poppy_pipeline.click_model import browser_bundle as bundle
from poppy_pipeline.dagster_support.partitions import DEFAULT_PARTITIONS_START
from poppy_pipeline.definitions import defs
from poppy_pipeline_tests.support.browser_harness import find_chromium
from poppy_pipeline_tests.support.cluster_support import (
    CLUSTER_SEED,
    CLUSTER_USERS,
    FINISHED,
    REPO,
    Cluster,
    Webserver,
    free_port,
    require,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

SCRIPT = Path(__file__).parents[1] / "support" / "dagster_ui.mjs"
ARTIFACTS = REPO / "test-artifacts" / "ui"
WEEK = ("2026-11-15", "2026-11-21")
MISSING_DAY = "2026-11-02"  # before WEEK: its session_actions were never materialized
BACKFILL = ("2026-11-08", "2026-11-10")  # three past days, none made before the backfill
# The click model on one week of data: bars that the week can meet (`make run CONFIG=…`).
LENIENT = "ops:\n  click_model:\n    config: {min_auc: 0.5, min_oracle_ratio: 0.5, max_calibration_error: 1.0}\n"
DAILY = ["simulated_interactions", "session_actions", "sliding_window_features"]
BACKFILL_DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def asset_groups() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for spec in defs.resolve_all_asset_specs():
        groups.setdefault(spec.group_name or "default", []).append(spec.key.to_user_string())
    return groups


@dataclass
class DevServer(Webserver):
    """`make ui`'s server, and the file its output went to."""

    log: Path = field(default_factory=Path)


@pytest.fixture(scope="module")
def make_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """`make ui`'s command (`dg dev -w workspace.yaml`, sqlite instance) on a free port, with the
    week made by `make run` while it starts."""
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
        "POPPY_PARTITIONS_START": DEFAULT_PARTITIONS_START,  # the suite's conftest sets an earlier one
        # The UI's launches run side by side; each holds the outputs folder (docs/operations.md, "One run per
        # outputs folder"), so the later ones wait for it.
        "POPPY_LOCK_WAIT_SECONDS": "240",
    }
    webserver = DevServer(url=f"http://127.0.0.1:{port}", env=env, name="make_ui", log=folder / "dg_dev.log")
    dg_cli = str(Path(sys.executable).with_name("dg"))
    with open(webserver.log, "wb") as log:
        process = subprocess.Popen(
            [dg_cli, "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
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


@pytest.fixture(scope="module")
def cluster_week(cluster: Cluster) -> Cluster:
    """The cluster, with the week made by `make run` (the embedded definitions) in its instance."""
    WeekRun(cluster).wait()
    return cluster


class WeekRun:
    """`make run` over WEEK into the server's instance and an empty outputs folder (in the background)."""

    def __init__(self, webserver: Webserver):
        fresh_outputs(webserver)
        lenient = webserver.data_dir.parent / f"{webserver.name}-lenient.yaml"
        lenient.write_text(LENIENT)
        self.log = webserver.data_dir.parent / f"{webserver.name}-week.log"
        command = ["make", "--no-print-directory", "run", f"START={WEEK[0]}", f"END={WEEK[1]}", f"CONFIG={lenient}"]
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, env={**os.environ, **webserver.env}, stdout=log, stderr=subprocess.STDOUT
            )

    def wait(self, timeout: float = 300) -> None:
        try:
            returncode = self.process.wait(timeout=timeout)
        finally:
            self.process.kill()
        assert returncode == 0, self.log.read_text()[-3000:]


def fresh_outputs(webserver: Webserver) -> None:
    shutil.rmtree(webserver.data_dir, ignore_errors=True)
    webserver.data_dir.mkdir(parents=True)


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
    """Each server, with WEEK made by `make run` into its instance."""
    return request.getfixturevalue("make_ui" if request.param == "make_ui" else "cluster_week")


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
        timeout=400,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    failed = [step for step in report["results"] if "error" in step]
    assert not failed, failed
    return report["results"]


def latest_check_statuses(webserver: Webserver, asset: str) -> dict[str, str]:
    """Each check's latest result as the instance resolves it (SUCCEEDED, FAILED, SKIPPED, …)."""
    data = webserver.graphql(
        """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
             assetChecksOrError { ... on AssetChecks { checks { name executionForLatestMaterialization {
               status } } } } } } }""",
        key={"path": [asset]},
    )
    checks = data["assetNodeOrError"]["assetChecksOrError"]["checks"]
    return {check["name"]: (check["executionForLatestMaterialization"] or {}).get("status") for check in checks}


def test_checks_read_as_they_are_after_make_run(server: Webserver):
    """After `make run` over a week: each daily asset's checks read Succeeded in its list, the lineage
    node counts them passed, each day of the week reads Passed in a check's partitions (none Skipped),
    and every list agrees with the instance's latest result."""
    assets = [*DAILY, "interaction_report", "click_model"]
    *lists, node, partitions = browse(
        server,
        [
            *({"action": "checks", "asset": asset} for asset in assets),
            {"action": "node", "location": server.location, "group": "sources", "asset": "simulated_interactions"},
            {"action": "check_partitions", "asset": "simulated_interactions", "check": "integrity"},
        ],
    )
    shown = {step["asset"]: step["statuses"] for step in lists}
    for asset in DAILY:
        assert shown[asset] and set(shown[asset].values()) == {"Succeeded"}, (asset, shown[asset])
    for asset in assets:
        latest = latest_check_statuses(server, asset)
        assert {name: status.lower() for name, status in shown[asset].items()} == {
            name: status.lower().replace("_", " ") for name, status in latest.items()
        }, asset
    checks = len(shown["simulated_interactions"])
    assert f"Asset checks {checks} / {checks} Passed" in node["text"], node["text"]
    # The week's days, and on the cluster any day an earlier test of its shared instance checked.
    assert partitions["counts"]["Passed"] >= 7, partitions["counts"]
    assert partitions["counts"]["Skipped"] == partitions["counts"]["Failed"] == 0, partitions["counts"]


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
    # interaction_report's figures: those no other asset's name prefixes (the model's, the fit's, the preferences')
    report_figures = [
        name for name in figures if not name.startswith(("click_model", "fidelity", "category_preferences"))
    ]
    assert model["images"] == len(model_figures) > 0
    assert report["images"] == len(report_figures) > 0
    for page in (report, model):  # the first figure on first paint, without a click or a scroll
        assert page["first_top"] < page["viewport_height"], page

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


def test_a_ui_backfill_of_every_asset_over_past_days_succeeds_without_config(server: Webserver):
    """ "Materialize all" over three past days, nothing configured: the daily runs make the days and
    the summaries, in a run of their own, read those days (not the 30 days ending yesterday)."""
    fresh_outputs(server)
    (launched,) = browse(server, [{"action": "backfill", "range": f"[{BACKFILL[0]}...{BACKFILL[1]}]"}])
    backfill_id = launched["launched"].split()[-1]
    backfill = wait_for_backfill(server, backfill_id, timeout=480)
    assert backfill["status"] == "COMPLETED_SUCCESS", [(run["id"], run["status"]) for run in backfill["runs"]]
    assert backfill["runs"] and {run["status"] for run in backfill["runs"]} == {"SUCCESS"}
    span = f"{BACKFILL[0]}..{BACKFILL[1]}"
    report = json.loads((server.data_dir / "interaction_report.json").read_text())
    assert (report["window"]["first_day"], report["window"]["last_day"]) == BACKFILL
    assert json.loads((server.data_dir / "click_model_report.json").read_text())["window"] == span
    assert json.loads((server.data_dir / "fidelity_report.json").read_text())["window"]["first_day"] == BACKFILL[0]
    assert (server.data_dir / "browser_bundle" / "click_model.onnx").is_file()


def wait_for_backfill(webserver: Webserver, backfill_id: str, timeout: float) -> dict:
    """The backfill once the daemon has marked it done and all of its runs have finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        backfill = webserver.backfill(backfill_id)
        if backfill["status"] in BACKFILL_DONE and all(run["status"] in FINISHED for run in backfill["runs"]):
            return backfill
        time.sleep(2)
    raise AssertionError(f"backfill {backfill_id} not done after {timeout:.0f} s: {webserver.backfill(backfill_id)}")


def test_make_ui_prints_no_warning(make_ui: DevServer):
    """`make ui`'s output (the webserver, the daemon, the code servers, the runs they launched): no
    deprecation, beta or code location warning, whatever the checkout's folder is called."""
    lines = make_ui.log.read_text(errors="replace").splitlines()
    assert any("Serving dagster-webserver" in line for line in lines), lines[-20:]
    warnings = [line for line in lines if re.search(r"\w+Warning\b", line) or "code location name" in line]
    assert not warnings, warnings

"""The browser bundle against the Python side: the same features, the same probabilities.

A small simulated world (plus synthetic sessions of awkward shapes, `conftest.world`) gives windows
and two trained, exported models: one on the default 120-second windows, one on 60-second windows
(other step, min_actions). Golden windows of each (actions, Python features, Python onnxruntime
probabilities; for the default model, every edge case and 2,000 random windows) are checked (a) by
`node --test browser/tests/` (extractor 1e-9; the light runtime 1e-6, onnxruntime-web 1e-5, in Node)
and (b) inside demo.html in headless Chromium, served from 127.0.0.1, on both backends.

Without `browser/node_modules` or Chromium these tests skip, saying how to install them; with
`CI` set they fail instead, so CI cannot pass without having run them.
"""

import json
import os
import shutil
import struct
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from poppy_pipeline.behaviour.features import FEATURE_NAMES, WindowSpec
from poppy_pipeline.behaviour.windows import extract_windows
from poppy_pipeline.click_model import browser_bundle as bundle
from poppy_pipeline_tests.click_model.conftest import trained_model
from poppy_pipeline_tests.click_model.test_browser_bundle import LIGHT_BUDGET_BYTES
from poppy_pipeline_tests.support import browser_harness as harness

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
RUNTIME = bundle.BROWSER_DIR / "node_modules" / bundle.RUNTIME_PACKAGE
INSTALL_NPM = "install the npm packages: `npm ci --prefix browser` (Node.js ≥ 20)"
INSTALL_CHROMIUM = "install Chromium: `apt-get install -y chromium` (or set CHROMIUM_PATH)"
# Golden windows per edge case, and random ones (of the default model; of the 60-second one).
PER_CASE = 3
RANDOM = 2_000
RANDOM_60S = 200
# The other model's window settings: every one differs from the default.
SPEC_60S = WindowSpec(window_ms=60_000, step_ms=5_000, horizon_ms=20_000, min_actions=3)
# |p_browser − p_python|: the light runtime sums as onnxruntime's CPU kernel does, onnxruntime-web
# in another order.
TOLERANCE = {"light": 1e-6, "ort": 1e-5}


def require(ok: bool, reason: str) -> None:
    """Skip when a prerequisite is missing, but fail under CI: CI must run these tests."""
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}")
    pytest.skip(reason)


def pick_golden(
    windows: pd.DataFrame, actions: pd.DataFrame, spec: WindowSpec, random: int, seed: int = 0
) -> pd.DataFrame:
    """A few windows of every edge case of `spec`'s windows, and `random` others; fails if a case has none."""
    seconds = spec.window_seconds
    count = np.rint(windows["interaction_density"] * seconds).astype(int)
    stamps = pd.MultiIndex.from_arrays([actions["Session_ID"], actions["Timestamp"]])

    def action_at(offset: pd.Timedelta) -> np.ndarray:
        return pd.MultiIndex.from_arrays([windows["Session_ID"], windows["Window_End"] + offset]).isin(stamps)

    scrolls = windows["scroll_down_count"] + windows["scroll_up_count"]
    cases = {
        **{f"{n} action(s)": count == n for n in range(1, spec.min_actions + 1)},
        "no scrolls": scrolls == 0,
        "blur and focus": (windows["blur_count"] > 0) & (windows["focus_count"] > 0),
        "session start inside the window": windows["session_duration"] < seconds,
        "long session": windows["session_duration"] >= windows["session_duration"].quantile(0.99),
        "busy window": count >= count.quantile(0.99),
        "clicks without hovers": (windows["click_count"] > 0) & (windows["hover_count"] == 0),
        "a single kind": (windows["action_entropy"] == 0) & (count > 1),
        "zero burstiness": (windows["burstiness_score"] == 0) & (count >= 3),
        "positive rhythm": windows["engagement_rhythm"] > 0,
        "scrolled up more than down": (scrolls > 0) & (windows["scroll_depth_max"] == 0),
        "attention at a bound": windows["attention_score"].isin([0.0, 1.0]),
        "an action on the window's start": action_at(-pd.Timedelta(milliseconds=spec.window_ms)),
        "an action on the window's end": action_at(pd.Timedelta(0)),
        "an action just after the end": action_at(pd.Timedelta(milliseconds=1)),
    }
    rng = np.random.default_rng(seed)
    chosen = []
    for name, mask in cases.items():
        rows = np.flatnonzero(np.asarray(mask))
        assert len(rows), f"no window of the edge case {name!r}"
        chosen.extend(rng.choice(rows, size=min(PER_CASE, len(rows)), replace=False))
    chosen.extend(rng.choice(len(windows), size=min(random, len(windows)), replace=False))
    return windows.iloc[np.unique(chosen)]


def export_golden(actions: pd.DataFrame, payload: bytes, spec: WindowSpec, random: int, folder: Path) -> Path:
    every_window = extract_windows(actions, replace(spec, min_actions=1))  # also the windows below min_actions
    picked = pick_golden(every_window, actions, spec, random)
    return harness.export_golden_windows(actions, picked, payload, folder, spec)


@pytest.fixture(scope="module")
def golden(world, tmp_path_factory: pytest.TempPathFactory) -> Path:
    _simulated, actions, payload = world
    return export_golden(actions, payload, WindowSpec(), RANDOM, tmp_path_factory.mktemp("golden"))


@pytest.fixture(scope="module")
def golden_60s(world, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Golden windows of a model trained on SPEC_60S: the page must compute its features over 60 s."""
    simulated, actions, _payload = world
    payload = trained_model(simulated, SPEC_60S)
    return export_golden(actions, payload, SPEC_60S, RANDOM_60S, tmp_path_factory.mktemp("golden_60s"))


def test_golden_windows_hold_each_sessions_actions_in_time_order(golden: Path, golden_60s: Path):
    data = json.loads(golden.read_text())
    assert data["feature_names"] == list(FEATURE_NAMES) and data["window_ms"] == 120_000
    assert len(data["windows"]) >= RANDOM
    other = json.loads(golden_60s.read_text())
    assert (other["window_ms"], other["min_actions"]) == (60_000, 3)
    properties = bundle.model_properties((golden_60s.parent / other["model"]).read_bytes())
    assert bundle.model_window_spec(properties) == SPEC_60S  # the model carries its own settings
    assert (golden.parent / data["model"]).is_file()
    for window in data["windows"]:
        session = data["sessions"][window["session"]]
        times = session["timestamp"]
        assert times == sorted(times) and times[0] <= window["window_end_ms"] <= times[-1]
        assert len(window["features"]) == 20 and 0 <= window["probability"] <= 1
    amounts = [a for s in data["sessions"].values() for a in s["scroll_amount"]]
    assert None in amounts and min(a for a in amounts if a is not None) < 0  # the JS must read both


def test_node_features_and_probabilities_equal_pythons(golden: Path, golden_60s: Path):
    node = shutil.which("node")
    require(node is not None, "Node.js is not installed (Debian: `apt-get install -y nodejs`)")
    require(RUNTIME.is_dir(), f"{RUNTIME} is missing: {INSTALL_NPM}")
    done = subprocess.run(
        [node, "--test", "--test-reporter=tap", "browser/tests/"],
        cwd=REPO,
        env={**os.environ, "POPPY_GOLDEN_WINDOWS": os.pathsep.join([str(golden), str(golden_60s)])},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    summary = tap_summary(done.stdout)
    assert summary["fail"] == 0 and summary["skipped"] == 0, summary  # the golden tests ran
    assert summary["pass"] >= 10


def tap_summary(output: str) -> dict[str, int]:
    """The closing counts of a TAP report (`# pass 12`, `# skipped 0`, ...)."""
    counts = (line.split() for line in output.splitlines() if line.startswith("# "))
    return {words[1]: int(words[2]) for words in counts if len(words) == 3 and words[2].isdigit()}


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


@pytest.mark.browser
def test_the_bundle_in_headless_chromium(world, golden: Path, golden_60s: Path, tmp_path: Path):
    require(
        RUNTIME.is_dir() and (bundle.BROWSER_DIR / "node_modules" / "playwright-core").is_dir(),
        f"browser/node_modules is incomplete: {INSTALL_NPM}",
    )
    chromium = harness.find_chromium()
    require(chromium is not None and Path(chromium).is_file(), f"no Chromium found: {INSTALL_CHROMIUM}")
    payload = world[2]
    manifest = bundle.build_browser_bundle(payload, tmp_path / "browser_bundle")
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "browser_demo.png"
    screenshot.unlink(missing_ok=True)

    with harness.serve_folder(tmp_path / "browser_bundle") as base:
        report, done = harness.run_browser_check(
            f"{base}demo.html", [golden, golden_60s], chromium, screenshot=screenshot
        )

    assert report, f"no report from the browser script:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert report["failures"] == [] and done.returncode == 0, report["failures"]
    (ARTIFACTS / "browser_report.json").write_text(json.dumps(without_requests(report), indent=2) + "\n")
    windows = [len(json.loads(path.read_text())["windows"]) for path in (golden, golden_60s)]
    for name, backend in report["backends"].items():
        # Every request went to the local server, only for the backend's files, each once.
        assert backend["requests"] and all(url.startswith(base) for url in backend["requests"]), backend["requests"]
        requested = [url.removeprefix(base).split("?")[0] for url in backend["requests"]]
        assert sorted(requested) == sorted(manifest["backends"][name]["files"]), name
        assert backend["bytes"] == backend["page_bytes"] == manifest["backends"][name]["bytes"]
        assert [s["windows"] for s in backend["sets"]] == windows
        assert [s["window_ms"] for s in backend["sets"]] == [120_000, 60_000]
        for checked in backend["sets"]:
            assert checked["max_probability_difference"] <= TOLERANCE[name], (name, checked)
            assert checked["max_feature_relative_difference"] <= 1e-9, (name, checked["worst_feature"])
            assert checked["null_rule_ok"] and checked["perturbed_difference"] > 1e-4
        assert backend["shown_backend"] == name and "window 120 s, step 10 s, horizon 10 s" in backend["shown_trained"]
    light = report["backends"]["light"]
    assert not any("ort" in url.removeprefix(base) for url in light["requests"])  # never onnxruntime-web
    assert light["bytes"] <= LIGHT_BUDGET_BYTES
    assert "expects the features" in report["wrong_names_error"]
    assert {"hover", "scroll_down", "scroll_up", "click"} <= {action for action, _ in report["recorded"]}
    assert png_size(screenshot) == (1280, 900)
    for name, backend in report["backends"].items():
        latency = backend["latency"]
        print(
            f"\nChromium {report['chromium']}, {name}: {backend['bytes']:,} bytes loaded, first prediction"
            f" {backend['first_prediction']['after_load_ms']:.1f} ms after the load event; per window mean"
            f" {latency['mean_ms']:.3f} ms, p50 {latency['p50_ms']:.3f} ms, p95 {latency['p95_ms']:.3f} ms;"
            f" max |p − p_python| {max(s['max_probability_difference'] for s in backend['sets']):.1e}"
        )


def without_requests(report: dict) -> dict:
    """The report as a test artifact: per backend, the requested files with their sizes, not the raw lists."""
    backends = {
        name: {k: v for k, v in backend.items() if k not in ("requests", "response_bytes")}
        | {"files": {url.rsplit("/", 1)[-1].split("?")[0]: n for url, n in backend["response_bytes"].items()}}
        for name, backend in report["backends"].items()
    }
    return report | {"backends": backends}

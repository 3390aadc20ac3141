"""The browser bundle against the Python side: the same features, the same probabilities.

A small simulated world (plus synthetic sessions of awkward shapes) gives windows and a trained,
exported model; golden windows (actions, Python features, Python onnxruntime probabilities) are
checked (a) by `node --test browser/tests/` (extractor 1e-9, onnxruntime-web in Node 1e-5) and
(b) inside demo.html in headless Chromium, served from 127.0.0.1.

Without `browser/node_modules` or Chromium these tests skip, saying how to install them; with
`CI` set they fail instead, so CI cannot pass without having run them.
"""

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from poppy_pipeline import browser_bundle as bundle
from poppy_pipeline import click_model as core
from poppy_pipeline.interactions import simulate_day
from poppy_pipeline.sessions import BehaviourSettings, simulate_sessions
from poppy_pipeline.settings import SimulationSettings
from poppy_pipeline.windows import FEATURE_NAMES, WindowSpec, extract_windows

from .conftest import WINDOW, make_model
from .test_windows import random_sessions

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
RUNTIME = bundle.BROWSER_DIR / "node_modules" / bundle.RUNTIME_PACKAGE
INSTALL_NPM = "install the npm packages: `npm ci --prefix browser` (Node.js ≥ 20)"
INSTALL_CHROMIUM = "install Chromium: `apt-get install -y chromium` (or set CHROMIUM_PATH)"
# Golden windows per edge case, and of the ordinary ones.
PER_CASE = 3
ORDINARY = 40


def require(ok: bool, reason: str) -> None:
    """Skip when a prerequisite is missing, but fail under CI: CI must run these tests."""
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def world() -> tuple[pd.DataFrame, bytes]:
    """Three simulated days and synthetic sessions (zero and constant gaps, negative and missing
    scroll amounts); the model trained and exported as the pipeline does."""
    settings = SimulationSettings()
    model, _objects, users = make_model(settings)
    days = [
        simulate_sessions(BehaviourSettings(), settings.seed, users, simulate_day(model, day), day).actions
        for day in WINDOW[-3:]
    ]
    simulated = pd.concat(days, ignore_index=True)
    training = extract_windows(simulated)
    fitted = core.fit_calibrated(core.feature_matrix(training), training["Label"].to_numpy())
    payload = core.export_onnx(fitted, WindowSpec().settings(), "test")

    synthetic = pd.concat([random_sessions(seed=7, sessions=60), boundary_session()], ignore_index=True)
    scroll_up = synthetic["Action"] == "scroll_up"
    amounts = synthetic["Scroll_Amount"].astype(float).where(scroll_up | (synthetic["Action"] == "scroll_down"))
    synthetic["Scroll_Amount"] = amounts.where(~scroll_up, -amounts)  # real logs: negative deltas, blanks
    actions = pd.concat([simulated.astype({"Action": str}), synthetic], ignore_index=True)
    return actions, payload


def boundary_session() -> pd.DataFrame:
    """Actions on every 5 s mark and 1 ms after each 10 s mark: on window ends, starts and just after."""
    offsets = np.sort(np.r_[np.arange(0, 200_001, 5_000), np.arange(10_001, 200_001, 10_000)])
    kinds = np.resize(
        ["scroll_down", "hover", "click", "scroll_up", "wait", "blur_window", "focus_window"], len(offsets)
    )
    return pd.DataFrame(
        {
            "Session_ID": 999,
            "User_ID": 0,
            "Timestamp": np.datetime64("2026-11-21T12:00:00.000", "ms") + offsets.astype("timedelta64[ms]"),
            "Action": kinds,
            "Scroll_Amount": np.where(np.isin(kinds, ["scroll_down", "scroll_up"]), 240, 0),
        }
    )


def pick_golden(windows: pd.DataFrame, actions: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """A few windows of every edge case, and ordinary ones; fails if a case has none."""
    count = np.rint(windows["interaction_density"] * 120).astype(int)
    stamps = pd.MultiIndex.from_arrays([actions["Session_ID"], actions["Timestamp"]])

    def action_at(offset: pd.Timedelta) -> np.ndarray:
        return pd.MultiIndex.from_arrays([windows["Session_ID"], windows["Window_End"] + offset]).isin(stamps)

    scrolls = windows["scroll_down_count"] + windows["scroll_up_count"]
    cases = {
        **{f"{n} action(s)": count == n for n in range(1, 6)},
        "no scrolls": scrolls == 0,
        "blur and focus": (windows["blur_count"] > 0) & (windows["focus_count"] > 0),
        "session start inside the window": windows["session_duration"] < 120,
        "long session": windows["session_duration"] >= windows["session_duration"].quantile(0.99),
        "busy window": count >= count.quantile(0.99),
        "clicks without hovers": (windows["click_count"] > 0) & (windows["hover_count"] == 0),
        "a single kind": (windows["action_entropy"] == 0) & (count > 1),
        "zero burstiness": (windows["burstiness_score"] == 0) & (count >= 3),
        "positive rhythm": windows["engagement_rhythm"] > 0,
        "scrolled up more than down": (scrolls > 0) & (windows["scroll_depth_max"] == 0),
        "attention at a bound": windows["attention_score"].isin([0.0, 1.0]),
        "an action on the window's start": action_at(-pd.Timedelta(seconds=120)),
        "an action on the window's end": action_at(pd.Timedelta(0)),
        "an action just after the end": action_at(pd.Timedelta(milliseconds=1)),
    }
    rng = np.random.default_rng(seed)
    chosen = []
    for name, mask in cases.items():
        rows = np.flatnonzero(np.asarray(mask))
        assert len(rows), f"no window of the edge case {name!r}"
        chosen.extend(rng.choice(rows, size=min(PER_CASE, len(rows)), replace=False))
    chosen.extend(rng.choice(len(windows), size=ORDINARY, replace=False))
    return windows.iloc[np.unique(chosen)]


@pytest.fixture(scope="module")
def golden(world, tmp_path_factory: pytest.TempPathFactory) -> Path:
    actions, payload = world
    every_window = extract_windows(actions, WindowSpec(min_actions=1))  # also the windows below 5
    return bundle.export_golden_windows(
        actions, pick_golden(every_window, actions), payload, tmp_path_factory.mktemp("golden")
    )


def test_golden_windows_hold_each_sessions_actions_in_time_order(golden: Path):
    data = json.loads(golden.read_text())
    assert data["feature_names"] == list(FEATURE_NAMES) and data["window_ms"] == 120_000
    assert (golden.parent / data["model"]).is_file()
    for window in data["windows"]:
        session = data["sessions"][window["session"]]
        times = session["timestamp"]
        assert times == sorted(times) and times[0] <= window["window_end_ms"] <= times[-1]
        assert len(window["features"]) == 20 and 0 <= window["probability"] <= 1
    amounts = [a for s in data["sessions"].values() for a in s["scroll_amount"]]
    assert None in amounts and min(a for a in amounts if a is not None) < 0  # the JS must read both


def test_node_features_and_probabilities_equal_pythons(golden: Path):
    node = shutil.which("node")
    require(node is not None, "Node.js is not installed (Debian: `apt-get install -y nodejs`)")
    require(RUNTIME.is_dir(), f"{RUNTIME} is missing: {INSTALL_NPM}")
    done = subprocess.run(
        [node, "--test", "--test-reporter=tap", "browser/tests/"],
        cwd=REPO,
        env={**os.environ, "POPPY_GOLDEN_WINDOWS": str(golden)},
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


def test_the_bundle_in_headless_chromium(world, golden: Path, tmp_path: Path):
    require(
        RUNTIME.is_dir() and (bundle.BROWSER_DIR / "node_modules" / "playwright-core").is_dir(),
        f"browser/node_modules is incomplete: {INSTALL_NPM}",
    )
    chromium = bundle.find_chromium()
    require(chromium is not None and Path(chromium).is_file(), f"no Chromium found: {INSTALL_CHROMIUM}")
    _actions, payload = world
    manifest = bundle.build_browser_bundle(payload, tmp_path / "browser_bundle")
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "browser_demo.png"
    screenshot.unlink(missing_ok=True)

    with bundle.serve_folder(tmp_path / "browser_bundle") as base:
        report, done = bundle.run_browser_check(f"{base}demo.html", golden, chromium, screenshot=screenshot)

    assert report, f"no report from the browser script:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert report["failures"] == [] and done.returncode == 0, report["failures"]
    # Every request went to the local server, and only for files of the bundle.
    assert report["requests"] and all(url.startswith(base) for url in report["requests"]), report["requests"]
    requested = {url.removeprefix(base).split("?")[0] for url in report["requests"]}
    assert requested <= set(manifest["files"]), requested - set(manifest["files"])
    assert {"demo.html", bundle.MODEL_FILE, "ort/ort-wasm-simd-threaded.wasm"} <= requested
    assert report["max_probability_difference"] <= 1e-5
    assert report["max_feature_relative_difference"] <= 1e-9, report["worst_feature"]
    assert report["windows"] == len(json.loads(golden.read_text())["windows"])
    assert report["perturbed_difference"] > 1e-3 and "expects the features" in report["wrong_names_error"]
    assert {"hover", "scroll_down", "scroll_up", "click"} <= {action for action, _ in report["recorded"]}
    assert png_size(screenshot) == (1280, 900)
    latency = report["latency"]
    print(
        f"\nChromium {report['chromium']}: prediction per window mean {latency['mean_ms']:.3f} ms,"
        f" p50 {latency['p50_ms']:.3f} ms, p95 {latency['p95_ms']:.3f} ms over {latency['calls']} calls;"
        f" feature extraction {report['extraction']['mean_ms'] * 1000:.1f} µs per window"
    )


# --- the builder, on a stand-in npm folder (no Node needed) --------------------------------------


@pytest.fixture
def browser_dir(tmp_path: Path) -> Path:
    """browser/ with the real sources and a stand-in onnxruntime-web of the pinned version."""
    folder = tmp_path / "browser"
    shutil.copytree(bundle.BROWSER_DIR / "src", folder / "src")
    shutil.copyfile(bundle.BROWSER_DIR / "package.json", folder / "package.json")
    pinned = json.loads((folder / "package.json").read_text())["dependencies"][bundle.RUNTIME_PACKAGE]
    dist = folder / "node_modules" / bundle.RUNTIME_PACKAGE / "dist"
    dist.mkdir(parents=True)
    (dist.parent / "package.json").write_text(json.dumps({"version": pinned}))
    for name in (*bundle.RUNTIME_FILES, "ort.webgpu.min.mjs", "ort.min.js.map"):
        (dist / name).write_bytes(name.encode())
    return folder


def test_the_bundle_holds_only_what_the_page_needs(world, browser_dir: Path, tmp_path: Path):
    _actions, payload = world
    manifest = bundle.build_browser_bundle(payload, tmp_path / "out" / "browser_bundle", browser_dir)
    folder = tmp_path / "out" / "browser_bundle"
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    expected = {
        *bundle.SOURCE_FILES,
        bundle.MODEL_FILE,
        "ort/ort.wasm.bundle.min.mjs",
        "ort/ort-wasm-simd-threaded.wasm",
    }
    assert files == expected | {bundle.MANIFEST_FILE}
    assert set(manifest["files"]) == expected
    assert (folder / bundle.MODEL_FILE).read_bytes() == payload
    assert manifest["files"][bundle.MODEL_FILE]["bytes"] == len(payload)
    assert manifest["feature_names"] == list(FEATURE_NAMES)
    assert json.loads((folder / bundle.MANIFEST_FILE).read_text()) == manifest
    assert (
        manifest["versions"][bundle.RUNTIME_PACKAGE]
        == json.loads((browser_dir / "package.json").read_text())["dependencies"][bundle.RUNTIME_PACKAGE]
    )
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["browser_bundle"]  # no temporary folder left


def test_a_missing_npm_install_is_named(world, browser_dir: Path, tmp_path: Path):
    shutil.rmtree(browser_dir / "node_modules")
    with pytest.raises(bundle.BrowserBundleError, match=r"npm ci --prefix browser.*ort\.wasm\.bundle\.min\.mjs"):
        bundle.build_browser_bundle(world[1], tmp_path / "browser_bundle", browser_dir)
    assert not (tmp_path / "browser_bundle").exists()


def test_a_stale_npm_install_is_refused(world, browser_dir: Path, tmp_path: Path):
    installed = browser_dir / "node_modules" / bundle.RUNTIME_PACKAGE / "package.json"
    installed.write_text(json.dumps({"version": "0.0.1"}))
    with pytest.raises(bundle.BrowserBundleError, match=r"0\.0\.1.*pins.*npm ci"):
        bundle.build_browser_bundle(world[1], tmp_path / "browser_bundle", browser_dir)


def test_a_model_with_other_feature_names_is_refused(browser_dir: Path, tmp_path: Path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(400, 20)), np.r_[np.zeros(380), np.ones(20)]
    fitted = core.fit_calibrated(x, y)
    reordered = list(reversed(FEATURE_NAMES))
    payload = core.export_onnx(fitted, WindowSpec().settings(), "test", reordered)
    with pytest.raises(bundle.BrowserBundleError, match="would refuse it"):
        bundle.build_browser_bundle(payload, tmp_path / "browser_bundle", browser_dir)


def test_a_failed_rebuild_keeps_the_previous_bundle(world, browser_dir: Path, tmp_path: Path, monkeypatch):
    destination = tmp_path / "browser_bundle"
    bundle.build_browser_bundle(world[1], destination, browser_dir)
    before = {p.name: p.read_bytes() for p in destination.iterdir() if p.is_file()}
    (destination / "stale.txt").write_text("from an older build")
    real_copy = shutil.copyfile

    def failing_copy(source, target, *args, **kwargs):
        if str(source).endswith(".wasm"):
            raise OSError("disk full")
        return real_copy(source, target, *args, **kwargs)

    monkeypatch.setattr(bundle.shutil, "copyfile", failing_copy)
    with pytest.raises(OSError, match="disk full"):
        bundle.build_browser_bundle(world[1], destination, browser_dir)
    assert {p.name: p.read_bytes() for p in destination.iterdir() if p.is_file() and p.name != "stale.txt"} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # the staging folder is gone

    monkeypatch.setattr(bundle.shutil, "copyfile", real_copy)
    bundle.build_browser_bundle(world[1], destination, browser_dir)
    assert not (destination / "stale.txt").exists()  # a rebuild replaces the folder, not file by file

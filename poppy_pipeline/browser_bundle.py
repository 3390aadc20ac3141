"""The browser bundle: a static folder that any web server can serve, running the click model live.

```
browser_bundle/
  demo.html, demo.js          records the visitor's own actions, shows the live probability
  feature_extractor.js        the 20 window features, the same formulas as `windows.py`
  interaction_predictor.js    onnxruntime-web on the model; checks its feature names at start-up
  onnx_metadata.js            reads the model's metadata properties from its protobuf bytes
  click_model.onnx            the model
  ort/                        onnxruntime-web's WebAssembly build (entry .mjs + its .wasm), no CDN
  manifest.json               every file with its size and SHA-256, the versions
```

The JavaScript sources live in `browser/src/`; onnxruntime-web comes from `browser/node_modules`
(the version pinned in `browser/package.json`, installed by `npm ci --prefix browser`). The
bundle is assembled in a sibling temporary folder and then swapped in, so a good bundle is
never half-overwritten and a failed build leaves the previous one in place.

`export_golden_windows` writes what the JavaScript parity tests compare against: windows with
their session's actions, the Python features and the Python onnxruntime probability;
`serve_folder`, `find_chromium` and `run_browser_check` run `browser/tests/browser_parity.mjs`
against a bundle in headless Chromium (the browser test and the benchmark).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from poppy_pipeline.click_model import onnx_probabilities
from poppy_pipeline.windows import FEATURE_NAMES, WindowSpec

BROWSER_DIR = Path(__file__).resolve().parents[1] / "browser"
SOURCE_FILES = ("demo.html", "demo.js", "feature_extractor.js", "interaction_predictor.js", "onnx_metadata.js")
MODEL_FILE = "click_model.onnx"
MANIFEST_FILE = "manifest.json"
RUNTIME_PACKAGE = "onnxruntime-web"
# The WebAssembly-only build with its Emscripten glue inside, and the one .wasm it loads: the
# other dist files (WebGL, WebGPU, JSEP, JSPI, source maps: ~120 MB) are never requested.
RUNTIME_FILES = ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm")
RUNTIME_DIR = "ort"
GOLDEN_FILE = "golden_windows.json"
DEFAULT_SPEC = WindowSpec()
BROWSER_SCRIPT = BROWSER_DIR / "tests" / "browser_parity.mjs"
# Debian's packages: the smaller headless shell first, else the full browser.
CHROMIUM_CANDIDATES = ("/usr/bin/chromium-headless-shell", "/usr/bin/chromium")


class BrowserBundleError(RuntimeError):
    """The bundle cannot be built (missing sources or npm packages, a model the page would refuse)."""


def build_browser_bundle(model_bytes: bytes, destination: Path, browser_dir: Path = BROWSER_DIR) -> dict:
    """Assemble the bundle at `destination` (replacing any previous one); returns its manifest."""
    destination = Path(destination)
    sources = _require_files(browser_dir / "src", SOURCE_FILES, "the browser sources")
    dist = browser_dir / "node_modules" / RUNTIME_PACKAGE / "dist"
    runtime = _require_files(dist, RUNTIME_FILES, f"{RUNTIME_PACKAGE} (run `npm ci --prefix browser`)")
    versions = _versions(browser_dir)
    model_names = model_feature_names(model_bytes)
    if model_names != list(FEATURE_NAMES):
        raise BrowserBundleError(
            f"the model's feature_names {model_names} differ from the extractor's {list(FEATURE_NAMES)}:"
            " the page would refuse it"
        )

    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = destination.parent / f".{destination.name}.tmp-{uuid.uuid4().hex}"
    try:
        (staging / RUNTIME_DIR).mkdir(parents=True)
        for source in sources:
            shutil.copyfile(source, staging / source.name)
        for source in runtime:
            shutil.copyfile(source, staging / RUNTIME_DIR / source.name)
        (staging / MODEL_FILE).write_bytes(model_bytes)
        manifest = {
            "entry": "demo.html",
            "versions": versions,
            "feature_names": model_names,
            "files": _file_table(staging),
        }
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
        _swap_in(staging, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def model_feature_names(model_bytes: bytes) -> list[str] | None:
    """The model's `feature_names` metadata property (a JSON list), or None without one."""
    import onnx

    properties = {p.key: p.value for p in onnx.load_from_string(model_bytes).metadata_props}
    return json.loads(properties["feature_names"]) if "feature_names" in properties else None


def _require_files(folder: Path, names: tuple[str, ...], what: str) -> list[Path]:
    paths = [folder / name for name in names]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise BrowserBundleError(f"missing {what}: {', '.join(missing)}")
    return paths


def _versions(browser_dir: Path) -> dict[str, str]:
    """The bundle's package version and onnxruntime-web's, which must be the pinned one."""
    package = json.loads((browser_dir / "package.json").read_text())
    pinned = package["dependencies"][RUNTIME_PACKAGE]
    installed_json = browser_dir / "node_modules" / RUNTIME_PACKAGE / "package.json"
    installed = json.loads(installed_json.read_text())["version"]
    if installed != pinned:
        raise BrowserBundleError(
            f"{installed_json} is version {installed}, browser/package.json pins {pinned}:"
            " run `npm ci --prefix browser`"
        )
    return {package["name"]: package["version"], RUNTIME_PACKAGE: installed}


def _file_table(folder: Path) -> dict[str, dict]:
    table = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        table[path.relative_to(folder).as_posix()] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return table


def _swap_in(staging: Path, destination: Path) -> None:
    """Rename the finished folder into place; the old one is moved aside first and dropped after.

    Two renames within one folder: the destination is briefly absent, but never half-written,
    and if the second rename fails the old bundle is put back.
    """
    if not destination.exists():
        staging.rename(destination)
        return
    retired = destination.parent / f".{destination.name}.old-{uuid.uuid4().hex}"
    destination.rename(retired)
    try:
        staging.rename(destination)
    except BaseException:
        retired.rename(destination)
        raise
    shutil.rmtree(retired, ignore_errors=True)


# --- golden windows for the JavaScript parity tests ---------------------------------------------


def export_golden_windows(
    actions: pd.DataFrame, windows: pd.DataFrame, model_bytes: bytes, folder: Path, spec: WindowSpec = DEFAULT_SPEC
) -> Path:
    """Write `golden_windows.json` and the model into `folder`; returns the JSON's path.

    `windows` are rows of a `sliding_window_features` table of `actions`. The JSON holds, per
    window, its session's id, end (ms since the epoch), the Python features (FEATURE_NAMES
    order) and onnxruntime's probability; per session, its actions (columns `action`,
    `timestamp` in ms, `scroll_amount`, null when missing) in time order, of which the tests
    pass those up to each window's end: what a page would have recorded by then.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    features = windows[list(FEATURE_NAMES)].to_numpy(dtype=np.float64)
    probabilities = onnx_probabilities(model_bytes, features) if len(features) else np.empty(0)
    session_ids = windows["Session_ID"].astype(str).to_numpy()
    ends = _milliseconds(windows["Window_End"])
    golden = {
        "feature_names": list(FEATURE_NAMES),
        "window_ms": spec.window_ms,
        "min_actions": spec.min_actions,
        "model": MODEL_FILE,
        "sessions": _session_columns(actions, set(session_ids)),
        "windows": [
            {"session": s, "window_end_ms": int(e), "features": f, "probability": float(p)}
            for s, e, f, p in zip(session_ids, ends, features.tolist(), probabilities, strict=True)
        ],
    }
    unknown = set(session_ids) - golden["sessions"].keys()
    if unknown:
        raise ValueError(f"windows of sessions without actions: {sorted(unknown)[:5]}")
    (folder / MODEL_FILE).write_bytes(model_bytes)
    path = folder / GOLDEN_FILE
    path.write_text(json.dumps(golden))
    return path


def _milliseconds(values: pd.Series) -> np.ndarray:
    return values.to_numpy().astype("datetime64[ms]").astype(np.int64)


def _session_columns(actions: pd.DataFrame, wanted: set[str]) -> dict[str, dict[str, list]]:
    """The wanted sessions' actions as columns, each session in time order (ties keep file order)."""
    ids = actions["Session_ID"].astype(str).to_numpy()
    rows = np.flatnonzero(np.isin(ids, list(wanted)))
    rows = rows[np.lexsort((_milliseconds(actions["Timestamp"].iloc[rows]), ids[rows]))]
    ids = ids[rows]
    times = _milliseconds(actions["Timestamp"].iloc[rows]).tolist()
    kinds = actions["Action"].iloc[rows].astype(str).tolist()
    amounts = pd.to_numeric(actions["Scroll_Amount"].iloc[rows]).astype(object)
    amounts = amounts.where(amounts.notna(), None).tolist()
    bounds = np.r_[np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]), len(ids)] if len(ids) else np.zeros(1, int)
    return {
        ids[a]: {"action": kinds[a:b], "timestamp": times[a:b], "scroll_amount": amounts[a:b]}
        for a, b in itertools.pairwise(bounds)
    }


# --- serving the bundle and checking it in headless Chromium ------------------------------------


class _QuietHandler(SimpleHTTPRequestHandler):
    """Static files without a log line per request; JS and WebAssembly with their MIME types."""

    extensions_map: ClassVar[dict[str, str]] = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
        ".json": "application/json",
        ".onnx": "application/octet-stream",
    }
    isolated = False

    def end_headers(self) -> None:
        if self.isolated:  # cross-origin isolation: only for finer timers when benchmarking
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve_folder(folder: Path, isolated: bool = False) -> Iterator[str]:
    """Serve `folder` on 127.0.0.1 at a free port, in a thread; yields the base URL."""
    handler = type("Handler", (_QuietHandler,), {"isolated": isolated})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def find_chromium() -> str | None:
    """`$CHROMIUM_PATH`, else the first of Debian's Chromium binaries that exists."""
    if os.environ.get("CHROMIUM_PATH"):
        return os.environ["CHROMIUM_PATH"]
    return next((path for path in CHROMIUM_CANDIDATES if Path(path).is_file()), None)


def run_browser_check(
    page_url: str,
    golden: Path,
    chromium: str,
    mode: str = "parity",
    calls: int = 1000,
    screenshot: Path | None = None,
    timeout: float = 180,
) -> tuple[dict, subprocess.CompletedProcess]:
    """Run `browser_parity.mjs`; its JSON report (empty if it printed none) and the finished process."""
    command = ["node", str(BROWSER_SCRIPT), "--url", page_url, "--golden", str(golden)]
    command += ["--chromium", chromium, "--mode", mode, "--calls", str(calls)]
    if screenshot is not None:
        command += ["--screenshot", str(screenshot)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=BROWSER_DIR)
    lines = done.stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        report = {}
    return report, done

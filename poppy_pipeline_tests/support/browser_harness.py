"""The browser bundle's test harness: golden windows for the JavaScript parity tests, and the bundle
served on 127.0.0.1 and checked in headless Chromium (the browser test and benchmarks/bench_browser.py).

`export_golden_windows` writes what the JavaScript compares against: windows with their session's
actions, the Python features and the Python onnxruntime probability, and the model. `serve_folder`,
`find_chromium` and `run_browser_check` run `browser/tests/browser_parity.mjs` against a bundle.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import subprocess
import threading
from collections.abc import Iterator, Sequence
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from poppy_pipeline.behaviour.features import FEATURE_NAMES, WindowSpec
from poppy_pipeline.click_model.browser_bundle import BROWSER_DIR, MODEL_FILE
from poppy_pipeline.click_model.onnx_export import onnx_probabilities

GOLDEN_FILE = "golden_windows.json"
BROWSER_SCRIPT = BROWSER_DIR / "tests" / "browser_parity.mjs"
# Debian's packages: the smaller headless shell first, else the full browser.
CHROMIUM_CANDIDATES = ("/usr/bin/chromium-headless-shell", "/usr/bin/chromium")


def export_golden_windows(
    actions: pd.DataFrame, windows: pd.DataFrame, model_bytes: bytes, folder: Path, spec: WindowSpec | None = None
) -> Path:
    """Write `golden_windows.json` and the model into `folder`; returns the JSON's path.

    `windows` are rows of a `sliding_window_features` table of `actions`. The JSON holds, per
    window, its session's id, end (ms since the epoch), the Python features (FEATURE_NAMES
    order) and onnxruntime's probability; per session, its actions (columns `action`,
    `timestamp` in ms, `scroll_amount`, null when missing) in time order, of which the tests
    pass those up to each window's end: what a page would have recorded by then.
    """
    spec = spec or WindowSpec()
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
    golden: Path | Sequence[Path],
    chromium: str,
    mode: str = "parity",
    calls: int = 1000,
    screenshot: Path | None = None,
    timeout: float = 180,
) -> tuple[dict, subprocess.CompletedProcess]:
    """Run `browser_parity.mjs`; its JSON report (empty if it printed none) and the finished process.

    The first golden file's model is the bundle's; the page checks the others' models too.
    """
    goldens = [golden] if isinstance(golden, str | Path) else list(golden)
    command = ["node", str(BROWSER_SCRIPT), "--url", page_url]
    command += [argument for path in goldens for argument in ("--golden", str(path))]
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

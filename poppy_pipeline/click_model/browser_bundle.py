"""The browser bundle: a static folder that any web server can serve, running the click model live.

```
browser_bundle/
  demo.html, demo.js          records the visitor's own actions, shows the live probability
  feature_extractor.js        the 20 window features, the same formulas as `windows.py`
  interaction_predictor.js    the predictor; checks the model's feature names and window at start-up
  light_runtime.js            the default backend: the model's ONNX graph evaluated in JavaScript
  ort_backend.js              the 'ort' backend's glue, imported only when it is chosen
  onnx_model.js               reads the model's graph and metadata from its protobuf bytes
  click_model.onnx            the model
  ort/                        the 'ort' backend: onnxruntime-web's WebAssembly build, no CDN
  manifest.json               every file with its size and SHA-256, the versions, each backend's files
```

The JavaScript sources live in `browser/src/`; onnxruntime-web comes from `browser/node_modules`
(the version pinned in `browser/package.json`, installed by `npm ci --prefix browser`). The
bundle is assembled in a sibling temporary folder and then swapped in, so a good bundle is
never half-overwritten and a failed build leaves the previous one in place. A model the page
would refuse (other feature names, window settings missing or invalid) is refused here first.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from poppy_pipeline.behaviour.features import FEATURE_NAMES, WindowSpec
from poppy_pipeline.common.paths import replaced_atomically

BROWSER_DIR = Path(__file__).resolve().parents[2] / "browser"
# What a page downloads to predict with the light runtime (the default): the demo page, the
# modules it imports and the model. The 'ort' backend adds ORT_SOURCE_FILES and RUNTIME_FILES.
LIGHT_SOURCE_FILES = (
    "demo.html",
    "demo.js",
    "feature_extractor.js",
    "interaction_predictor.js",
    "light_runtime.js",
    "onnx_model.js",
)
ORT_SOURCE_FILES = ("ort_backend.js",)
SOURCE_FILES = LIGHT_SOURCE_FILES + ORT_SOURCE_FILES
MODEL_FILE = "click_model.onnx"
MANIFEST_FILE = "manifest.json"
RUNTIME_PACKAGE = "onnxruntime-web"
# The WebAssembly-only build with its Emscripten glue inside, and the one .wasm it loads: the
# other dist files (WebGL, WebGPU, JSEP, JSPI, source maps: ~120 MB) are never requested.
RUNTIME_FILES = ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm")
RUNTIME_DIR = "ort"
# The metadata properties that carry the model's window settings (onnx_export.onnx_properties).
WINDOW_PROPERTIES = ("window_seconds", "step_seconds", "horizon_seconds", "min_actions")


class BrowserBundleError(RuntimeError):
    """The bundle cannot be built (missing sources or npm packages, a model the page would refuse)."""


def build_browser_bundle(model_bytes: bytes, destination: Path, browser_dir: Path = BROWSER_DIR) -> dict[str, Any]:
    """Assemble the bundle at `destination` (replacing any previous one); returns its manifest."""
    destination = Path(destination)
    sources = _require_files(browser_dir / "src", SOURCE_FILES, "the browser sources")
    dist = browser_dir / "node_modules" / RUNTIME_PACKAGE / "dist"
    runtime = _require_files(dist, RUNTIME_FILES, f"{RUNTIME_PACKAGE} (run `npm ci --prefix browser`)")
    versions = _versions(browser_dir)
    properties = model_properties(model_bytes)
    model_names = json.loads(properties["feature_names"]) if "feature_names" in properties else None
    if model_names != list(FEATURE_NAMES):
        raise BrowserBundleError(
            f"the model's feature_names {model_names} differ from the extractor's {list(FEATURE_NAMES)}:"
            " the page would refuse it"
        )
    spec = model_window_spec(properties)

    with replaced_atomically(destination) as staging:
        (staging / RUNTIME_DIR).mkdir(parents=True)
        for source in sources:
            shutil.copyfile(source, staging / source.name)
        for source in runtime:
            shutil.copyfile(source, staging / RUNTIME_DIR / source.name)
        (staging / MODEL_FILE).write_bytes(model_bytes)
        files = _file_table(staging)
        manifest = {
            "entry": "demo.html",
            "versions": versions,
            "feature_names": model_names,
            "window": spec.settings(),
            "files": files,
            "backends": _backends(files),
        }
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def model_properties(model_bytes: bytes) -> dict[str, str]:
    """The model's metadata properties."""
    import onnx

    return {p.key: p.value for p in onnx.load_from_string(model_bytes).metadata_props}


def model_window_spec(properties: dict[str, str]) -> WindowSpec:
    """The window settings the model was trained with; refused as the page would refuse them."""
    missing = [name for name in WINDOW_PROPERTIES if name not in properties]
    if missing:
        raise BrowserBundleError(
            f"the model has no {', '.join(missing)} metadata propert{'ies' if len(missing) > 1 else 'y'}:"
            " the page could not compute its features; re-export it with this pipeline version"
        )
    values = {}
    for name in WINDOW_PROPERTIES:
        try:
            values[name] = float(properties[name])
        except ValueError:
            raise BrowserBundleError(
                f"the model's {name} {properties[name]!r} is not a number: the page would refuse this model"
            ) from None
    if not values["min_actions"].is_integer():
        raise BrowserBundleError(
            f"the model's min_actions {properties['min_actions']!r} is not a whole number: the page would refuse it"
        )
    seconds = (values["window_seconds"], values["step_seconds"], values["horizon_seconds"])
    try:
        return WindowSpec.from_seconds(*seconds, int(values["min_actions"]), prefix="the model's ")
    except ValueError as error:
        raise BrowserBundleError(f"{error}: the page would refuse this model") from error


def _backends(files: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The files each backend's page downloads to predict, and their total size."""
    light = [*LIGHT_SOURCE_FILES, MODEL_FILE]
    ort = [*light, *ORT_SOURCE_FILES, *(f"{RUNTIME_DIR}/{name}" for name in RUNTIME_FILES)]
    paths = {"light": light, "ort": ort}
    return {name: {"files": p, "bytes": sum(files[f]["bytes"] for f in p)} for name, p in paths.items()}


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


def _file_table(folder: Path) -> dict[str, dict[str, Any]]:
    table = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        table[path.relative_to(folder).as_posix()] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return table

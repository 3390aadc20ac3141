"""The browser bundle's builder (`click_model/browser_bundle.py`) and its asset, without Node.

On a stand-in npm folder (`browser_dir`: the real sources, a fake onnxruntime-web of the pinned
version) the bundle holds only what the page needs, refuses a missing or stale npm install and a
model the page would refuse, keeps the previous bundle when a rebuild fails, and keeps the light
path within its download budget. The bundle against the Python side, in Node and in Chromium, is
`test_browser_parity.py`.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from poppy_pipeline.behaviour.features import FEATURE_NAMES, WindowSpec
from poppy_pipeline.click_model import browser_bundle as bundle
from poppy_pipeline.click_model import onnx_export
from poppy_pipeline.click_model import training as core

# The light path's download budget (issue 17): page, modules and model.
LIGHT_BUDGET_BYTES = 100_000


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
    payload = world[2]
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
    assert manifest["window"] == WindowSpec().settings()
    light, ort = manifest["backends"]["light"], manifest["backends"]["ort"]
    ort_only = {*bundle.ORT_SOURCE_FILES, *(f"{bundle.RUNTIME_DIR}/{name}" for name in bundle.RUNTIME_FILES)}
    assert set(light["files"]) == expected - ort_only
    assert set(ort["files"]) == expected
    assert light["bytes"] == sum(manifest["files"][name]["bytes"] for name in light["files"])
    assert json.loads((folder / bundle.MANIFEST_FILE).read_text()) == manifest
    assert (
        manifest["versions"][bundle.RUNTIME_PACKAGE]
        == json.loads((browser_dir / "package.json").read_text())["dependencies"][bundle.RUNTIME_PACKAGE]
    )
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["browser_bundle"]  # no temporary folder left


def test_a_missing_npm_install_is_named(world, browser_dir: Path, tmp_path: Path):
    shutil.rmtree(browser_dir / "node_modules")
    with pytest.raises(bundle.BrowserBundleError, match=r"npm ci --prefix browser.*ort\.wasm\.bundle\.min\.mjs"):
        bundle.build_browser_bundle(world[2], tmp_path / "browser_bundle", browser_dir)
    assert not (tmp_path / "browser_bundle").exists()


def test_a_stale_npm_install_is_refused(world, browser_dir: Path, tmp_path: Path):
    installed = browser_dir / "node_modules" / bundle.RUNTIME_PACKAGE / "package.json"
    installed.write_text(json.dumps({"version": "0.0.1"}))
    with pytest.raises(bundle.BrowserBundleError, match=r"0\.0\.1.*pins.*npm ci"):
        bundle.build_browser_bundle(world[2], tmp_path / "browser_bundle", browser_dir)


def test_a_model_with_other_feature_names_is_refused(browser_dir: Path, tmp_path: Path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(400, 20)), np.r_[np.zeros(380), np.ones(20)]
    fitted = core.fit_calibrated(x, y)
    reordered = list(reversed(FEATURE_NAMES))
    payload = onnx_export.export_onnx(fitted, WindowSpec().settings(), "test", reordered)
    with pytest.raises(bundle.BrowserBundleError, match="would refuse it"):
        bundle.build_browser_bundle(payload, tmp_path / "browser_bundle", browser_dir)


def test_the_light_path_fits_its_budget(world):
    """Everything the light page downloads to predict (page, modules, model), from the real sources."""
    sources = sum((bundle.BROWSER_DIR / "src" / name).stat().st_size for name in bundle.LIGHT_SOURCE_FILES)
    assert sources + len(world[2]) <= LIGHT_BUDGET_BYTES, (sources, len(world[2]))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"min_actions": None}, r"no min_actions metadata property.*re-export"),
        ({"window_seconds": None, "step_seconds": None}, r"no window_seconds, step_seconds metadata properties"),
        ({"window_seconds": "0.0"}, r"the model's window_seconds must be a positive whole number of milliseconds"),
        ({"horizon_seconds": "ten"}, r"the model's horizon_seconds 'ten' is not a number"),
        ({"min_actions": "2.5"}, r"min_actions '2.5' is not a whole number"),
        ({"min_actions": "0"}, r"the model's min_actions must be at least 1"),
    ],
)
def test_a_model_with_settings_the_page_cannot_honour_is_refused(world, browser_dir, tmp_path, changes, message):
    import onnx

    model = onnx.load_from_string(world[2])
    properties = {p.key: p.value for p in model.metadata_props} | changes
    del model.metadata_props[:]
    for key, value in properties.items():
        if value is not None:
            model.metadata_props.add(key=key, value=value)
    with pytest.raises(bundle.BrowserBundleError, match=message):
        bundle.build_browser_bundle(model.SerializeToString(), tmp_path / "browser_bundle", browser_dir)
    assert not (tmp_path / "browser_bundle").exists()


def test_a_failed_rebuild_keeps_the_previous_bundle(world, browser_dir: Path, tmp_path: Path, monkeypatch):
    destination = tmp_path / "browser_bundle"
    bundle.build_browser_bundle(world[2], destination, browser_dir)
    before = {p.name: p.read_bytes() for p in destination.iterdir() if p.is_file()}
    (destination / "stale.txt").write_text("from an older build")
    real_copy = shutil.copyfile

    def failing_copy(source, target, *args, **kwargs):
        if str(source).endswith(".wasm"):
            raise OSError("disk full")
        return real_copy(source, target, *args, **kwargs)

    monkeypatch.setattr(bundle.shutil, "copyfile", failing_copy)
    with pytest.raises(OSError, match="disk full"):
        bundle.build_browser_bundle(world[2], destination, browser_dir)
    assert {p.name: p.read_bytes() for p in destination.iterdir() if p.is_file() and p.name != "stale.txt"} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # the staging folder is gone

    monkeypatch.setattr(bundle.shutil, "copyfile", real_copy)
    bundle.build_browser_bundle(world[2], destination, browser_dir)
    assert not (destination / "stale.txt").exists()  # a rebuild replaces the folder, not file by file


def test_the_asset_fails_with_one_sentence_and_keeps_the_previous_bundle(world, tmp_path: Path, monkeypatch):
    """A bundle that cannot be built (here: npm packages missing) is a dg.Failure naming the cause."""
    import dagster as dg

    from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
    from poppy_pipeline.defs import browser_bundle as asset_module

    previous = tmp_path / asset_module.BUNDLE_FOLDER
    previous.mkdir()
    (previous / "demo.html").write_text("the previous bundle")

    def without_npm(model_bytes, destination):
        raise bundle.BrowserBundleError("missing onnxruntime-web (run `npm ci --prefix browser`): ort.wasm")

    monkeypatch.setattr(asset_module, "build_browser_bundle", without_npm)
    with pytest.raises(dg.Failure, match=r"^browser_bundle not built, the previous bundle is kept: missing onnx"):
        asset_module.browser_bundle(
            dg.build_asset_context(), outputs=OutputsResource(base_dir=str(tmp_path)), click_model_onnx=world[2]
        )
    assert (previous / "demo.html").read_text() == "the previous bundle"

"""browser_bundle: the click model, its two runtimes (JavaScript, onnxruntime-web) and the page, as a static folder."""

import hashlib
from pathlib import Path

import dagster as dg
import pandas as pd

from poppy_pipeline.click_model.browser_bundle import (
    MANIFEST_FILE,
    MODEL_FILE,
    BrowserBundleError,
    build_browser_bundle,
)
from poppy_pipeline.dagster_support.metadata import markdown_table
from poppy_pipeline.dagster_support.outputs_resource import OutputsResource
from poppy_pipeline.dagster_support.partitions import single_run

BUNDLE_FOLDER = "browser_bundle"
CONTENTS_CHECK = "bundle_matches_manifest"


@dg.asset(
    group_name="model",
    kinds={"javascript", "html", "onnx"},
    backfill_policy=single_run,
    check_specs=[
        dg.AssetCheckSpec(
            CONTENTS_CHECK,
            asset="browser_bundle",
            description="Every file of manifest.json is in the folder with its SHA-256, and the bundled"
            " model is the click_model_onnx it was built from.",
        )
    ],
    dagster_type=dg.Any,  # stated: with check_specs, a `-> MaterializeResult` alone would make it Nothing
)
def browser_bundle(
    context: dg.AssetExecutionContext, outputs: OutputsResource, click_model_onnx: bytes
) -> dg.MaterializeResult:
    """`<outputs>/browser_bundle/`: `demo.html`, the JS modules (extractor, predictor, the light
    runtime that evaluates the ONNX graph in JavaScript), the current `click_model.onnx` and, for the
    `ort` backend, onnxruntime-web's WebAssembly files (pinned in `browser/package.json`, installed
    by `npm ci --prefix browser`; no CDN). Serve it with any static web server, e.g.
    `python -m http.server -d data/outputs/browser_bundle 8000`.

    Built in a temporary folder and swapped in, so a failed build leaves the previous bundle; a
    model the page would refuse (feature names, window settings) fails the build.
    """
    folder = outputs.path() / BUNDLE_FOLDER
    staged = outputs.write_folder(folder)  # published as a whole with the run: it replaces the previous bundle
    try:
        with outputs.writing(folder):
            manifest = build_browser_bundle(click_model_onnx, staged)
    except BrowserBundleError as error:  # a missing npm install or a refused model: a sentence, not a trace
        raise dg.Failure(f"browser_bundle not built, the previous bundle is kept: {error}.") from None
    files = manifest["files"]
    total = sum(f["bytes"] for f in files.values())
    context.log.info(f"browser_bundle: {len(files)} files, {total:,} bytes in {folder}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(folder.resolve())),
            "files": len(files),
            "total_bytes": total,
            "model_bytes": files[MODEL_FILE]["bytes"],
            "light_path_bytes": manifest["backends"]["light"]["bytes"],
            "ort_path_bytes": manifest["backends"]["ort"]["bytes"],
            "window": dg.MetadataValue.json(manifest["window"]),
            "versions": dg.MetadataValue.json(manifest["versions"]),
            "manifest": dg.MetadataValue.md(
                markdown_table(pd.DataFrame({"file": list(files), "bytes": [f["bytes"] for f in files.values()]}))
            ),
        },
        check_results=[_contents_check(staged, manifest, click_model_onnx)],
    )


def _contents_check(folder: Path, manifest: dict, model_bytes: bytes) -> dg.AssetCheckResult:
    """Reads the folder back: what a web server would serve is what the manifest promises."""
    problems = []
    for name, expected in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != expected["sha256"]:
            problems.append(f"{name}: content differs from {MANIFEST_FILE}")
    if (folder / MODEL_FILE).is_file() and (folder / MODEL_FILE).read_bytes() != model_bytes:
        problems.append(f"{MODEL_FILE}: not the click_model_onnx it was built from")
    metadata: dict[str, str | int] = {"problems": str(problems), "files": len(manifest["files"])}
    return dg.AssetCheckResult(check_name=CONTENTS_CHECK, passed=not problems, metadata=metadata)

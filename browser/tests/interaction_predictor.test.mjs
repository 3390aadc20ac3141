// The predictor: the metadata reader, its input checks, and (with POPPY_GOLDEN_WINDOWS) the
// exported models on both backends (the light runtime, onnxruntime-web in Node) against Python's
// onnxruntime probabilities.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { FEATURE_NAMES } from '../src/feature_extractor.js';
import { BACKENDS, InteractionPredictor, checkFeatureNames, featureRow } from '../src/interaction_predictor.js';
import { readMetadataProps } from '../src/onnx_model.js';
import { SKIP_WITHOUT_GOLDEN, actionsUpTo, loadGoldenSets } from './golden.mjs';
import { concat, lengthField, metadataEntry, onnxModel, valueInfo, varint, withMetadata } from './protobuf.mjs';

// In Node the runtime comes straight from node_modules (the bundle copies it to ort/).
const RUNTIME_URL = new URL('../node_modules/onnxruntime-web/dist/ort.wasm.bundle.min.mjs', import.meta.url);
// Where no runtime is: the light backend must never need it.
const NO_RUNTIME = new URL('./no_such_runtime.mjs', import.meta.url);
// |p − p_python|: the light runtime sums in onnxruntime's CPU order (about one float32 step off);
// onnxruntime-web's WebAssembly kernel sums in another order (docs/browser.md).
const TOLERANCE = { light: 1e-6, ort: 1e-5 };
const WINDOW = { window_seconds: '120.0', step_seconds: '10.0', horizon_seconds: '10.0', min_actions: '5' };

test('metadata properties are read from the protobuf, skipping every other field', () => {
  const long = 'λ'.repeat(300); // a value whose length needs a two-byte varint
  const model = concat(
    Uint8Array.from([0x08, ...varint(8)]), // 1: ir_version (varint)
    lengthField(2, 'skl2onnx'), // 2: producer_name
    Uint8Array.from([0x29, 1, 2, 3, 4, 5, 6, 7, 8]), // 5, wire type 1 (8 bytes)
    Uint8Array.from([0x35, 1, 2, 3, 4]), // 6, wire type 5 (4 bytes)
    lengthField(7, concat(lengthField(1, 'nested'), metadataEntry('not', 'top-level'))), // 7: graph
    metadataEntry('feature_names', JSON.stringify(FEATURE_NAMES)),
    metadataEntry('long', long),
    Uint8Array.from([0x80 | 0x28, 0x01, ...varint(2 ** 40)]), // 21: a varint past 32 bits
  );
  assert.deepEqual(readMetadataProps(model), { feature_names: JSON.stringify(FEATURE_NAMES), long });
  assert.deepEqual(readMetadataProps(model.buffer), readMetadataProps(model));
  assert.throws(() => readMetadataProps(model.subarray(0, model.length - 3)), /not an ONNX model/);
  assert.throws(() => readMetadataProps(Uint8Array.from([0x0b])), /wire type 3/);
  assert.throws(() => readMetadataProps(new TextEncoder().encode('<html>404</html>')), /not an ONNX model/);
});

test('the model must list FEATURE_NAMES, in order', () => {
  checkFeatureNames({ feature_names: JSON.stringify(FEATURE_NAMES) });
  const swapped = [...FEATURE_NAMES];
  [swapped[0], swapped[1]] = [swapped[1], swapped[0]];
  assert.throws(() => checkFeatureNames({ feature_names: JSON.stringify(swapped) }), /rebuild the bundle/);
  const short = JSON.stringify(FEATURE_NAMES.slice(1));
  assert.throws(() => checkFeatureNames({ feature_names: short }), /expects the features/);
  assert.throws(() => checkFeatureNames({}), /no 'feature_names' metadata property/);
  assert.throws(() => checkFeatureNames({ feature_names: 'a,b' }), /not a JSON list/);
});

test('features: 20 numbers in order or an object by name; missing or unknown names are errors', () => {
  const values = FEATURE_NAMES.map((_, i) => i / 7);
  const row = featureRow(values);
  assert.ok(row instanceof Float32Array && row.length === 20);
  assert.deepEqual(featureRow(Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, values[i]]))), row);
  assert.deepEqual(featureRow(Float64Array.from(values)), row);
  const named = Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, values[i]]));
  delete named.blur_frequency;
  assert.throws(() => featureRow(named), /missing \["blur_frequency"\]/);
  assert.throws(() => featureRow({ ...named, blur_frequency: 0, blur_freq: 1 }), /unknown \["blur_freq"\]/);
  assert.throws(() => featureRow(values.slice(1)), /expected 20 features/);
  assert.throws(() => featureRow([...values.slice(1), Number.NaN]), /engagement_rhythm must be a finite number/);
  assert.throws(() => featureRow([...values.slice(1), '1']), /engagement_rhythm/);
  assert.throws(() => featureRow(null), /must be an array/);
});

test('predicting before initialize() is an error; a backend is one of light and ort', async () => {
  await assert.rejects(new InteractionPredictor().predictClickProbability(new Array(20).fill(0)), /initialize/);
  assert.throws(() => new InteractionPredictor().extractFeatures([], 0), /initialize\(\) before extracting/);
  assert.equal(new InteractionPredictor().backend, 'light');
  assert.deepEqual(BACKENDS, ['light', 'ort']);
  assert.throws(() => new InteractionPredictor({ backend: 'wasm' }), /unknown backend "wasm": choose one of light, ort/);
});

test('the light backend refuses, at start-up, a graph it does not implement, naming the operator', async () => {
  const model = onnxModel({
    nodes: [{ opType: 'Sigmoid', inputs: ['float_input'], outputs: ['probabilities'] }],
    inputs: [valueInfo('float_input', 1, [null, 20])],
    outputs: [valueInfo('probabilities', 1, [null, 20])],
    metadata: { feature_names: JSON.stringify(FEATURE_NAMES), ...WINDOW },
  });
  await assert.rejects(new InteractionPredictor().initialize(model), /does not implement the operator Sigmoid/);
  const unsettled = withMetadata(model, { feature_names: JSON.stringify(FEATURE_NAMES) });
  await assert.rejects(new InteractionPredictor().initialize(unsettled), /no 'window_seconds' metadata property/);
});

for (const backend of BACKENDS) {
  test(`golden windows: the ${backend} backend equals Python onnxruntime (${TOLERANCE[backend]})`, { skip: SKIP_WITHOUT_GOLDEN }, async (t) => {
    for (const golden of loadGoldenSets()) {
      await checkGolden(t, backend, golden);
    }
  });
}

async function checkGolden(t, backend, golden) {
  const runtimeUrl = backend === 'ort' ? RUNTIME_URL : NO_RUNTIME;
  const predictor = await new InteractionPredictor({ backend }).initialize(golden.modelPath, { runtimeUrl });
  assert.deepEqual(JSON.parse(predictor.metadata.feature_names), [...FEATURE_NAMES]);
  assert.equal(predictor.settings.windowMs, golden.window_ms);
  assert.equal(predictor.settings.minActions, golden.min_actions);
  const label = `${backend}, ${golden.window_ms / 1000} s windows`;
  const tolerance = TOLERANCE[backend];

  await t.test(`${label}: from the Python features, as arrays and by name`, async () => {
    let worst = 0;
    for (const window of golden.windows) {
      const p = await predictor.predictClickProbability(window.features);
      const named = Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, window.features[i]]));
      assert.equal(await predictor.predictClickProbability(named), p);
      assert.ok(p >= 0 && p <= 1);
      worst = Math.max(worst, Math.abs(p - window.probability));
    }
    assert.ok(worst <= tolerance, `max |p_${backend} − p_python| = ${worst}`);
  });

  await t.test(`${label}: from the actions (null below the model's min_actions), with overlapping calls`, async () => {
    const pending = golden.windows.map((window) => {
      const actions = actionsUpTo(golden.sessions[window.session], window.window_end_ms);
      return predictor.predictFromActions(actions, window.window_end_ms);
    });
    const results = await Promise.all(pending);
    let worst = 0;
    const density = FEATURE_NAMES.indexOf('interaction_density');
    golden.windows.forEach((window, i) => {
      const count = Math.round((window.features[density] * golden.window_ms) / 1000);
      if (count < golden.min_actions) assert.equal(results[i], null);
      else worst = Math.max(worst, Math.abs(results[i] - window.probability));
    });
    assert.ok(results.some((p) => p !== null) && results.some((p) => p === null));
    assert.ok(worst <= tolerance, `max |p_${backend} − p_python| = ${worst}`);
  });

  await t.test(`${label}: the comparison has teeth: a perturbed row moves the probability`, async () => {
    const window = golden.windows.find((w) => w.probability > 0.01 && w.probability < 0.99) ?? golden.windows[0];
    const moved = [...window.features];
    moved[FEATURE_NAMES.indexOf('click_count')] += 5 / 120;
    moved[FEATURE_NAMES.indexOf('time_since_last_action')] += 30;
    const p = await predictor.predictClickProbability(moved);
    assert.ok(Math.abs(p - window.probability) > 100 * tolerance, `${p} vs ${window.probability}`);
  });

  await t.test(`${label}: a model with other feature names or without its window is refused at start-up`, async () => {
    const bytes = new Uint8Array(readFileSync(golden.modelPath));
    const start = (model) => new InteractionPredictor({ backend }).initialize(model, { runtimeUrl });
    const reordered = [...FEATURE_NAMES].reverse();
    const wrong = withMetadata(bytes, { ...predictor.metadata, feature_names: JSON.stringify(reordered) });
    await assert.rejects(start(wrong), /expects the features .*rebuild the bundle/);
    await assert.rejects(start(withMetadata(bytes, {})), /no 'feature_names'/);
    const { min_actions: _, ...older } = predictor.metadata; // a model exported before min_actions was recorded
    await assert.rejects(start(withMetadata(bytes, older)), /no 'min_actions' metadata property.*re-export/);
    const odd = withMetadata(bytes, { ...predictor.metadata, window_seconds: '59.9999' });
    await assert.rejects(start(odd), /window_seconds is "59.9999": this extractor needs a positive whole number of milliseconds/);
    // The re-encoding itself is sound: the same properties give a model that loads.
    const again = await start(withMetadata(bytes, predictor.metadata));
    const row = golden.windows[0].features;
    assert.equal(await again.predictClickProbability(row), await predictor.predictClickProbability(row));
  });
}

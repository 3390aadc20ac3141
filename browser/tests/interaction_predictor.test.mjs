// The predictor: the metadata reader, its input checks, and (with POPPY_GOLDEN_WINDOWS) the
// exported model under onnxruntime-web in Node against Python's onnxruntime probabilities.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { FEATURE_NAMES, MIN_ACTIONS } from '../src/feature_extractor.js';
import { InteractionPredictor, checkFeatureNames, featureRow } from '../src/interaction_predictor.js';
import { readMetadataProps } from '../src/onnx_metadata.js';
import { SKIP_WITHOUT_GOLDEN, actionsUpTo, loadGolden } from './golden.mjs';
import { concat, lengthField, metadataEntry, varint, withMetadata } from './protobuf.mjs';

// In Node the runtime comes straight from node_modules (the bundle copies it to ort/).
const RUNTIME_URL = new URL('../node_modules/onnxruntime-web/dist/ort.wasm.bundle.min.mjs', import.meta.url);
const PROBABILITY_TOLERANCE = 1e-5;

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

test('predicting before initialize() is an error', async () => {
  await assert.rejects(new InteractionPredictor().predictClickProbability(new Array(20).fill(0)), /initialize/);
});

test('golden windows: onnxruntime-web equals Python onnxruntime (1e-5)', { skip: SKIP_WITHOUT_GOLDEN }, async (t) => {
  const golden = loadGolden();
  const predictor = await new InteractionPredictor().initialize(golden.modelPath, { runtimeUrl: RUNTIME_URL });
  assert.deepEqual(JSON.parse(predictor.metadata.feature_names), [...FEATURE_NAMES]);

  await t.test('from the Python features, as arrays and by name', async () => {
    let worst = 0;
    for (const window of golden.windows) {
      const p = await predictor.predictClickProbability(window.features);
      const named = Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, window.features[i]]));
      assert.equal(await predictor.predictClickProbability(named), p);
      assert.ok(p >= 0 && p <= 1);
      worst = Math.max(worst, Math.abs(p - window.probability));
    }
    assert.ok(worst <= PROBABILITY_TOLERANCE, `max |p_web − p_python| = ${worst}`);
  });

  await t.test('from the actions (null below MIN_ACTIONS), with overlapping calls', async () => {
    const pending = golden.windows.map((window) => {
      const actions = actionsUpTo(golden.sessions[window.session], window.window_end_ms);
      return predictor.predictFromActions(actions, window.window_end_ms);
    });
    const results = await Promise.all(pending);
    let worst = 0;
    golden.windows.forEach((window, i) => {
      const count = Math.round(window.features[FEATURE_NAMES.indexOf('interaction_density')] * 120);
      if (count < MIN_ACTIONS) assert.equal(results[i], null);
      else worst = Math.max(worst, Math.abs(results[i] - window.probability));
    });
    assert.ok(results.some((p) => p !== null));
    assert.ok(worst <= PROBABILITY_TOLERANCE, `max |p_web − p_python| = ${worst}`);
  });

  await t.test('the comparison has teeth: a perturbed row moves the probability', async () => {
    const window = golden.windows.find((w) => w.probability > 0.01 && w.probability < 0.99) ?? golden.windows[0];
    const moved = [...window.features];
    moved[FEATURE_NAMES.indexOf('click_count')] += 5 / 120;
    moved[FEATURE_NAMES.indexOf('time_since_last_action')] += 30;
    const p = await predictor.predictClickProbability(moved);
    assert.ok(Math.abs(p - window.probability) > 100 * PROBABILITY_TOLERANCE, `${p} vs ${window.probability}`);
  });

  await t.test('a model with other feature names is refused at start-up', async () => {
    const bytes = new Uint8Array(readFileSync(golden.modelPath));
    const reordered = [...FEATURE_NAMES].reverse();
    const wrong = withMetadata(bytes, { ...predictor.metadata, feature_names: JSON.stringify(reordered) });
    await assert.rejects(
      new InteractionPredictor().initialize(wrong, { runtimeUrl: RUNTIME_URL }),
      /expects the features .*rebuild the bundle/,
    );
    const unlabelled = withMetadata(bytes, {});
    await assert.rejects(
      new InteractionPredictor().initialize(unlabelled, { runtimeUrl: RUNTIME_URL }),
      /no 'feature_names'/,
    );
    // The re-encoding itself is sound: the same properties give a model that loads.
    const same = withMetadata(bytes, predictor.metadata);
    const again = await new InteractionPredictor().initialize(same, { runtimeUrl: RUNTIME_URL });
    const row = golden.windows[0].features;
    assert.equal(await again.predictClickProbability(row), await predictor.predictClickProbability(row));
  });
});

// The light runtime on a hand-built graph of the exporter's operators (results computed by hand),
// and its refusals: any other operator, attribute or attribute value is named at creation.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { LightSession, SUPPORTED_OPERATORS } from '../src/light_runtime.js';
import { readModel } from '../src/onnx_model.js';
import { int64Tensor, onnxModel, valueInfo } from './protobuf.mjs';

const ML = 'ai.onnx.ml';
const sigmoid = (s) => Math.fround(1 / (1 + Math.exp(-s)));

/**
 * x [N, 2] → Scaler (offset 1, 2; scale 2, 0.5) → z → the terms z0, z1, z0·z1 (one
 * ArrayFeatureExtractor + ReduceProd each) → Concat → LinearClassifier, as skl2onnx writes a
 * standardised degree-2 logistic regression. `change(nodes)` edits the nodes before encoding.
 */
function tinyModel(change = (nodes) => nodes) {
  const terms = [[0], [1], [0, 1]];
  const weights = [0.5, -1, 0.25];
  const nodes = [
    { opType: 'Scaler', domain: ML, inputs: ['x'], outputs: ['z'], attributes: { offset: { floats: [1, 2] }, scale: { floats: [2, 0.5] } } },
    ...terms.map((_, i) => ({ opType: 'ArrayFeatureExtractor', domain: ML, inputs: ['z', `i${i}`], outputs: [`c${i}`] })),
    ...terms.map((_, i) => ({ opType: 'ReduceProd', inputs: [`c${i}`], outputs: [`p${i}`], attributes: { axes: { ints: [1] } } })),
    { opType: 'Concat', inputs: ['p0', 'p1', 'p2'], outputs: ['t'], attributes: { axis: 1 } },
    {
      opType: 'LinearClassifier',
      domain: ML,
      inputs: ['t'],
      outputs: ['label', 'probabilities'],
      attributes: {
        classlabels_ints: { ints: [0, 1] },
        coefficients: { floats: [...weights.map((w) => -w), ...weights] },
        intercepts: { floats: [1.5, -1.5] },
        multi_class: 0,
        post_transform: 'LOGISTIC',
      },
    },
  ];
  return onnxModel({
    nodes: change(nodes),
    initializers: terms.map((columns, i) => int64Tensor(`i${i}`, columns)),
    inputs: [valueInfo('x', 1, [null, 2])],
    outputs: [valueInfo('label', 7, [null]), valueInfo('probabilities', 1, [null, 2])],
  });
}

test('the exporter\'s operators, computed by hand', () => {
  const session = LightSession.create(tinyModel());
  assert.deepEqual(session.inputNames, ['x']);
  assert.deepEqual(session.outputNames, ['label', 'probabilities']);
  // x = (3, 4): z = (4, 1), terms (4, 1, 4), score 2 − 1 + 1 − 1.5 = 0.5.
  // x = (1, 2): z = (0, 0), score −1.5. x = (1, 6): z = (0, 2), score −2 − 1.5 = −3.5.
  const { label, probabilities } = session.run([3, 4, 1, 2, 1, 6]);
  assert.deepEqual(probabilities.dims, [3, 2]);
  assert.deepEqual(label.data, [1, 0, 0]);
  const expected = [0.5, -1.5, -3.5].flatMap((s) => [sigmoid(-s), sigmoid(s)]);
  assert.deepEqual(Array.from(probabilities.data), expected);
  assert.throws(() => session.run([1, 2, 3]), /rows of 2 features, got 3 values/);
});

test('a model can be passed already read, and int64 attributes may be negative (axes [-1])', () => {
  const model = readModel(
    tinyModel((nodes) => nodes.map((n) => (n.opType === 'ReduceProd' ? { ...n, attributes: { axes: { ints: [-1] } } } : n))),
  );
  assert.equal(model.graph.nodes.find((n) => n.opType === 'ReduceProd').attributes.axes.value[0], -1);
  const { probabilities } = LightSession.create(model).run([3, 4]);
  assert.equal(probabilities.data[1], sigmoid(0.5));
});

function refusal(change) {
  try {
    LightSession.create(tinyModel(change));
  } catch (error) {
    return error.message;
  }
  return null;
}

const replace = (opType, edit) => (nodes) => nodes.map((n) => (n.opType === opType ? edit(n) : n));
const withAttributes = (opType, attributes) => replace(opType, (n) => ({ ...n, attributes: { ...n.attributes, ...attributes } }));

test('any other operator, attribute or attribute value is refused at creation, by name', () => {
  const cases = [
    [replace('Concat', (n) => ({ ...n, opType: 'Sum' })), /does not implement the operator Sum \(Sum node 'Sum_t'\).*use the 'ort' backend/],
    [replace('Scaler', (n) => ({ ...n, opType: 'Normalizer' })), /the operator ai\.onnx\.ml\.Normalizer/],
    [replace('Scaler', (n) => ({ ...n, domain: '' })), /the operator Scaler /],
    [withAttributes('ReduceProd', { noop_with_empty_axes: 1 }), /attribute 'noop_with_empty_axes' of ReduceProd node/],
    [withAttributes('ReduceProd', { keepdims: 0 }), /keepdims = 0 of ReduceProd node 'ReduceProd_p0' \(only 1\)/],
    [withAttributes('ReduceProd', { axes: { ints: [0] } }), /axes = \[0\] of ReduceProd/],
    [withAttributes('Concat', { axis: 0 }), /axis = 0 of Concat/],
    [withAttributes('LinearClassifier', { post_transform: 'SOFTMAX' }), /post_transform = "SOFTMAX" of LinearClassifier .*NONE or LOGISTIC/],
    [withAttributes('LinearClassifier', { multi_class: 1 }), /multi_class = 1/],
    [withAttributes('LinearClassifier', { classlabels_strings: 'no' }), /attribute 'classlabels_strings'/],
    [withAttributes('LinearClassifier', { coefficients: { floats: [1, 2, 3] } }), /coefficients = .*one row per class/],
    [withAttributes('Scaler', { scale: { floats: [1, 2, 3] } }), /scale = "3 values" of Scaler .*1 or 2/],
    [withAttributes('Scaler', { offset: 1 }), /attribute 'offset' is INT, expected FLOATS/],
    [replace('ArrayFeatureExtractor', (n) => ({ ...n, inputs: ['z', 'z'] })), /only with a constant int64 index \('z'/],
    [replace('Concat', (n) => ({ ...n, inputs: ['p0', 'nowhere'] })), /reads nowhere, which nothing before it computes/],
  ];
  for (const [change, message] of cases) assert.match(refusal(change) ?? 'not refused', message);
  assert.deepEqual(SUPPORTED_OPERATORS, [
    'ai.onnx.ml.Scaler',
    'ai.onnx.ml.ArrayFeatureExtractor',
    'ReduceProd',
    'Concat',
    'ai.onnx.ml.LinearClassifier',
  ]);
});

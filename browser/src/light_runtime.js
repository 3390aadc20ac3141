// The light runtime: the click model's ONNX graph evaluated in plain JavaScript, a few KB instead
// of onnxruntime-web's megabytes of WebAssembly. It implements exactly the operators skl2onnx emits
// for the pipeline's StandardScaler → PolynomialFeatures → LogisticRegression:
//
//   Scaler (ai.onnx.ml)                 the standardisation
//   ArrayFeatureExtractor (ai.onnx.ml)  the columns of each polynomial term
//   ReduceProd, Concat                  the terms' products, side by side
//   LinearClassifier (ai.onnx.ml)       the logistic regression (NONE or LOGISTIC, one row per class)
//
// and refuses, when the session is created, a graph with any other operator, attribute or
// attribute value, naming it: a model it would compute wrongly never runs. Arithmetic is float32
// in onnxruntime's order (every result rounded with Math.fround), so the probabilities match
// Python's onnxruntime to about one float32 step rather than to float32's summation error.

import { readModel } from './onnx_model.js';

const ML = 'ai.onnx.ml';
const FLOAT = 1;
const INT64 = 7;
const fround = Math.fround;

/**
 * The operators, by `domain/opType`: the attributes each accepts, the inputs it takes, and
 * `compile(context)` → {step, widths}: step(values: Map) writes the node's outputs, widths are
 * their column counts (null for a 1-D output), so that shapes are checked before anything runs.
 */
const OPERATORS = {
  [`${ML}/Scaler`]: { attributes: ['offset', 'scale'], inputs: [1, 1], compile: scaler },
  [`${ML}/ArrayFeatureExtractor`]: { attributes: [], inputs: [2, 2], compile: arrayFeatureExtractor },
  '/ReduceProd': { attributes: ['axes', 'keepdims'], inputs: [1, 1], compile: reduceProd },
  '/Concat': { attributes: ['axis'], inputs: [1, Infinity], compile: concat },
  [`${ML}/LinearClassifier`]: {
    attributes: ['classlabels_ints', 'coefficients', 'intercepts', 'multi_class', 'post_transform'],
    inputs: [1, 1],
    compile: linearClassifier,
  },
};
export const SUPPORTED_OPERATORS = Object.freeze(Object.keys(OPERATORS).map((key) => qualified(...key.split('/'))));

/** An operator's name as the error messages give it: `ai.onnx.ml.Scaler`, `Concat`. */
function qualified(domain, opType) {
  return domain && domain !== 'ai.onnx' ? `${domain}.${opType}` : opType;
}

/** A 2-D float32 tensor (or 1-D int64 labels): {data, dims}. */
const tensor = (data, dims) => ({ data, dims });

/**
 * A step's output tensor [rows, width], reused while the batch size stays the same: a page
 * predicts one window at a time, and 400 fresh arrays a call would only feed the collector.
 */
function outputTensor() {
  let out = null;
  return (rows, width) => {
    if (out?.dims[0] !== rows) out = tensor(new Float32Array(rows * width), [rows, width]);
    return out;
  };
}

export class LightSession {
  /**
   * Read and check the graph; throws, naming the first thing it does not implement.
   * @param {Uint8Array|ArrayBuffer|ReturnType<typeof readModel>} model the .onnx bytes, or readModel's result
   */
  static create(model) {
    const { graph } = model?.graph ? model : readModel(model);
    return new LightSession(graph);
  }

  constructor(graph) {
    const inputs = graph.inputs.filter((i) => !(i.name in graph.initializers)); // older files list both
    if (inputs.length !== 1) {
      throw new Error(`the light runtime runs graphs with one input, not [${inputs.map((i) => i.name)}]`);
    }
    const [input] = inputs;
    if (input.elemType !== FLOAT || input.shape?.length !== 2 || !(input.shape[1] > 0)) {
      throw new Error(`the light runtime needs a float32 [N, features] input; '${input.name}' is not one`);
    }
    this.inputNames = [input.name];
    this.outputNames = graph.outputs.map((o) => o.name);
    this.featureCount = input.shape[1];
    // The column count of every value computed so far (initializers are read by their node).
    const widths = new Map([[input.name, this.featureCount]]);
    this.steps = graph.nodes.map((node) => {
      const { step, widths: out } = compileNode(node, graph, widths);
      node.outputs.forEach((name, i) => widths.set(name, out[i]));
      return step;
    });
    const missing = this.outputNames.filter((name) => !widths.has(name));
    if (missing.length) throw new Error(`no node of the graph computes its output(s) ${missing.join(', ')}`);
  }

  /**
   * Evaluate the graph on a batch.
   * @param {Float32Array|number[]} rows N × featureCount values, row after row
   * @returns {Record<string, {data: Float32Array|number[], dims: number[]}>} every graph output
   */
  run(rows) {
    const n = rows.length / this.featureCount;
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`expected rows of ${this.featureCount} features, got ${rows.length} values`);
    }
    const values = new Map([[this.inputNames[0], tensor(Float32Array.from(rows), [n, this.featureCount])]]);
    for (const step of this.steps) step(values);
    // Copies: the steps' buffers are reused by the next call.
    return Object.fromEntries(
      this.outputNames.map((name) => [name, tensor(values.get(name).data.slice(), [...values.get(name).dims])]),
    );
  }
}

function compileNode(node, graph, widths) {
  const where = `${node.opType} node '${node.name || node.outputs[0]}'`;
  const operator = OPERATORS[`${node.domain === 'ai.onnx' ? '' : node.domain}/${node.opType}`];
  if (!operator) {
    throw new Error(
      `the light runtime does not implement the operator ${qualified(node.domain, node.opType)} (${where}); it runs ` +
        `${SUPPORTED_OPERATORS.join(', ')}: use the 'ort' backend for this model`,
    );
  }
  for (const name of Object.keys(node.attributes)) {
    if (!operator.attributes.includes(name)) {
      throw new Error(`the light runtime does not implement the attribute '${name}' of ${where}`);
    }
  }
  const [fewest, most] = operator.inputs;
  if (node.inputs.length < fewest || node.inputs.length > most) {
    const implemented = fewest === most ? fewest : `${fewest} or more`;
    throw new Error(`${where} has ${node.inputs.length} inputs; the light runtime implements it with ${implemented}`);
  }
  const unknown = node.inputs.filter((name) => !widths.has(name) && !(name in graph.initializers));
  if (unknown.length) throw new Error(`${where} reads ${unknown.join(', ')}, which nothing before it computes`);
  const width = (name) => {
    const columns = widths.get(name);
    if (!(columns > 0)) throw new Error(`${where} reads '${name}', which is not a 2-D float tensor`);
    return columns;
  };
  const attribute = (name, type, fallback) => {
    const found = node.attributes[name];
    if (found === undefined) {
      if (fallback === undefined) throw new Error(`${where} has no '${name}' attribute`);
      return fallback;
    }
    if (found.type !== type) throw new Error(`${where}: attribute '${name}' is ${found.type}, expected ${type}`);
    return found.value;
  };
  const refuse = (name, value, implemented) => {
    throw new Error(
      `the light runtime does not implement ${name} = ${JSON.stringify(value)} of ${where} (only ${implemented})`,
    );
  };
  return operator.compile({ node, graph, attribute, refuse, where, width });
}

// --- the operators ----------------------------------------------------------------------------

/** y = (x − offset) · scale, per column (a single offset or scale applies to every column). */
function scaler({ node, attribute, refuse, width }) {
  const [input] = node.inputs;
  const [output] = node.outputs;
  const columns = width(input);
  const perColumn = (name, fallback) => {
    const v = attribute(name, 'FLOATS', [fallback]);
    if (v.length !== 1 && v.length !== columns) refuse(name, `${v.length} values`, `1 or ${columns}`);
    return Float32Array.from({ length: columns }, (_, c) => v[v.length === 1 ? 0 : c]);
  };
  const offset = perColumn('offset', 0);
  const scale = perColumn('scale', 1);
  const result = outputTensor();
  const step = (values) => {
    const x = values.get(input);
    const out = result(x.dims[0], columns);
    for (let i = 0; i < out.data.length; i++) {
      const c = i % columns;
      out.data[i] = fround(fround(x.data[i] - offset[c]) * scale[c]);
    }
    values.set(output, out);
  };
  return { step, widths: [columns] };
}

/** The columns named by a constant int64 index tensor, in its order: [N, C] → [N, k]. */
function arrayFeatureExtractor({ node, graph, where, width: widthOf }) {
  const [input, indexName] = node.inputs;
  const index = graph.initializers[indexName];
  if (index?.dataType !== INT64) {
    throw new Error(`the light runtime implements ${where} only with a constant int64 index ('${indexName}' is not one)`);
  }
  const columns = index.data;
  const [output] = node.outputs;
  const bad = columns.find((c) => c < 0 || c >= widthOf(input));
  if (bad !== undefined) throw new Error(`${where}: column ${bad} is outside its input's ${widthOf(input)}`);
  const result = outputTensor();
  const step = (values) => {
    const x = values.get(input);
    const [rows, width] = x.dims;
    const out = result(rows, columns.length);
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < columns.length; k++) out.data[r * columns.length + k] = x.data[r * width + columns[k]];
    }
    values.set(output, out);
  };
  return { step, widths: [columns.length] };
}

/** The product along axis 1 of a 2-D tensor, kept as a column ([N, k] → [N, 1]). */
function reduceProd({ node, attribute, refuse, width }) {
  const axes = attribute('axes', 'INTS', null);
  if (axes === null || axes.length !== 1 || (axes[0] !== 1 && axes[0] !== -1)) refuse('axes', axes, '[1]');
  const keepdims = attribute('keepdims', 'INT', 1);
  if (keepdims !== 1) refuse('keepdims', keepdims, '1');
  const [input] = node.inputs;
  const [output] = node.outputs;
  width(input);
  const result = outputTensor();
  const step = (values) => {
    const x = values.get(input);
    const [rows, width] = x.dims;
    const out = result(rows, 1);
    for (let r = 0; r < rows; r++) {
      let product = 1;
      for (let k = 0; k < width; k++) product = fround(product * x.data[r * width + k]);
      out.data[r] = product;
    }
    values.set(output, out);
  };
  return { step, widths: [1] };
}

/** 2-D tensors side by side (axis 1). */
function concat({ node, attribute, refuse, width }) {
  const axis = attribute('axis', 'INT');
  if (axis !== 1 && axis !== -1) refuse('axis', axis, '1');
  const [output] = node.outputs;
  const total = node.inputs.reduce((n, name) => n + width(name), 0);
  const result = outputTensor();
  const step = (values) => {
    const rows = values.get(node.inputs[0]).dims[0];
    const out = result(rows, total);
    let offset = 0;
    for (const name of node.inputs) {
      const { data, dims } = values.get(name);
      const w = dims[1];
      for (let r = 0; r < rows; r++) {
        for (let k = 0; k < w; k++) out.data[r * total + offset + k] = data[r * w + k];
      }
      offset += w;
    }
    values.set(output, out);
  };
  return { step, widths: [total] };
}

/**
 * Scores x·Wᵀ + b, one row of W per class; outputs the label (the class of the highest score)
 * and the scores after `post_transform` (NONE, or LOGISTIC: 1 / (1 + e^−s) of each).
 */
function linearClassifier({ node, attribute, refuse, where, width: widthOf }) {
  const labels = attribute('classlabels_ints', 'INTS');
  const coefficients = Float32Array.from(attribute('coefficients', 'FLOATS'));
  const intercepts = Float32Array.from(attribute('intercepts', 'FLOATS', new Array(labels.length).fill(0)));
  const multiClass = attribute('multi_class', 'INT', 0);
  if (multiClass !== 0) refuse('multi_class', multiClass, '0');
  const transform = attribute('post_transform', 'STRING', 'NONE');
  if (transform !== 'NONE' && transform !== 'LOGISTIC') refuse('post_transform', transform, 'NONE or LOGISTIC');
  const classes = labels.length;
  if (intercepts.length !== classes || coefficients.length % classes !== 0) {
    refuse('coefficients', `${coefficients.length} coefficients, ${intercepts.length} intercepts`, `one row per class (${classes})`);
  }
  if (node.outputs.length !== 2) throw new Error(`${where} must have the outputs label and scores`);
  const width = coefficients.length / classes;
  const [input] = node.inputs;
  if (widthOf(input) !== width) {
    throw new Error(`${where} has ${width} coefficients per class for ${widthOf(input)} input columns`);
  }
  const [labelName, scoreName] = node.outputs;
  const result = outputTensor();
  const step = (values) => {
    const x = values.get(input).data;
    const rows = x.length / width;
    const scores = result(rows, classes).data;
    const predicted = new Array(rows);
    for (let r = 0; r < rows; r++) {
      let best = 0;
      let bestScore = -Infinity;
      for (let c = 0; c < classes; c++) {
        // onnxruntime's order: a float32 fused multiply-add per term, then the intercept (a product
        // of two float32 is exact in a double, so each fround is one correctly rounded FMA).
        let sum = 0;
        for (let k = 0; k < width; k++) sum = fround(x[r * width + k] * coefficients[c * width + k] + sum);
        const score = fround(sum + intercepts[c]);
        if (score > bestScore) [best, bestScore] = [c, score];
        scores[r * classes + c] = transform === 'LOGISTIC' ? fround(1 / (1 + Math.exp(-score))) : score;
      }
      predicted[r] = labels[best];
    }
    values.set(labelName, tensor(predicted, [rows]));
    values.set(scoreName, result(rows, classes));
  };
  return { step, widths: [null, classes] };
}

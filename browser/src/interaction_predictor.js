// The click model in the browser, on one of two backends that run the same click_model.onnx:
//
//   'light' (default)  light_runtime.js: the graph evaluated in plain JavaScript (a few KB)
//   'ort'              onnxruntime-web's WebAssembly build, from the bundle's own `ort/` folder
//                      (megabytes; loaded only when chosen), for models beyond the light runtime
//
// The model's input is `float_input` float32 [N, 20]; its output `probabilities` is [N, 2]
// (no ZipMap), column 1 being P(ad click within the horizon after the window end). Its metadata
// names the feature order and the window settings, which rule the feature extraction here.

import {
  FEATURE_NAMES,
  extractWindowFeatures,
  readWindowSettings,
  windowActionCount,
} from './feature_extractor.js';
import { LightSession } from './light_runtime.js';
import { readMetadataProps, readModel } from './onnx_model.js';

export const DEFAULT_MODEL_URL = new URL('./click_model.onnx', import.meta.url).href;
export const DEFAULT_RUNTIME_URL = new URL('./ort/ort.wasm.bundle.min.mjs', import.meta.url).href;
export const INPUT_NAME = 'float_input';
export const OUTPUT_NAME = 'probabilities';
// The metadata property holding the training order of the features (a JSON list).
export const FEATURE_NAMES_PROPERTY = 'feature_names';
export const BACKENDS = Object.freeze(['light', 'ort']);

const isNode = typeof process !== 'undefined' && Boolean(process.versions?.node);

export class InteractionPredictor {
  /** @param {{backend?: 'light'|'ort'}} options which runtime evaluates the model */
  constructor({ backend = 'light' } = {}) {
    if (!BACKENDS.includes(backend)) {
      throw new Error(`unknown backend ${JSON.stringify(backend)}: choose one of ${BACKENDS.join(', ')}`);
    }
    this.backend = backend;
  }

  /**
   * Load the model (and, for 'ort', onnxruntime-web), and check it: the features in
   * FEATURE_NAMES order, window settings the extractor can honour, a graph the backend runs.
   * @param {string|URL|Uint8Array|ArrayBuffer|Response|Promise} modelUrl the model's URL (relative
   *   to the page), its bytes, or a fetch() of it (a page may start the download early); by
   *   default the bundle's click_model.onnx
   * @param {{runtimeUrl?: string|URL}} options where onnxruntime-web's .mjs lies (its .wasm
   *   beside it; 'ort' only); by default the bundle's ort/ folder
   * @returns {Promise<InteractionPredictor>} this, ready
   */
  async initialize(modelUrl = DEFAULT_MODEL_URL, { runtimeUrl = DEFAULT_RUNTIME_URL } = {}) {
    // onnxruntime-web (megabytes) only for 'ort': the light path never fetches it. It loads
    // while the model does.
    const runtime = this.backend === 'ort' ? startRuntime(runtimeUrl) : null;
    const bytes = await loadBytes(modelUrl);
    const model = this.backend === 'light' ? readModel(bytes) : { metadata: readMetadataProps(bytes) };
    checkFeatureNames(model.metadata);
    const settings = readWindowSettings(model.metadata);
    const session = this.backend === 'light' ? lightSession(model) : await ortSession(await runtime, bytes);
    checkNames(session.inputNames, session.outputNames);
    this.session = session;
    this.metadata = model.metadata;
    this.settings = settings;
    return this;
  }

  /**
   * P(ad click within the horizon) for one window.
   * @param {ArrayLike<number>|Record<string, number>} features 20 numbers in FEATURE_NAMES order,
   *   or an object with exactly those keys
   * @returns {Promise<number>} a probability in [0, 1]
   */
  async predictClickProbability(features) {
    if (!this.session) throw new Error('call initialize() before predicting');
    const output = await this.session.run(featureRow(features));
    const probability = output.data[1];
    if (output.dims.join() !== '1,2' || !(probability >= 0 && probability <= 1)) {
      throw new Error(`the model's ${OUTPUT_NAME} output [${output.dims}] has no probability in [0, 1]`);
    }
    return probability;
  }

  /** The 20 features of the window ending at `windowEndMs`, over the model's window length. */
  extractFeatures(actions, windowEndMs) {
    return extractWindowFeatures(actions, windowEndMs, this.#settings().windowMs);
  }

  /** How many of `actions` fall in the model's window ending at `windowEndMs`. */
  windowActionCount(actions, windowEndMs) {
    return windowActionCount(actions, windowEndMs, this.#settings().windowMs);
  }

  /**
   * The probability for the window ending at `windowEndMs` of a session's actions so far, or
   * null when that window holds fewer than the model's min_actions: the model never saw such
   * windows (the pipeline does not keep them).
   */
  async predictFromActions(actions, windowEndMs) {
    if (this.windowActionCount(actions, windowEndMs) < this.settings.minActions) return null;
    return this.predictClickProbability(this.extractFeatures(actions, windowEndMs));
  }

  #settings() {
    if (!this.settings) throw new Error('call initialize() before extracting features: the window is the model\'s');
    return this.settings;
  }
}

/** The light runtime on the model's graph: {inputNames, outputNames, run(row) → the probabilities {data, dims}}. */
function lightSession(model) {
  const session = LightSession.create(model);
  return { inputNames: session.inputNames, outputNames: session.outputNames, run: (row) => session.run(row)[OUTPUT_NAME] };
}

/** Starts loading onnxruntime-web; a failure is reported when the session is made, after the model's checks. */
function startRuntime(runtimeUrl) {
  const runtime = import('./ort_backend.js').then(async (backend) => ({
    backend,
    ort: await backend.loadRuntime(runtimeUrl, loadBytes),
  }));
  runtime.catch(() => {});
  return runtime;
}

async function ortSession({ backend, ort }, bytes) {
  return backend.ortSession(ort, bytes, INPUT_NAME, OUTPUT_NAME);
}

function checkNames(inputs, outputs) {
  if (!inputs.includes(INPUT_NAME) || !outputs.includes(OUTPUT_NAME)) {
    throw new Error(`the model's inputs ${inputs} and outputs ${outputs} are not ${INPUT_NAME} → ${OUTPUT_NAME}`);
  }
}

/** Throws unless the model's `feature_names` property lists FEATURE_NAMES, in order. */
export function checkFeatureNames(metadata) {
  const text = metadata[FEATURE_NAMES_PROPERTY];
  if (text === undefined) {
    throw new Error(`the model has no '${FEATURE_NAMES_PROPERTY}' metadata property: not the pipeline's click model?`);
  }
  let names;
  try {
    names = JSON.parse(text);
  } catch {
    throw new Error(`the model's '${FEATURE_NAMES_PROPERTY}' property is not a JSON list: ${text}`);
  }
  if (!Array.isArray(names) || names.length !== FEATURE_NAMES.length || names.some((n, i) => n !== FEATURE_NAMES[i])) {
    throw new Error(
      `the model expects the features ${JSON.stringify(names)}, but this page computes ` +
        `${JSON.stringify(FEATURE_NAMES)}: rebuild the bundle from the same pipeline version`,
    );
  }
}

/** A Float32Array of the 20 features in model order; a missing, unknown or non-finite one is an error. */
export function featureRow(features) {
  let values;
  if (Array.isArray(features) || ArrayBuffer.isView(features)) {
    if (features.length !== FEATURE_NAMES.length) {
      throw new Error(`expected ${FEATURE_NAMES.length} features in FEATURE_NAMES order, got ${features.length}`);
    }
    values = Array.from(features);
  } else if (features !== null && typeof features === 'object') {
    const missing = FEATURE_NAMES.filter((name) => !Object.hasOwn(features, name));
    const unknown = Object.keys(features).filter((name) => !FEATURE_NAMES.includes(name));
    if (missing.length || unknown.length) {
      throw new Error(`features: missing ${JSON.stringify(missing)}, unknown ${JSON.stringify(unknown)}`);
    }
    values = FEATURE_NAMES.map((name) => features[name]);
  } else {
    throw new Error('features must be an array of 20 numbers or an object by feature name');
  }
  values.forEach((value, i) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new Error(`feature ${FEATURE_NAMES[i]} must be a finite number, got ${value}`);
    }
  });
  return Float32Array.from(values);
}

/**
 * The model's bytes: given as bytes or as a fetch() response (or a promise of either), fetched
 * over http(s), or read from disk (file: URLs, in Node). Also the runtime's .wasm, for 'ort'.
 */
async function loadBytes(source) {
  const model = await source;
  if (model instanceof Uint8Array) return model;
  if (model instanceof ArrayBuffer) return new Uint8Array(model);
  if (typeof Response !== 'undefined' && model instanceof Response) return responseBytes(model, model.url);
  const base = isNode ? await workingDirectory() : (globalThis.document?.baseURI ?? globalThis.location.href);
  const url = new URL(model, base);
  if (url.protocol === 'file:' && isNode) {
    const { readFile } = await import('node:fs/promises');
    return new Uint8Array(await readFile(url));
  }
  return responseBytes(await fetch(url), url);
}

async function responseBytes(response, url) {
  if (!response.ok) throw new Error(`could not load ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function workingDirectory() {
  const { pathToFileURL } = await import('node:url');
  return pathToFileURL(`${process.cwd()}/`);
}

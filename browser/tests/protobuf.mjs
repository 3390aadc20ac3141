// A few protobuf encoders for the tests: build metadata entries, and a copy of an ONNX model
// with other metadata properties (to check that the predictor refuses a model it must refuse).

const encoder = new TextEncoder();

export function varint(value) {
  const bytes = [];
  let rest = value;
  while (rest >= 128) {
    bytes.push((rest % 128) | 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return bytes;
}

/** A length-delimited field (wire type 2). */
export function lengthField(number, payload) {
  const data = typeof payload === 'string' ? encoder.encode(payload) : payload;
  return Uint8Array.from([...varint(number * 8 + 2), ...varint(data.length), ...data]);
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** ModelProto field 14: StringStringEntryProto {1: key, 2: value}. */
export function metadataEntry(key, value) {
  return lengthField(14, concat(lengthField(1, key), lengthField(2, value)));
}

/** A copy of `model` whose metadata properties are exactly `props`: its other fields untouched. */
export function withMetadata(model, props) {
  const kept = [];
  let at = 0;
  while (at < model.length) {
    const start = at;
    const [tag, afterTag] = readVarint(model, at);
    const wireType = tag % 8;
    if (wireType === 0) at = readVarint(model, afterTag)[1];
    else if (wireType === 1) at = afterTag + 8;
    else if (wireType === 5) at = afterTag + 4;
    else if (wireType === 2) {
      const [length, afterLength] = readVarint(model, afterTag);
      at = afterLength + length;
    } else throw new Error(`wire type ${wireType}`);
    if (Math.floor(tag / 8) !== 14) kept.push(model.subarray(start, at));
  }
  return concat(...kept, ...Object.entries(props).map(([k, v]) => metadataEntry(k, v)));
}

function readVarint(bytes, at) {
  let value = 0;
  let scale = 1;
  for (let i = at; ; i++) {
    value += (bytes[i] & 127) * scale;
    if (bytes[i] < 128) return [value, i + 1];
    scale *= 128;
  }
}

// --- a hand-built ONNX graph, for the light runtime's tests -----------------------------------

const big = (value) => BigInt.asUintN(64, BigInt(value));

function bigVarint(value) {
  const bytes = [];
  let rest = big(value);
  while (rest >= 128n) {
    bytes.push(Number(rest % 128n) | 128);
    rest /= 128n;
  }
  bytes.push(Number(rest));
  return bytes;
}

/** A varint field (wire type 0); int64 values, negative ones included. */
export function varintField(number, value) {
  return Uint8Array.from([...varint(number * 8), ...bigVarint(value)]);
}

/** Packed repeated int64 (wire type 2). */
export function packedInts(number, values) {
  return lengthField(number, Uint8Array.from(values.flatMap((v) => bigVarint(v))));
}

/** Packed repeated float (wire type 2, 4 bytes each). */
export function packedFloats(number, values) {
  const data = new Uint8Array(values.length * 4);
  const view = new DataView(data.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return lengthField(number, data);
}

/** AttributeProto from a value: a string (STRING), an integer (INT), {floats} or {ints}. */
export function attribute(name, value) {
  const named = lengthField(1, name);
  if (typeof value === 'string') return concat(named, lengthField(4, value), varintField(20, 3));
  if (typeof value === 'number') return concat(named, varintField(3, value), varintField(20, 2));
  if (value.floats) return concat(named, packedFloats(7, value.floats), varintField(20, 6));
  return concat(named, packedInts(8, value.ints), varintField(20, 7));
}

/** NodeProto: {opType, inputs, outputs, attributes: {name: value}, domain}. */
export function node({ opType, inputs, outputs, attributes = {}, domain = '' }) {
  return concat(
    ...inputs.map((name) => lengthField(1, name)),
    ...outputs.map((name) => lengthField(2, name)),
    lengthField(3, `${opType}_${outputs[0]}`),
    lengthField(4, opType),
    ...Object.entries(attributes).map(([name, value]) => lengthField(5, attribute(name, value))),
    ...(domain ? [lengthField(7, domain)] : []),
  );
}

/** An int64 TensorProto (values in int64_data). */
export function int64Tensor(name, values) {
  return concat(packedInts(1, [values.length]), varintField(2, 7), packedInts(7, values), lengthField(8, name));
}

/** ValueInfoProto of a tensor: elem type 1 (float) or 7 (int64), dims (null: no fixed size). */
export function valueInfo(name, elemType, dims) {
  const shape = concat(...dims.map((d) => lengthField(1, d === null ? lengthField(2, 'N') : varintField(1, d))));
  const tensorType = concat(varintField(1, elemType), lengthField(2, shape));
  return concat(lengthField(1, name), lengthField(2, lengthField(1, tensorType)));
}

/** ModelProto with opsets '' 17 and ai.onnx.ml 1, the graph's parts and the metadata properties. */
export function onnxModel({ nodes, initializers = [], inputs, outputs, metadata = {} }) {
  const graph = concat(
    ...nodes.map((n) => lengthField(1, node(n))),
    ...initializers.map((t) => lengthField(5, t)),
    ...inputs.map((v) => lengthField(11, v)),
    ...outputs.map((v) => lengthField(12, v)),
  );
  const opsets = [
    ['', 17],
    ['ai.onnx.ml', 1],
  ].map(([domain, version]) => lengthField(8, concat(lengthField(1, domain), varintField(2, version))));
  return concat(
    varintField(1, 8),
    ...opsets,
    lengthField(7, graph),
    ...Object.entries(metadata).map(([k, v]) => metadataEntry(k, v)),
  );
}

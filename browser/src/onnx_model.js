// An ONNX file read straight from its protobuf bytes: the metadata properties (which
// onnxruntime-web does not expose) and the graph (which the light runtime evaluates).
//
// Only the fields named below are read (numbers from onnx.proto); every other field is skipped
// by its wire type, so a newer file with extra fields still reads. Repeated numbers are read
// both packed and unpacked, int64 values through BigInt (negative ones take 10 bytes).

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

const MODEL = { opsetImport: 8, graph: 7, metadataProps: 14 };
const OPSET = { domain: 1, version: 2 };
const GRAPH = { node: 1, initializer: 5, input: 11, output: 12, sparseInitializer: 15 };
const NODE = { input: 1, output: 2, name: 3, opType: 4, attribute: 5, domain: 7 };
const ATTRIBUTE = { name: 1, f: 2, i: 3, s: 4, floats: 7, ints: 8, type: 20 };
const TENSOR = { dims: 1, dataType: 2, floatData: 4, int64Data: 7, name: 8, rawData: 9, dataLocation: 14 };
const VALUE_INFO = { name: 1, type: 2 };
const TYPE = { tensorType: 1 };
const TENSOR_TYPE = { elemType: 1, shape: 2 };
const SHAPE = { dim: 1 };
const DIMENSION = { value: 1, param: 2 };

/** TensorProto.DataType codes the reader decodes (the names are ONNX's). */
export const DATA_TYPES = Object.freeze({ 1: 'FLOAT', 7: 'INT64' });
const FLOAT = 1;
const INT64 = 7;
/** AttributeProto.AttributeType codes and the value each carries. */
const ATTRIBUTE_TYPES = { 1: 'FLOAT', 2: 'INT', 3: 'STRING', 6: 'FLOATS', 7: 'INTS' };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The model's metadata properties as a plain object {key: value}.
 * @param {Uint8Array|ArrayBuffer} model the .onnx file's bytes
 * @returns {Record<string, string>}
 */
export function readMetadataProps(model) {
  const bytes = asBytes(model);
  const props = {};
  for (const field of fields(bytes, 0, bytes.length)) {
    if (field.number !== MODEL.metadataProps || field.wireType !== LEN) continue;
    const entry = message(bytes, field, { 1: 'key', 2: 'value' });
    props[text(bytes, entry.key?.[0])] = text(bytes, entry.value?.[0]);
  }
  return props;
}

/**
 * The model's operator sets, metadata and graph.
 * @param {Uint8Array|ArrayBuffer} model the .onnx file's bytes
 * @returns {{opsets: Record<string, number>, metadata: Record<string, string>, graph: Graph}} where
 *   Graph is {nodes: {opType, domain, name, inputs, outputs, attributes: {name: {type, value}}}[],
 *   initializers: {name: {dataType, dims, data}}, inputs, outputs: {name, elemType, shape}[]};
 *   a tensor's data is a Float32Array (FLOAT) or an Array of Numbers (INT64), a STRING
 *   attribute's value is a string, a dimension without a fixed size is null
 */
export function readModel(model) {
  const bytes = asBytes(model);
  const top = message(bytes, { start: 0, end: bytes.length }, invert(MODEL));
  const opsets = {};
  for (const field of top.opsetImport ?? []) {
    const opset = message(bytes, field, invert(OPSET));
    opsets[text(bytes, opset.domain?.[0])] = int64(bytes, opset.version?.[0] ?? { value: 0n });
  }
  if (!top.graph) throw new Error('not an ONNX model: it has no graph');
  return { opsets, metadata: readMetadataProps(bytes), graph: readGraph(bytes, top.graph[0]) };
}

function readGraph(bytes, field) {
  const graph = message(bytes, field, invert(GRAPH));
  if (graph.sparseInitializer) throw new Error('the graph has sparse initializers, which this reader does not decode');
  const initializers = {};
  for (const tensorField of graph.initializer ?? []) {
    const tensor = readTensor(bytes, tensorField);
    initializers[tensor.name] = tensor;
  }
  return {
    nodes: (graph.node ?? []).map((node) => readNode(bytes, node)),
    initializers,
    inputs: (graph.input ?? []).map((info) => readValueInfo(bytes, info)),
    outputs: (graph.output ?? []).map((info) => readValueInfo(bytes, info)),
  };
}

function readNode(bytes, field) {
  const node = message(bytes, field, invert(NODE));
  const attributes = {};
  for (const attributeField of node.attribute ?? []) {
    const attribute = readAttribute(bytes, attributeField);
    attributes[attribute.name] = attribute;
  }
  return {
    opType: text(bytes, node.opType?.[0]),
    domain: text(bytes, node.domain?.[0]),
    name: text(bytes, node.name?.[0]),
    inputs: (node.input ?? []).map((f) => text(bytes, f)),
    outputs: (node.output ?? []).map((f) => text(bytes, f)),
    attributes,
  };
}

function readAttribute(bytes, field) {
  const attribute = message(bytes, field, invert(ATTRIBUTE));
  const name = text(bytes, attribute.name?.[0]);
  const code = attribute.type ? int64(bytes, attribute.type[0]) : 0;
  const type = ATTRIBUTE_TYPES[code] ?? `type ${code}`;
  const value = {
    FLOAT: () => float32s(bytes, attribute.f ?? [])[0],
    INT: () => int64s(bytes, attribute.i ?? [])[0],
    STRING: () => text(bytes, attribute.s?.[0]),
    FLOATS: () => float32s(bytes, attribute.floats ?? []),
    INTS: () => int64s(bytes, attribute.ints ?? []),
  }[type]?.();
  return { name, type, value };
}

function readTensor(bytes, field) {
  const tensor = message(bytes, field, invert(TENSOR));
  const name = text(bytes, tensor.name?.[0]);
  const dataType = tensor.dataType ? int64(bytes, tensor.dataType[0]) : 0;
  if (tensor.dataLocation && int64(bytes, tensor.dataLocation[0]) !== 0) {
    throw new Error(`initializer '${name}' is stored outside the file, which this reader does not load`);
  }
  const dims = int64s(bytes, tensor.dims ?? []);
  const raw = tensor.rawData?.[0];
  let data;
  if (dataType === FLOAT) {
    data = raw ? littleEndian(bytes, raw, 4, (view, at) => view.getFloat32(at, true)) : float32s(bytes, tensor.floatData ?? []);
    data = Float32Array.from(data);
  } else if (dataType === INT64) {
    data = raw ? littleEndian(bytes, raw, 8, (view, at) => safe(view.getBigInt64(at, true))) : int64s(bytes, tensor.int64Data ?? []);
  } else {
    throw new Error(`initializer '${name}' has data type ${dataType}; this reader decodes ${Object.values(DATA_TYPES).join(' and ')}`);
  }
  const size = dims.reduce((n, d) => n * d, 1);
  if (data.length !== size) throw new Error(`initializer '${name}' holds ${data.length} values for its shape [${dims}]`);
  return { name, dataType, dims, data };
}

function readValueInfo(bytes, field) {
  const info = message(bytes, field, invert(VALUE_INFO));
  const name = text(bytes, info.name?.[0]);
  const tensorType = info.type && message(bytes, info.type[0], invert(TYPE)).tensorType;
  if (!tensorType) return { name, elemType: null, shape: null };
  const type = message(bytes, tensorType[0], invert(TENSOR_TYPE));
  const shape = type.shape
    ? (message(bytes, type.shape[0], invert(SHAPE)).dim ?? []).map((dim) => {
        const value = message(bytes, dim, invert(DIMENSION)).value;
        return value ? int64(bytes, value[0]) : null;
      })
    : null;
  return { name, elemType: type.elemType ? int64(bytes, type.elemType[0]) : 0, shape };
}

// --- protobuf ---------------------------------------------------------------------------------

function asBytes(model) {
  return model instanceof Uint8Array ? model : new Uint8Array(model);
}

function invert(numbers) {
  return Object.fromEntries(Object.entries(numbers).map(([name, number]) => [number, name]));
}

/** The fields of a message named by `names` ({number: name}), each a list of its occurrences. */
function message(bytes, { start, end }, names) {
  const out = {};
  for (const field of fields(bytes, start, end)) {
    const name = names[field.number];
    if (name !== undefined) (out[name] ??= []).push(field);
  }
  return out;
}

function text(bytes, field) {
  return field ? utf8.decode(bytes.subarray(field.start, field.end)) : '';
}

/** A varint field's value as a Number (int64, two's complement); an error past 2^53. */
function int64(bytes, field) {
  return safe(BigInt.asIntN(64, field.value));
}

function safe(big) {
  const value = Number(big);
  if (!Number.isSafeInteger(value)) throw new Error(`not an ONNX model: integer ${big} is out of range`);
  return value;
}

/** The int64 values of a repeated field: packed (one LEN field) or one varint per value. */
function int64s(bytes, occurrences) {
  const values = [];
  for (const field of occurrences) {
    if (field.wireType === VARINT) {
      values.push(int64(bytes, field));
      continue;
    }
    for (let at = field.start; at < field.end; ) {
      const [value, next] = varint(bytes, at, field.end);
      values.push(safe(BigInt.asIntN(64, value)));
      at = next;
    }
  }
  return values;
}

/** The float values of a repeated field: packed (one LEN field) or one fixed32 per value. */
function float32s(bytes, occurrences) {
  const values = [];
  for (const field of occurrences) {
    values.push(...littleEndian(bytes, field, 4, (view, at) => view.getFloat32(at, true)));
  }
  return values;
}

function littleEndian(bytes, { start, end }, width, read) {
  if ((end - start) % width) throw new Error(`not an ONNX model: ${end - start} bytes of ${width}-byte values`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, end - start);
  const values = new Array((end - start) / width);
  for (let i = 0; i < values.length; i++) values[i] = read(view, i * width);
  return values;
}

/** The fields of the message in bytes[start, end): {number, wireType, start, end, value?}. */
function* fields(bytes, start, end) {
  let at = start;
  while (at < end) {
    const [tag, afterTag] = varint(bytes, at, end);
    const number = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    let payloadStart = afterTag;
    let payloadEnd;
    let value;
    if (wireType === VARINT) {
      [value, payloadEnd] = varint(bytes, afterTag, end);
    } else if (wireType === I64) {
      payloadEnd = afterTag + 8;
    } else if (wireType === I32) {
      payloadEnd = afterTag + 4;
    } else if (wireType === LEN) {
      const [length, afterLength] = varint(bytes, afterTag, end);
      payloadStart = afterLength;
      payloadEnd = afterLength + Number(length);
    } else {
      throw new Error(`not an ONNX model: unsupported protobuf wire type ${wireType} at byte ${at}`);
    }
    if (number === 0 || payloadEnd > end) {
      throw new Error(`not an ONNX model: malformed protobuf field at byte ${at}`);
    }
    yield { number, wireType, start: payloadStart, end: payloadEnd, value };
    at = payloadEnd;
  }
}

/** [value as BigInt, next offset] of the varint at `at`. */
function varint(bytes, at, end) {
  let value = 0n;
  let shift = 0n;
  for (let i = at; i < end && i < at + 10; i++) {
    value |= BigInt(bytes[i] & 0x7f) << shift;
    if (bytes[i] < 0x80) return [value, i + 1];
    shift += 7n;
  }
  throw new Error(`not an ONNX model: truncated varint at byte ${at}`);
}

// An ONNX file read straight from its protobuf bytes: the metadata properties (which
// onnxruntime-web does not expose) and the graph (which the light runtime evaluates).
//
// Only the fields named below are read (numbers from onnx.proto); every other field is skipped
// by its wire type, so a newer file with extra fields still reads. Repeated numbers are read
// both packed and unpacked; int64 values past 2^49 through BigInt (negative ones take 10 bytes).

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

// Each message's fields read here, {number: name}.
const MODEL = { 7: 'graph', 8: 'opsetImport', 14: 'metadataProps' };
const OPSET = { 1: 'domain', 2: 'version' };
const ENTRY = { 1: 'key', 2: 'value' };
const GRAPH = { 1: 'node', 5: 'initializer', 11: 'input', 12: 'output', 15: 'sparseInitializer' };
const NODE = { 1: 'input', 2: 'output', 3: 'name', 4: 'opType', 5: 'attribute', 7: 'domain' };
const ATTRIBUTE = { 1: 'name', 2: 'f', 3: 'i', 4: 's', 7: 'floats', 8: 'ints', 20: 'type' };
const TENSOR = { 1: 'dims', 2: 'dataType', 4: 'floatData', 7: 'int64Data', 8: 'name', 9: 'rawData', 14: 'dataLocation' };
const VALUE_INFO = { 1: 'name', 2: 'type' };
const TYPE = { 1: 'tensorType' };
const TENSOR_TYPE = { 1: 'elemType', 2: 'shape' };
const SHAPE = { 1: 'dim' };
const DIMENSION = { 1: 'value', 2: 'param' };

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
  return metadataProps(bytes, message(bytes, { start: 0, end: bytes.length }, MODEL));
}

function metadataProps(bytes, top) {
  const props = {};
  for (const field of top.metadataProps ?? []) {
    if (field.wireType !== LEN) continue;
    const entry = message(bytes, field, ENTRY);
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
  const top = message(bytes, { start: 0, end: bytes.length }, MODEL);
  const opsets = {};
  for (const field of top.opsetImport ?? []) {
    const opset = message(bytes, field, OPSET);
    opsets[text(bytes, opset.domain?.[0])] = opset.version ? int64(bytes, opset.version[0]) : 0;
  }
  if (!top.graph) throw new Error('not an ONNX model: it has no graph');
  return { opsets, metadata: metadataProps(bytes, top), graph: readGraph(bytes, top.graph[0]) };
}

function readGraph(bytes, field) {
  const graph = message(bytes, field, GRAPH);
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
  const node = message(bytes, field, NODE);
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
  const attribute = message(bytes, field, ATTRIBUTE);
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
  const tensor = message(bytes, field, TENSOR);
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
  const info = message(bytes, field, VALUE_INFO);
  const name = text(bytes, info.name?.[0]);
  const tensorType = info.type && message(bytes, info.type[0], TYPE).tensorType;
  if (!tensorType) return { name, elemType: null, shape: null };
  const type = message(bytes, tensorType[0], TENSOR_TYPE);
  const shape = type.shape
    ? (message(bytes, type.shape[0], SHAPE).dim ?? []).map((dim) => {
        const value = message(bytes, dim, DIMENSION).value;
        return value ? int64(bytes, value[0]) : null;
      })
    : null;
  return { name, elemType: type.elemType ? int64(bytes, type.elemType[0]) : 0, shape };
}

// --- protobuf ---------------------------------------------------------------------------------

function asBytes(model) {
  return model instanceof Uint8Array ? model : new Uint8Array(model);
}

/**
 * The fields of the message in bytes[start, end) that `names` ({number: name}) names, each a
 * list of its occurrences {wireType, start, end, value} (value: a varint's); the others skipped.
 */
function message(bytes, { start, end }, names) {
  const out = {};
  let at = start;
  while (at < end) {
    const tag = varint(bytes, at, end);
    const number = Math.floor(Number(tag) / 8);
    const wireType = Number(tag) % 8;
    let payloadStart = cursor;
    let payloadEnd;
    let value;
    if (wireType === VARINT) {
      value = varint(bytes, cursor, end);
      payloadEnd = cursor;
    } else if (wireType === I64) {
      payloadEnd = cursor + 8;
    } else if (wireType === I32) {
      payloadEnd = cursor + 4;
    } else if (wireType === LEN) {
      const length = Number(varint(bytes, cursor, end));
      payloadStart = cursor;
      payloadEnd = cursor + length;
    } else {
      throw new Error(`not an ONNX model: unsupported protobuf wire type ${wireType} at byte ${at}`);
    }
    if (number === 0 || payloadEnd > end) {
      throw new Error(`not an ONNX model: malformed protobuf field at byte ${at}`);
    }
    const name = names[number];
    if (name !== undefined) (out[name] ??= []).push({ wireType, start: payloadStart, end: payloadEnd, value });
    at = payloadEnd;
  }
  return out;
}

function text(bytes, field) {
  if (!field) return '';
  let ascii = '';
  for (let i = field.start; i < field.end; i++) {
    if (bytes[i] >= 0x80 || i - field.start > 64) return utf8.decode(bytes.subarray(field.start, field.end));
    ascii += String.fromCharCode(bytes[i]);
  }
  return ascii;
}

/** A varint field's value as a Number (int64, two's complement); an error past 2^53. */
function int64(bytes, field) {
  return signed(field.value);
}

function signed(value) {
  return typeof value === 'number' ? value : safe(BigInt.asIntN(64, value));
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
    for (let at = field.start; at < field.end; at = cursor) values.push(signed(varint(bytes, at, field.end)));
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

// The offset after the last varint read (reading is synchronous: no array per varint).
let cursor = 0;

/**
 * The varint at `at` (and `cursor` after it): a Number up to 7 bytes (49 bits, exact), a BigInt
 * beyond (int64 values past 2^49, negative ones among them: those take 10 bytes).
 */
function varint(bytes, at, end) {
  let value = 0;
  let scale = 1;
  for (let i = at; i < end && i < at + 7; i++) {
    value += (bytes[i] & 0x7f) * scale;
    if (bytes[i] < 0x80) {
      cursor = i + 1;
      return value;
    }
    scale *= 128;
  }
  let big = 0n;
  for (let i = at; i < end && i < at + 10; i++) {
    big |= BigInt(bytes[i] & 0x7f) << BigInt(7 * (i - at));
    if (bytes[i] < 0x80) {
      cursor = i + 1;
      return big;
    }
  }
  throw new Error(`not an ONNX model: truncated varint at byte ${at}`);
}

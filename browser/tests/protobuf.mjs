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

// The metadata properties of an ONNX file, read straight from its protobuf bytes:
// onnxruntime-web exposes input and output metadata, but not the model's custom properties.
// ModelProto field 14 is `repeated StringStringEntryProto metadata_props`, and each entry
// is {1: key, 2: value}; every other field is skipped by its wire type.

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;
const METADATA_PROPS = 14;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The model's metadata properties as a plain object {key: value}.
 * @param {Uint8Array|ArrayBuffer} model the .onnx file's bytes
 * @returns {Record<string, string>}
 */
export function readMetadataProps(model) {
  const bytes = model instanceof Uint8Array ? model : new Uint8Array(model);
  const props = {};
  for (const field of fields(bytes, 0, bytes.length)) {
    if (field.number !== METADATA_PROPS || field.wireType !== LEN) continue;
    let key = '';
    let value = '';
    for (const part of fields(bytes, field.start, field.end)) {
      if (part.wireType !== LEN) continue;
      if (part.number === 1) key = utf8.decode(bytes.subarray(part.start, part.end));
      else if (part.number === 2) value = utf8.decode(bytes.subarray(part.start, part.end));
    }
    props[key] = value;
  }
  return props;
}

/** The fields of the message in bytes[start, end): {number, wireType, start, end} of each payload. */
function* fields(bytes, start, end) {
  let at = start;
  while (at < end) {
    const [tag, afterTag] = varint(bytes, at, end);
    const number = Math.floor(tag / 8);
    const wireType = tag % 8;
    let payloadEnd;
    let payloadStart = afterTag;
    if (wireType === VARINT) {
      payloadEnd = varint(bytes, afterTag, end)[1];
    } else if (wireType === I64) {
      payloadEnd = afterTag + 8;
    } else if (wireType === I32) {
      payloadEnd = afterTag + 4;
    } else if (wireType === LEN) {
      const [length, afterLength] = varint(bytes, afterTag, end);
      payloadStart = afterLength;
      payloadEnd = afterLength + length;
    } else {
      throw new Error(`not an ONNX model: unsupported protobuf wire type ${wireType} at byte ${at}`);
    }
    if (number === 0 || payloadEnd > end) {
      throw new Error(`not an ONNX model: malformed protobuf field at byte ${at}`);
    }
    yield { number, wireType, start: payloadStart, end: payloadEnd };
    at = payloadEnd;
  }
}

/** [value, next offset] of the varint at `at`; arithmetic, not bit shifts, past 32 bits. */
function varint(bytes, at, end) {
  let value = 0;
  let scale = 1;
  for (let i = at; i < end && i < at + 10; i++) {
    value += (bytes[i] & 0x7f) * scale;
    if (bytes[i] < 0x80) return [value, i + 1];
    scale *= 128;
  }
  throw new Error(`not an ONNX model: truncated varint at byte ${at}`);
}

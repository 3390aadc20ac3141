// The 'ort' backend: onnxruntime-web's WebAssembly build (from the bundle's own `ort/` folder)
// running the model. Imported by the predictor only when this backend is chosen, so the light
// path never downloads this module, the runtime's .mjs or its megabytes of .wasm.

// The WebAssembly binary that the runtime's .mjs loads, in the same folder.
export const RUNTIME_WASM = 'ort-wasm-simd-threaded.wasm';

const isNode = typeof process !== 'undefined' && Boolean(process.versions?.node);

// onnxruntime-web keeps one WebAssembly instance per page (or Node process): configure it once.
const runtimes = new Map();

/**
 * onnxruntime-web, loaded from `runtimeUrl` and configured (once per URL).
 * @param {string|URL} runtimeUrl the runtime's .mjs (its .wasm beside it)
 * @param {(url: URL) => Promise<Uint8Array>} loadBytes reads a file (Node is handed the .wasm)
 */
export function loadRuntime(runtimeUrl, loadBytes) {
  const url = new URL(runtimeUrl, import.meta.url).href;
  if (!runtimes.has(url)) {
    runtimes.set(
      url,
      import(url).then(async (ort) => {
        // The .wasm beside the .mjs. Naming the file, not a folder prefix, keeps the Emscripten
        // glue built into the .mjs (a prefix would make it fetch a separate glue .mjs); that glue
        // fetches, so Node is handed the binary itself. One thread, so the page needs no
        // cross-origin isolation.
        const wasm = new URL(RUNTIME_WASM, url);
        if (isNode) ort.env.wasm.wasmBinary = await loadBytes(wasm);
        else ort.env.wasm.wasmPaths = { wasm: wasm.href };
        ort.env.wasm.numThreads = 1;
        ort.env.wasm.proxy = false;
        ort.env.logLevel = 'warning';
        return ort;
      }).catch((error) => {
        runtimes.delete(url); // a failed load (e.g. offline) may be retried
        throw error;
      }),
    );
  }
  return runtimes.get(url);
}

/** An onnxruntime-web session on the model: {inputNames, outputNames, run(row) → Promise of `output` {data, dims}}. */
export async function ortSession(ort, bytes, input, output) {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    run: async (row) => (await session.run({ [input]: new ort.Tensor('float32', row, [1, row.length]) }, [output]))[output],
  };
}

// The bundle in a real browser: headless Chromium (Debian's, driven by playwright-core) loads
// demo.html from a local server once per backend (`?backend=light`, the default, and
// `?backend=ort`), each in a fresh context (cold cache), and records every request with its size
// and the time from the page's load event to its first prediction. Inside the page it checks the
// predictor and the extractor against the golden windows Python exported (the first golden
// file's model is the bundle's; the page loads the others' models itself), measures the latency
// of single-window calls, drives the page like a visitor and keeps a screenshot. Prints one JSON
// report on stdout; exits 1 on a failure.
//
//   node browser/tests/browser_parity.mjs --url http://127.0.0.1:8000/demo.html \
//     --golden golden_windows.json [--golden golden_60s.json] --chromium /usr/bin/chromium \
//     [--screenshot demo.png] [--mode parity|benchmark|startup] [--calls 1000]
//
// `benchmark` skips the visitor and the screenshot; `startup` only loads the pages (download and
// first prediction), for cold loads measured without the rest.
// Run by poppy_pipeline_tests/click_model/test_browser_parity.py and benchmarks/bench_browser.py.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';

import { loadGolden } from './golden.mjs';
import { withMetadata } from './protobuf.mjs';

// Without the background-networking flags Chromium calls Google's services at start-up.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const BACKENDS = ['light', 'ort'];
// |p_browser − p_python| per backend: the light runtime sums in onnxruntime's CPU order,
// onnxruntime-web's WebAssembly kernel in another.
const PROBABILITY_TOLERANCE = { light: 1e-6, ort: 1e-5 };
const FEATURE_TOLERANCE = 1e-9;

const { values: options } = parseArgs({
  options: {
    url: { type: 'string' },
    golden: { type: 'string', multiple: true },
    chromium: { type: 'string' },
    screenshot: { type: 'string' },
    mode: { type: 'string', default: 'parity' },
    calls: { type: 'string', default: '1000' },
  },
});
for (const name of ['url', 'golden', 'chromium']) {
  if (!options[name]) throw new Error(`--${name} is required`);
}
const benchmark = options.mode !== 'parity';
const startup = options.mode === 'startup';
const calls = Number(options.calls);
const goldens = options.golden.map((path) => loadGolden(path));
const pageOrigin = new URL(options.url).origin;

const browser = await chromium.launch({ executablePath: options.chromium, headless: true, args: CHROMIUM_ARGS });
const report = { chromium: browser.version(), backends: {}, page_errors: [], console_errors: [], failures: [] };
try {
  for (const backend of BACKENDS) {
    report.backends[backend] = await checkBackend(backend, backend === 'light' && !benchmark);
  }
} finally {
  await browser.close();
}

check(report);
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exitCode = report.failures.length ? 1 : 0;

/** One cold page load on `backend`: its requests and bytes, first prediction, parity and latency. */
async function checkBackend(backend, visit) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const out = { requests: [], response_bytes: {} };
  const bodies = [];
  context.on('request', (request) => out.requests.push(request.url()));
  context.on('response', (response) => {
    bodies.push(response.body().then((body) => (out.response_bytes[response.url()] = body.length), () => {}));
  });
  // Time the first prediction from the load event, as a page that predicts at once would.
  await context.addInitScript((row) => {
    addEventListener('load', async () => {
      const loadedAt = performance.now();
      await window.poppy.ready;
      await window.poppy.predictor.predictClickProbability(row);
      window.firstPrediction = { after_load_ms: performance.now() - loadedAt, load_event_ms: loadedAt };
    });
  }, goldens[0].windows[0].features);
  const page = await context.newPage();
  page.on('pageerror', (error) => report.page_errors.push(`${backend}: ${error}`));
  page.on('console', (message) => message.type() === 'error' && report.console_errors.push(message.text()));
  const url = new URL(options.url);
  url.searchParams.set('backend', backend);
  await page.goto(url.href, { waitUntil: 'load' });
  await page.waitForFunction(() => window.firstPrediction && document.querySelector('#loaded').dataset.bytes);
  await Promise.all(bodies);
  Object.assign(out, await page.evaluate(() => ({
    first_prediction: window.firstPrediction,
    shown_backend: document.querySelector('#backend').dataset.backend,
    shown_loaded: document.querySelector('#loaded').textContent,
    shown_trained: document.querySelector('#trained').textContent,
    page_bytes: Number(document.querySelector('#loaded').dataset.bytes),
  })));
  out.bytes = Object.values(out.response_bytes).reduce((n, b) => n + b, 0);

  const models = goldens.map((golden, i) => (i === 0 ? null : Array.from(readFileSync(golden.modelPath))));
  if (!startup) Object.assign(out, await page.evaluate(inPage, { goldens, models, backend, calls, benchmark }));
  if (visit) {
    const wrongNames = withMetadata(readFileSync(goldens[0].modelPath), {
      ...Object.fromEntries(Object.entries(await page.evaluate(() => window.poppy.predictor.metadata))),
      feature_names: JSON.stringify([...goldens[0].feature_names].reverse()),
    });
    report.wrong_names_error = await page.evaluate(async (bytes) => {
      try {
        await new window.poppy.InteractionPredictor().initialize(Uint8Array.from(bytes));
        return null;
      } catch (error) {
        return String(error.message);
      }
    }, Array.from(wrongNames));
    Object.assign(report, await actLikeAVisitor(page));
    if (options.screenshot) {
      await page.screenshot({ path: options.screenshot, fullPage: false });
      report.screenshot = options.screenshot;
    }
  }
  await context.close();
  return out;
}

/**
 * Runs inside the page: parity on every golden set (the first with the page's own predictor,
 * the others with a predictor on their model), then the latency of single-window calls.
 */
async function inPage({ goldens, models, backend, calls, benchmark }) {
  const { predictor, InteractionPredictor, FEATURE_NAMES } = window.poppy;
  const out = { sets: [] };
  let timed = null;
  for (const [index, golden] of goldens.entries()) {
    const model = index === 0 ? predictor : await new InteractionPredictor({ backend }).initialize(Uint8Array.from(models[index]));
    const sessions = {};
    for (const [id, s] of Object.entries(golden.sessions)) {
      sessions[id] = s.timestamp.map((timestamp, i) => ({ action: s.action[i], timestamp, scroll_amount: s.scroll_amount[i] }));
    }
    const windows = golden.windows.map((w) => ({
      ...w,
      actions: sessions[w.session].filter((a) => a.timestamp <= w.window_end_ms),
    }));
    const set = { window_ms: model.settings.windowMs, windows: windows.length, worst_feature: {}, null_rule_ok: true };
    let maxProbability = 0;
    let maxFeature = 0;
    for (const w of windows) {
      const p = await model.predictClickProbability(w.features);
      maxProbability = Math.max(maxProbability, Math.abs(p - w.probability));
      const features = model.extractFeatures(w.actions, w.window_end_ms);
      features.forEach((value, i) => {
        const scale = Math.max(Math.abs(value), Math.abs(w.features[i]));
        const difference = scale <= 1e-12 ? Math.abs(value - w.features[i]) : Math.abs(value - w.features[i]) / scale;
        if (difference > (set.worst_feature.difference ?? -1)) {
          set.worst_feature = { name: FEATURE_NAMES[i], difference, window_end_ms: w.window_end_ms };
        }
        maxFeature = Math.max(maxFeature, difference);
      });
      const fromActions = await model.predictFromActions(w.actions, w.window_end_ms);
      const count = Math.round((w.features[FEATURE_NAMES.indexOf('interaction_density')] * golden.window_ms) / 1000);
      if ((count < golden.min_actions) !== (fromActions === null)) set.null_rule_ok = false;
    }
    set.max_probability_difference = maxProbability;
    set.max_feature_relative_difference = maxFeature;
    if (!benchmark) {
      const moved = [...windows[0].features];
      moved[FEATURE_NAMES.indexOf('time_since_last_action')] += 30;
      moved[FEATURE_NAMES.indexOf('click_count')] += 5 / 120;
      set.perturbed_difference = Math.abs((await model.predictClickProbability(moved)) - windows[0].probability);
    }
    out.sets.push(set);
    timed ??= { model, windows };
  }

  // Latency: `calls` sequential single-window predictions (a page predicts one window at a time),
  // then as many feature extractions, each call timed on its own after a warm-up.
  const picked = Array.from({ length: calls }, (_, i) => timed.windows[i % timed.windows.length]);
  out.latency = await timeEach(picked, (w) => timed.model.predictClickProbability(w.features));
  out.extraction = await timeEach(picked, (w) => timed.model.extractFeatures(w.actions, w.window_end_ms));
  out.extraction.mean_actions = picked.reduce((n, w) => n + w.actions.length, 0) / calls;
  let resolution = Infinity;
  for (let i = 0, last = performance.now(); i < 100_000; i++) {
    const t = performance.now();
    if (t > last) resolution = Math.min(resolution, t - last);
    last = t;
  }
  out.timer = { resolution_ms: resolution, cross_origin_isolated: window.crossOriginIsolated };
  return out;

  // (Inside inPage: page.evaluate sends only this function's source to the page.)
  /** Mean (total / calls), p50, p95 and max of `call` over `inputs` in the page, in ms. */
  async function timeEach(inputs, call) {
    // A plain call is not awaited: an await would add a microtask to what is measured.
    for (const input of inputs.slice(0, 200)) {
      const result = call(input);
      if (result instanceof Promise) await result;
    }
    const timings = new Float64Array(inputs.length);
    const started = performance.now();
    for (let i = 0; i < inputs.length; i++) {
      const t = performance.now();
      const result = call(inputs[i]);
      if (result instanceof Promise) await result;
      timings[i] = performance.now() - t;
    }
    const total = performance.now() - started;
    timings.sort();
    const quantile = (q) => timings[Math.min(timings.length - 1, Math.floor(q * timings.length))];
    return {
      calls: inputs.length,
      mean_ms: total / inputs.length,
      p50_ms: quantile(0.5),
      p95_ms: quantile(0.95),
      max_ms: timings.at(-1),
    };
  }
}

/** Hover, scroll, click like a visitor; the page must record it and show a live probability. */
async function actLikeAVisitor(page) {
  const cards = page.locator('.card:not(.ad)');
  for (let i = 0; i < 3; i++) {
    await cards.nth(i).hover();
    await page.waitForTimeout(450); // the page counts at most one hover per 400 ms
  }
  await cards.nth(1).click();
  await page.mouse.wheel(0, 400);
  await page.waitForTimeout(400); // a scroll gesture ends 150 ms after its last event
  await page.mouse.wheel(0, -150);
  await page.waitForTimeout(400);
  // The next refresh (every second) has seen every recorded action, with a probability.
  await page.waitForFunction(
    () =>
      document.querySelector('#probability').textContent.includes('%') &&
      document.querySelector('#status').textContent.includes(` ${window.poppy.actions.length} this session`),
    null,
    { timeout: 5_000 },
  );
  return page.evaluate(() => ({
    recorded: window.poppy.actions.map((a) => [a.action, a.scroll_amount]),
    displayed_probability: document.querySelector('#probability').textContent,
    displayed_features: [...document.querySelectorAll('#features td:last-child')].map((td) => td.textContent),
  }));
}

function check(r) {
  const fail = (message) => r.failures.push(message);
  if (r.page_errors.length) fail(`page errors: ${r.page_errors.join('; ')}`);
  for (const [backend, b] of Object.entries(r.backends)) {
    const outside = b.requests.filter((url) => new URL(url).origin !== pageOrigin && !/^(data|blob):/.test(url));
    if (outside.length) fail(`${backend}: requests outside ${pageOrigin}: ${outside.join(', ')}`);
    if (b.shown_backend !== backend) fail(`${backend}: the page shows the backend ${b.shown_backend}`);
    if (b.page_bytes !== b.bytes) fail(`${backend}: the page shows ${b.page_bytes} bytes loaded, the server sent ${b.bytes}`);
    (b.sets ?? []).forEach((set, i) => {
      const where = `${backend}, ${options.golden[i]}`;
      const tolerance = PROBABILITY_TOLERANCE[backend];
      if (!(set.max_probability_difference <= tolerance)) {
        fail(`${where}: max |p_browser − p_python| = ${set.max_probability_difference} > ${tolerance}`);
      }
      if (!(set.max_feature_relative_difference <= FEATURE_TOLERANCE)) {
        fail(`${where}: features differ from Python's: ${JSON.stringify(set.worst_feature)}`);
      }
      if (set.window_ms !== goldens[i].window_ms) fail(`${where}: the page used a ${set.window_ms} ms window`);
      if (!set.null_rule_ok) fail(`${where}: predictFromActions did not return null exactly below min_actions`);
      if (!benchmark && !(set.perturbed_difference > 100 * tolerance)) {
        fail(`${where}: a perturbed row did not move the probability`);
      }
    });
  }
  if (benchmark) return;
  if (!/expects the features/.test(r.wrong_names_error ?? '')) {
    fail(`a model with reversed feature names was not refused: ${r.wrong_names_error}`);
  }
  const kinds = new Set(r.recorded.map(([action]) => action));
  for (const kind of ['focus_window', 'hover', 'scroll_down', 'scroll_up', 'click']) {
    if (!kinds.has(kind)) fail(`the page did not record ${kind}: ${JSON.stringify(r.recorded)}`);
  }
  if (!/^\d+\.\d\d %$/.test(r.displayed_probability)) fail(`no live probability shown: ${r.displayed_probability}`);
}

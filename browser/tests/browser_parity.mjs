// The bundle in a real browser: headless Chromium (Debian's, driven by playwright-core) loads
// demo.html from a local server and, inside the page, checks the predictor and the extractor
// against the golden windows Python exported, measures the prediction latency, drives the page
// like a visitor and keeps a screenshot. Prints one JSON report on stdout; exits 1 on a failure.
//
//   node browser/tests/browser_parity.mjs --url http://127.0.0.1:8000/demo.html \
//     --golden golden_windows.json --chromium /usr/bin/chromium [--screenshot demo.png]
//     [--mode parity|benchmark] [--calls 1000]
//
// Run by poppy_pipeline_tests/test_browser_bundle.py and benchmarks/bench_browser.py.

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
const PROBABILITY_TOLERANCE = 1e-5;
const FEATURE_TOLERANCE = 1e-9;

const { values: options } = parseArgs({
  options: {
    url: { type: 'string' },
    golden: { type: 'string' },
    chromium: { type: 'string' },
    screenshot: { type: 'string' },
    mode: { type: 'string', default: 'parity' },
    calls: { type: 'string', default: '1000' },
  },
});
for (const name of ['url', 'golden', 'chromium']) {
  if (!options[name]) throw new Error(`--${name} is required`);
}
const benchmark = options.mode === 'benchmark';
const calls = Number(options.calls);
const golden = loadGolden(options.golden);
const pageOrigin = new URL(options.url).origin;

const browser = await chromium.launch({ executablePath: options.chromium, headless: true, args: CHROMIUM_ARGS });
const report = { chromium: browser.version(), requests: [], page_errors: [], console_errors: [], failures: [] };
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.on('request', (request) => report.requests.push(request.url()));
  const page = await context.newPage();
  page.on('pageerror', (error) => report.page_errors.push(String(error)));
  page.on('console', (message) => message.type() === 'error' && report.console_errors.push(message.text()));
  await page.goto(options.url, { waitUntil: 'load' });
  await page.evaluate(() => window.poppy.ready.then(() => true));

  Object.assign(report, await page.evaluate(inPage, { golden, calls, benchmark }));
  if (!benchmark) {
    const wrongNames = withMetadata(readFileSync(golden.modelPath), {
      feature_names: JSON.stringify([...golden.feature_names].reverse()),
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
} finally {
  await browser.close();
}

check(report);
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exitCode = report.failures.length ? 1 : 0;

/** Runs inside the page: parity on every golden window, then the latency of single-row calls. */
async function inPage({ golden, calls, benchmark }) {
  const { predictor, extractWindowFeatures, MIN_ACTIONS, FEATURE_NAMES } = window.poppy;
  const sessions = {};
  for (const [id, s] of Object.entries(golden.sessions)) {
    sessions[id] = s.timestamp.map((timestamp, i) => ({
      action: s.action[i],
      timestamp,
      scroll_amount: s.scroll_amount[i],
    }));
  }
  const upTo = (actions, end) => actions.filter((a) => a.timestamp <= end);
  const windows = golden.windows.map((w) => ({ ...w, actions: upTo(sessions[w.session], w.window_end_ms) }));

  const out = { windows: windows.length, worst_feature: {}, null_rule_ok: true };
  let maxProbability = 0;
  let maxFeature = 0;
  for (const w of windows) {
    const p = await predictor.predictClickProbability(w.features);
    maxProbability = Math.max(maxProbability, Math.abs(p - w.probability));
    const features = extractWindowFeatures(w.actions, w.window_end_ms);
    features.forEach((value, i) => {
      const scale = Math.max(Math.abs(value), Math.abs(w.features[i]));
      const difference = scale <= 1e-12 ? Math.abs(value - w.features[i]) : Math.abs(value - w.features[i]) / scale;
      if (difference > (out.worst_feature.difference ?? -1)) {
        out.worst_feature = { name: FEATURE_NAMES[i], difference, window_end_ms: w.window_end_ms };
      }
      maxFeature = Math.max(maxFeature, difference);
    });
    const fromActions = await predictor.predictFromActions(w.actions, w.window_end_ms);
    const count = Math.round(w.features[FEATURE_NAMES.indexOf('interaction_density')] * 120);
    if ((count < MIN_ACTIONS) !== (fromActions === null)) out.null_rule_ok = false;
  }
  out.max_probability_difference = maxProbability;
  out.max_feature_relative_difference = maxFeature;
  if (!benchmark) {
    const moved = [...windows[0].features];
    moved[FEATURE_NAMES.indexOf('time_since_last_action')] += 30;
    moved[FEATURE_NAMES.indexOf('click_count')] += 5 / 120;
    out.perturbed_difference = Math.abs((await predictor.predictClickProbability(moved)) - windows[0].probability);
  }

  // Latency: `calls` sequential single-window predictions (a page predicts one window at a time),
  // then as many feature extractions, each call timed on its own after a warm-up.
  const picked = Array.from({ length: calls }, (_, i) => windows[i % windows.length]);
  out.latency = await timeEach(picked, (w) => predictor.predictClickProbability(w.features));
  out.extraction = await timeEach(picked, (w) => extractWindowFeatures(w.actions, w.window_end_ms));
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
  const outside = r.requests.filter((url) => new URL(url).origin !== pageOrigin && !/^(data|blob):/.test(url));
  if (outside.length) fail(`requests outside ${pageOrigin}: ${outside.join(', ')}`);
  if (r.page_errors.length) fail(`page errors: ${r.page_errors.join('; ')}`);
  if (!(r.max_probability_difference <= PROBABILITY_TOLERANCE)) {
    fail(`max |p_browser − p_python| = ${r.max_probability_difference} > ${PROBABILITY_TOLERANCE}`);
  }
  if (!(r.max_feature_relative_difference <= FEATURE_TOLERANCE)) {
    fail(`features differ from Python's: ${JSON.stringify(r.worst_feature)}`);
  }
  if (!r.null_rule_ok) fail('predictFromActions did not return null exactly below MIN_ACTIONS');
  if (benchmark) return;
  if (!(r.perturbed_difference > 100 * PROBABILITY_TOLERANCE)) fail('a perturbed row did not move the probability');
  if (!/expects the features/.test(r.wrong_names_error ?? '')) {
    fail(`a model with reversed feature names was not refused: ${r.wrong_names_error}`);
  }
  const kinds = new Set(r.recorded.map(([action]) => action));
  for (const kind of ['focus_window', 'hover', 'scroll_down', 'scroll_up', 'click']) {
    if (!kinds.has(kind)) fail(`the page did not record ${kind}: ${JSON.stringify(r.recorded)}`);
  }
  if (!/^\d+\.\d\d %$/.test(r.displayed_probability)) fail(`no live probability shown: ${r.displayed_probability}`);
}

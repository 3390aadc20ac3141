// The extractor on hand-computed windows, its input checks, and (with POPPY_GOLDEN_WINDOWS)
// parity with the Python extractor on the golden windows.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { readFileSync } from 'node:fs';

import {
  FEATURE_NAMES,
  WINDOW_PROPERTIES,
  extractWindowFeatures as extractOver,
  readWindowSettings,
  windowActionCount as countOver,
} from '../src/feature_extractor.js';
import { readMetadataProps } from '../src/onnx_model.js';
import { SKIP_WITHOUT_GOLDEN, loadGoldenSets, relativeDifference, worstFeatureDifferences } from './golden.mjs';

// The pipeline's default window; the tests below that use another pass it explicitly.
const WINDOW_MS = 120_000;
const extractWindowFeatures = (actions, end) => extractOver(actions, end, WINDOW_MS);
const windowActionCount = (actions, end) => countOver(actions, end, WINDOW_MS);

const T0 = 1_763_683_200_000; // 2025-11-21T00:00:00Z
const at = (seconds, action, scroll_amount = null) => ({ action, timestamp: T0 + seconds * 1000, scroll_amount });

function byName(features) {
  return Object.fromEntries(FEATURE_NAMES.map((name, i) => [name, features[i]]));
}

function assertClose(actual, expected, tolerance = 1e-12) {
  for (const [name, value] of Object.entries(expected)) {
    assert.ok(relativeDifference(actual[name], value) <= tolerance, `${name}: ${actual[name]} ≠ ${value}`);
  }
}

test('constants: the model order', () => {
  assert.equal(FEATURE_NAMES.length, 20);
  assert.equal(FEATURE_NAMES[0], 'time_since_last_action');
  assert.equal(FEATURE_NAMES.at(-1), 'engagement_rhythm');
});

const SETTINGS = { window_seconds: '60.0', step_seconds: '5.0', horizon_seconds: '20.0', min_actions: '3' };

test('window settings come from the model, in ms; one the extractor cannot honour is refused by name', () => {
  assert.deepEqual(readWindowSettings(SETTINGS), { windowMs: 60_000, stepMs: 5_000, horizonMs: 20_000, minActions: 3 });
  assert.equal(readWindowSettings({ ...SETTINGS, window_seconds: '0.5' }).windowMs, 500);
  for (const name of WINDOW_PROPERTIES) {
    const { [name]: _, ...without } = SETTINGS;
    assert.throws(() => readWindowSettings(without), new RegExp(`no '${name}' metadata property.*re-export`));
  }
  const cases = [
    ['window_seconds', '0', /window_seconds is "0": this extractor needs a positive whole number of milliseconds/],
    ['window_seconds', '60.0005', /window_seconds is "60.0005"/],
    ['step_seconds', '-10', /step_seconds/],
    ['horizon_seconds', 'ten', /horizon_seconds is "ten"/],
    ['horizon_seconds', '', /horizon_seconds is ""/],
    ['window_seconds', 'Infinity', /window_seconds/],
    ['min_actions', '0', /min_actions is "0": this extractor needs a whole number ≥ 1/],
    ['min_actions', '2.5', /min_actions is "2.5"/],
  ];
  for (const [name, value, message] of cases) {
    assert.throws(() => readWindowSettings({ ...SETTINGS, [name]: value }), message);
  }
});

test('the window length is the caller\'s (the model\'s): 60 s counts and divides by 60', () => {
  const actions = [0, 30, 70, 100, 110].map((s) => at(s, 'click'));
  const end = T0 + 120_000;
  assert.equal(countOver(actions, end, 60_000), 3);
  assert.equal(countOver(actions, end, 120_000), 5);
  const features = byName(extractOver(actions, end, 60_000));
  assert.equal(features.interaction_density, 3 / 60);
  assert.equal(features.click_count, 3 / 60);
  assert.equal(features.session_duration, 120); // from the session's first action, whatever the window
  for (const bad of [undefined, 0, 1.5, Number.NaN]) {
    assert.throws(() => extractOver(actions, end, bad), /windowMs must be the model's window/);
    assert.throws(() => countOver(actions, end, bad), /windowMs must be the model's window/);
  }
});

test('a hand-computed window', () => {
  const actions = [
    at(0, 'focus_window'),
    at(1, 'scroll_down', 300),
    at(3, 'hover'),
    at(4, 'click'),
    at(8, 'scroll_up', -100), // a negative delta reads as its size
    at(9, 'blur_window'),
  ];
  const rate = 1 / 120;
  assertClose(byName(extractWindowFeatures(actions, T0 + 10_000)), {
    time_since_last_action: 1,
    avg_time_between_actions: 1.8,
    session_duration: 10,
    scroll_down_count: rate,
    scroll_up_count: rate,
    click_count: rate,
    hover_count: rate,
    blur_count: rate,
    focus_count: rate,
    wait_count: 0,
    close_tab_count: 0,
    scroll_depth_max: 200,
    interaction_density: 6 / 120,
    attention_score: 0.5 + 0.1 * (6 / 120),
    scroll_velocity_avg: 200,
    click_to_hover_ratio: rate / (rate + 0.001),
    blur_frequency: rate,
    action_entropy: Math.log(6),
    burstiness_score: Math.sqrt(1.36e6) / 1800, // gaps 1, 2, 1, 4, 1 s: population std / mean
    engagement_rhythm: 0, // their lag-1 correlation is negative
  });
});

test('engagement rhythm is the lag-1 correlation of the gaps; constant or zero gaps give exact zeros', () => {
  const rising = [0, 1, 3, 6, 10].map((s) => at(s, 'click'));
  const features = byName(extractWindowFeatures(rising, T0 + 10_000));
  assert.ok(Math.abs(features.engagement_rhythm - 1) < 1e-12);
  assert.equal(features.action_entropy, 0); // a single kind
  const steady = byName(extractWindowFeatures([0, 2, 4, 6, 8].map((s) => at(s, 'hover')), T0 + 8_000));
  assert.equal(steady.burstiness_score, 0);
  assert.equal(steady.engagement_rhythm, 0);
  const burst = byName(extractWindowFeatures([0, 0, 0, 0].map((s) => at(s, 'scroll_down', 10)), T0));
  assert.deepEqual([burst.avg_time_between_actions, burst.burstiness_score, burst.engagement_rhythm], [0, 0, 0]);
  assert.equal(burst.scroll_depth_max, 40);
});

test('few actions: avg gap needs 2, burstiness 3, rhythm 4', () => {
  const one = byName(extractWindowFeatures([at(0, 'click')], T0 + 5_000));
  assert.deepEqual([one.time_since_last_action, one.avg_time_between_actions, one.burstiness_score], [5, 0, 0]);
  const three = byName(extractWindowFeatures([at(0, 'click'), at(1, 'click'), at(4, 'click')], T0 + 4_000));
  assert.ok(three.burstiness_score > 0);
  assert.equal(three.engagement_rhythm, 0);
});

test('the window is [end − 120 s, end], both ends included; D stays 120 s', () => {
  const end = T0 + 200_000;
  const actions = [
    at(0, 'focus_window'),
    { action: 'hover', timestamp: end - WINDOW_MS - 1, scroll_amount: null },
    { action: 'hover', timestamp: end - WINDOW_MS, scroll_amount: null },
    at(150, 'click'),
    { action: 'click', timestamp: end, scroll_amount: null },
    { action: 'click_ad', timestamp: end + 1, scroll_amount: null }, // later actions are ignored
  ];
  assert.equal(windowActionCount(actions, end), 3);
  const features = byName(extractWindowFeatures(actions, end));
  assert.equal(features.interaction_density, 3 / 120);
  assert.equal(features.session_duration, 200);
  assert.equal(features.time_since_last_action, 0);
  assert.deepEqual(extractWindowFeatures(actions, end), extractWindowFeatures(actions.slice(0, 5), end));
  // A session that started inside the window: still D = 120 s, duration from its first action.
  const young = byName(extractWindowFeatures([at(0, 'focus_window'), at(10, 'click')], T0 + 30_000));
  assert.equal(young.interaction_density, 2 / 120);
  assert.equal(young.session_duration, 30);
});

test('timestamps are read in whole milliseconds, as the pipeline stores them', () => {
  const exact = [0, 1000, 2500, 2600].map((ms) => ({ action: 'click', timestamp: T0 + ms, scroll_amount: null }));
  const fractional = exact.map((a) => ({ ...a, timestamp: a.timestamp + 0.7 }));
  assert.deepEqual(extractWindowFeatures(fractional, T0 + 3_000), extractWindowFeatures(exact, T0 + 3_000));
});

test('bad input is refused, naming the action', () => {
  const good = [at(0, 'focus_window'), at(1, 'click')];
  const cases = [
    [[good[0], { ...good[1], action: 'tap' }], /actions\[1\]\.action "tap" is not one of/],
    [[good[0], { ...good[1], action: undefined }], /actions\[1\]\.action/],
    [[{ ...good[0], timestamp: Number.NaN }, good[1]], /actions\[0\]\.timestamp must be a finite number/],
    [[good[0], { ...good[1], timestamp: '2025-11-21' }], /actions\[1\]\.timestamp/],
    [[good[1], good[0]], /actions\[1\]\.timestamp .* earlier than the action before it/],
    [[good[0], { ...good[1], scroll_amount: 'far' }], /actions\[1\]\.scroll_amount/],
    [[good[0], null], /actions\[1\]\.action/],
    [[], /non-empty array/],
  ];
  for (const [actions, message] of cases) {
    assert.throws(() => extractWindowFeatures(actions, T0 + 2_000), message);
  }
  assert.throws(() => extractWindowFeatures(good, Number.POSITIVE_INFINITY), /windowEndMs must be a finite number/);
  assert.throws(() => extractWindowFeatures(good, T0 - 1), /before the session's first action/);
  assert.throws(() => extractWindowFeatures(good, T0 + 500_000), /no action in the window/);
  assert.equal(windowActionCount(good, T0 + 500_000), 0);
});

test('golden windows: the features of the model\'s own window equal Python\'s (1e-9 relative)', { skip: SKIP_WITHOUT_GOLDEN }, () => {
  const sets = loadGoldenSets();
  assert.ok(sets.length > 0);
  for (const golden of sets) {
    assert.deepEqual(golden.feature_names, [...FEATURE_NAMES]);
    assert.ok(golden.windows.length > 0);
    // The window comes from the model file, as in the page; Python wrote the one it used beside it.
    const settings = readWindowSettings(readMetadataProps(readFileSync(golden.modelPath)));
    assert.equal(settings.windowMs, golden.window_ms, golden.path);
    assert.equal(settings.minActions, golden.min_actions, golden.path);
    const worst = worstFeatureDifferences(golden, (actions, end) => extractOver(actions, end, settings.windowMs));
    assert.ok(Math.max(...Object.values(worst)) <= 1e-9, `${golden.path}: ${JSON.stringify(worst)}`);
    if (settings.windowMs !== WINDOW_MS) {
      // The comparison has teeth: the default window's features are not these.
      const other = worstFeatureDifferences(golden, extractWindowFeatures);
      assert.ok(other.interaction_density > 1e-3, `${golden.path}: ${JSON.stringify(other)}`);
    }
  }
});

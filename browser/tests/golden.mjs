// The golden windows a Python test exported (poppy_pipeline_tests/support/browser_harness.py
// export_golden_windows), found through the environment variable POPPY_GOLDEN_WINDOWS: one file,
// or several separated by the path delimiter (`:`), each with its own model (e.g. one trained on
// 120-second windows and one on 60-second windows). Shared by the node tests and the browser script.

import { readFileSync } from 'node:fs';
import { delimiter, dirname, resolve } from 'node:path';

export const GOLDEN_ENV = 'POPPY_GOLDEN_WINDOWS';
export const SKIP_WITHOUT_GOLDEN = process.env[GOLDEN_ENV]
  ? false
  : `${GOLDEN_ENV} is not set (pytest poppy_pipeline_tests/click_model/test_browser_parity.py exports the golden windows)`;

/** {windows, sessions, window_ms, min_actions, modelPath, ...} of one golden file. */
export function loadGolden(path) {
  const golden = JSON.parse(readFileSync(path, 'utf8'));
  return { ...golden, path, modelPath: resolve(dirname(path), golden.model) };
}

/** Every golden file named by POPPY_GOLDEN_WINDOWS (none without it). */
export function loadGoldenSets(paths = process.env[GOLDEN_ENV]) {
  return paths ? paths.split(delimiter).filter(Boolean).map((path) => loadGolden(path)) : [];
}

/** The session's actions as the page records them, up to and including `endMs`: its actions so far. */
export function actionsUpTo(session, endMs) {
  const out = [];
  for (let i = 0; i < session.timestamp.length && session.timestamp[i] <= endMs; i++) {
    out.push({ action: session.action[i], timestamp: session.timestamp[i], scroll_amount: session.scroll_amount[i] });
  }
  return out;
}

/** |a − b| / max(|a|, |b|), and |a − b| where both are within `floor` of 0 (no relative error there). */
export function relativeDifference(a, b, floor = 1e-12) {
  const scale = Math.max(Math.abs(a), Math.abs(b));
  return scale <= floor ? Math.abs(a - b) : Math.abs(a - b) / scale;
}

/** The worst relative difference per feature between `extract(actions, end)` and Python's features. */
export function worstFeatureDifferences(golden, extract) {
  const worst = new Array(golden.feature_names.length).fill(0);
  for (const window of golden.windows) {
    const actions = actionsUpTo(golden.sessions[window.session], window.window_end_ms);
    extract(actions, window.window_end_ms).forEach((value, i) => {
      worst[i] = Math.max(worst[i], relativeDifference(value, window.features[i]));
    });
  }
  return Object.fromEntries(golden.feature_names.map((name, i) => [name, worst[i]]));
}

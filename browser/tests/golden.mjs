// The golden windows a Python test exported (poppy_pipeline.browser_bundle.export_golden_windows),
// found through the environment variable POPPY_GOLDEN_WINDOWS; shared by the node tests and the
// browser script.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export const GOLDEN_ENV = 'POPPY_GOLDEN_WINDOWS';
export const SKIP_WITHOUT_GOLDEN = process.env[GOLDEN_ENV]
  ? false
  : `${GOLDEN_ENV} is not set (pytest poppy_pipeline_tests/test_browser_bundle.py exports the golden windows)`;

/** {windows, sessions, modelPath, ...} of the golden file, or null without one. */
export function loadGolden(path = process.env[GOLDEN_ENV]) {
  if (!path) return null;
  const golden = JSON.parse(readFileSync(path, 'utf8'));
  return { ...golden, modelPath: resolve(dirname(path), golden.model) };
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

// The 20 window features of the click model, computed in the browser exactly as the pipeline's
// extractor (poppy_pipeline/windows.py) computes them, so the model sees the same numbers live
// as in training. No dependencies.
//
// The window is [end − W, end], both ends included, and D = W in seconds (also when the session
// started inside it), where W is the window the model was trained on: `readWindowSettings` takes
// it (with the minimum actions per window) from the model's metadata, and the predictor passes
// it on. Timestamps are read as whole milliseconds, as the pipeline stores them; the gap
// statistics are then sums of integers, exact in a double, so the results match the Python
// extractor to the last bit except the logarithms of the entropy.

export const ACTIONS = Object.freeze([
  'scroll_down',
  'scroll_up',
  'click',
  'hover',
  'wait',
  'focus_window',
  'blur_window',
  'close_tab',
  'click_ad',
]);

export const FEATURE_NAMES = Object.freeze([
  'time_since_last_action',
  'avg_time_between_actions',
  'session_duration',
  'scroll_down_count',
  'scroll_up_count',
  'click_count',
  'hover_count',
  'blur_count',
  'focus_count',
  'wait_count',
  'close_tab_count',
  'scroll_depth_max',
  'interaction_density',
  'attention_score',
  'scroll_velocity_avg',
  'click_to_hover_ratio',
  'blur_frequency',
  'action_entropy',
  'burstiness_score',
  'engagement_rhythm',
]);

export const HOVER_SMOOTHING = 0.001;
// The model's metadata properties that hold its window settings (written by click_model.py).
export const WINDOW_PROPERTIES = Object.freeze(['window_seconds', 'step_seconds', 'horizon_seconds', 'min_actions']);

const CODE = new Map(ACTIONS.map((name, code) => [name, code]));
const [SCROLL_DOWN, SCROLL_UP, CLICK, HOVER, WAIT, FOCUS, BLUR, CLOSE] = ACTIONS.keys();
// Features 4-11: the action counted by each rate, in the model's order.
const COUNTED = [SCROLL_DOWN, SCROLL_UP, CLICK, HOVER, BLUR, FOCUS, WAIT, CLOSE];

/**
 * The window settings the model was trained with, from its metadata properties (seconds, as
 * strings): {windowMs, stepMs, horizonMs, minActions}. Throws, naming the property, when one is
 * missing or is not something this extractor can honour (a positive whole number of
 * milliseconds; a whole number of actions ≥ 1): features computed otherwise would not be the
 * ones the model learned from.
 * @param {Record<string, string>} metadata the model's metadata properties
 */
export function readWindowSettings(metadata) {
  const value = (name, test, expected) => {
    const text = metadata[name];
    if (text === undefined) {
      throw new Error(
        `the model has no '${name}' metadata property, so its ${WINDOW_PROPERTIES.join(', ')} are unknown: ` +
          're-export it with this pipeline version (click_model_onnx)',
      );
    }
    const number = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(text) ? Number(text) : Number.NaN;
    if (!test(number)) {
      throw new Error(`the model's ${name} is ${JSON.stringify(text)}: this extractor needs ${expected}`);
    }
    return number;
  };
  const milliseconds = (name) => {
    const seconds = value(
      name,
      (s) => s > 0 && Number.isFinite(s) && Math.abs(Math.round(s * 1000) - s * 1000) <= 1e-6,
      'a positive whole number of milliseconds',
    );
    return Math.round(seconds * 1000);
  };
  return Object.freeze({
    windowMs: milliseconds('window_seconds'),
    stepMs: milliseconds('step_seconds'),
    horizonMs: milliseconds('horizon_seconds'),
    minActions: value('min_actions', (n) => Number.isSafeInteger(n) && n >= 1, 'a whole number ≥ 1'),
  });
}

/**
 * The 20 features (FEATURE_NAMES order) of the window ending at `windowEndMs`.
 *
 * @param {{action: string, timestamp: number, scroll_amount?: number|null}[]} actions the
 *   session's actions in time order; the first one marks the session's start. Actions after
 *   the window end are ignored.
 * @param {number} windowEndMs the window's end, ms since the epoch
 * @param {number} windowMs the window's length: the model's (`readWindowSettings(...).windowMs`)
 * @returns {number[]}
 */
export function extractWindowFeatures(actions, windowEndMs, windowMs) {
  checkWindowLength(windowMs);
  const session = readSession(actions, windowEndMs);
  const [lo, hi] = windowRange(session.times, windowEndMs, windowMs);
  if (hi === lo) {
    throw new Error(`no action in the window [${windowEndMs - windowMs}, ${windowEndMs}]`);
  }
  return windowFeatures(session, lo, hi, windowEndMs, windowMs / 1000);
}

/** How many of `actions` fall in the window of `windowMs` ending at `windowEndMs` (validates like the extractor). */
export function windowActionCount(actions, windowEndMs, windowMs) {
  checkWindowLength(windowMs);
  const [lo, hi] = windowRange(readSession(actions, windowEndMs).times, windowEndMs, windowMs);
  return hi - lo;
}

function checkWindowLength(windowMs) {
  if (!Number.isSafeInteger(windowMs) || windowMs < 1) {
    throw new Error(`windowMs must be the model's window in whole milliseconds (readWindowSettings), got ${windowMs}`);
  }
}

/** The actions as arrays, checked: known names, finite non-decreasing timestamps, numeric scrolls. */
function readSession(actions, windowEndMs) {
  if (!Array.isArray(actions) || actions.length === 0) {
    throw new Error('actions must be a non-empty array of {action, timestamp, scroll_amount}');
  }
  if (typeof windowEndMs !== 'number' || !Number.isFinite(windowEndMs)) {
    throw new Error(`windowEndMs must be a finite number of ms since the epoch, got ${windowEndMs}`);
  }
  const n = actions.length;
  const times = new Float64Array(n);
  const codes = new Uint8Array(n);
  const scrolls = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const entry = actions[i];
    const code = CODE.get(entry?.action);
    if (code === undefined) {
      throw new Error(`actions[${i}].action ${JSON.stringify(entry?.action)} is not one of ${ACTIONS.join(', ')}`);
    }
    const time = entry.timestamp;
    if (typeof time !== 'number' || !Number.isFinite(time)) {
      throw new Error(`actions[${i}].timestamp must be a finite number of ms since the epoch, got ${time}`);
    }
    times[i] = Math.floor(time); // whole milliseconds, as the pipeline reads a log
    if (i > 0 && times[i] < times[i - 1]) {
      throw new Error(`actions[${i}].timestamp ${time} is earlier than the action before it: give them in time order`);
    }
    const amount = entry.scroll_amount;
    if (amount !== undefined && amount !== null && (typeof amount !== 'number' || !Number.isFinite(amount))) {
      throw new Error(`actions[${i}].scroll_amount must be a finite number (px) or null, got ${amount}`);
    }
    codes[i] = code;
    scrolls[i] = Math.abs(amount ?? 0); // a scroll's size; its direction is the action
  }
  if (windowEndMs < times[0]) {
    throw new Error(`windowEndMs ${windowEndMs} is before the session's first action (${times[0]})`);
  }
  return { times, codes, scrolls };
}

/** [lo, hi): the actions with end − windowMs ≤ time ≤ end. */
function windowRange(times, end, windowMs) {
  return [firstIndex(times, (t) => t >= end - windowMs), firstIndex(times, (t) => t > end)];
}

/** The first index whose time passes `test` (times are sorted), or times.length. */
function firstIndex(times, test) {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (test(times[mid])) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function windowFeatures({ times, codes, scrolls }, lo, hi, end, seconds) {
  const n = hi - lo;
  const counts = new Array(ACTIONS.length).fill(0);
  let down = 0;
  let up = 0;
  for (let i = lo; i < hi; i++) {
    counts[codes[i]] += 1;
    if (codes[i] === SCROLL_DOWN) down += scrolls[i];
    else if (codes[i] === SCROLL_UP) up += scrolls[i];
  }
  const rates = COUNTED.map((code) => counts[code] / seconds);
  const rate = (code) => rates[COUNTED.indexOf(code)];
  const scrollCount = counts[SCROLL_DOWN] + counts[SCROLL_UP];
  const density = n / seconds;
  const [burstiness, rhythm] = gapStatistics(times, lo, hi);
  return [
    (end - times[hi - 1]) / 1000,
    n > 1 ? (times[hi - 1] - times[lo]) / (n - 1) / 1000 : 0,
    (end - times[0]) / 1000,
    ...rates,
    Math.max(0, down - up),
    density,
    Math.min(1, Math.max(0, 0.5 + 10 * (rate(FOCUS) - rate(BLUR)) + 0.1 * density)),
    scrollCount > 0 ? (down + up) / scrollCount : 0,
    rate(CLICK) / (rate(HOVER) + HOVER_SMOOTHING),
    rate(BLUR),
    entropy(counts, n),
    burstiness,
    rhythm,
  ];
}

/** −Σ p·ln p written as ln n − Σ c·ln c / n (the pipeline's form); exactly 0 for a single kind. */
function entropy(counts, n) {
  if (Math.max(...counts) === n) return 0;
  let sum = 0;
  for (const c of counts) sum += c * Math.log(Math.max(c, 1));
  return Math.max(0, Math.log(n) - sum / n);
}

/**
 * Burstiness: std/mean of the window's gaps (population std; 0 with ≤ 2 actions or a zero mean).
 * Rhythm: max(0, Pearson's r of consecutive gap pairs); 0 with ≤ 3 actions or a constant side.
 * Both from integer sums (k·Σg² − (Σg)², …), as the pipeline computes them: exact zeros for
 * constant or zero gaps, not rounding noise.
 */
function gapStatistics(times, lo, hi) {
  const n = hi - lo;
  let burstiness = 0;
  let rhythm = 0;
  if (n >= 3) {
    let squares = 0;
    for (let i = lo + 1; i < hi; i++) squares += (times[i] - times[i - 1]) ** 2;
    const total = times[hi - 1] - times[lo];
    if (total > 0) burstiness = Math.sqrt((n - 1) * squares - total * total) / total;
  }
  if (n >= 4) {
    // x: gaps lo+1 .. hi-2, y: gaps lo+2 .. hi-1 (gap i is times[i] − times[i−1]).
    const m = n - 2;
    let xx = 0;
    let yy = 0;
    let xy = 0;
    for (let i = lo + 1; i < hi - 1; i++) {
      const x = times[i] - times[i - 1];
      const y = times[i + 1] - times[i];
      xx += x * x;
      yy += y * y;
      xy += x * y;
    }
    const sumX = times[hi - 2] - times[lo];
    const sumY = times[hi - 1] - times[lo + 1];
    const varX = m * xx - sumX * sumX;
    const varY = m * yy - sumY * sumY;
    if (varX > 0 && varY > 0) {
      rhythm = Math.max(0, (m * xy - sumX * sumY) / (Math.sqrt(varX) * Math.sqrt(varY)));
    }
  }
  return [burstiness, rhythm];
}

// The demo page: records the visitor's own actions as the pipeline's action names and shows,
// every second, the click model's probability and the 20 features it saw.
//
// The backend is the light runtime unless the URL says `?backend=ort`. The panel names it, the
// bytes the page has loaded (Resource Timing: the page, its modules, the model and, for 'ort',
// onnxruntime-web) and the window the model was trained on, which also rules the features.
//
// window.poppy exposes the pieces (predictor, recorded actions, `ready`) so that a test can
// drive the page and call the predictor inside it.

import { FEATURE_NAMES, extractWindowFeatures, windowActionCount } from './feature_extractor.js';
import { InteractionPredictor } from './interaction_predictor.js';

// A scroll gesture is one action: it ends this long after its last scroll event, or on a turn.
const SCROLL_SETTLE_MS = 150;
// Moving across a grid fires mouseover constantly: count a hover when the pointer rests on a
// new item, at most this often.
const HOVER_MIN_INTERVAL_MS = 400;
const REFRESH_MS = 1000;
// A page cannot see reading, only its silence: after this long without an action (tab focused)
// the visitor is recorded as pausing (`wait`), as the pipeline's users are when they stop to read.
const WAIT_AFTER_MS = 3000;
const LOG_LINES = 8;

const actions = [];
const backend = new URLSearchParams(location.search).get('backend') ?? 'light';
const predictor = new InteractionPredictor({ backend });
const ready = predictor.initialize(window.poppyModel); // the download demo.html started
const $ = (selector) => document.querySelector(selector);

/** ms since the epoch on a monotonic clock, in whole ms: the extractor needs time order. */
function now() {
  return Math.floor(performance.timeOrigin + performance.now());
}

function record(action, scrollAmount = null) {
  actions.push({ action, timestamp: now(), scroll_amount: scrollAmount });
  const line = document.createElement('li');
  line.textContent = `${new Date(actions.at(-1).timestamp).toISOString().slice(11, 23)}  ${action}` +
    (scrollAmount === null ? '' : ` ${scrollAmount}px`);
  $('#log').prepend(line);
  while ($('#log').children.length > LOG_LINES) $('#log').lastChild.remove();
}

// --- recording --------------------------------------------------------------------------------

let gestureStart = null;
let lastY = window.scrollY;
let settleTimer = 0;

function endScrollGesture() {
  clearTimeout(settleTimer);
  if (gestureStart === null) return;
  const delta = Math.round(lastY - gestureStart);
  gestureStart = null;
  if (delta !== 0) record(delta > 0 ? 'scroll_down' : 'scroll_up', Math.abs(delta));
}

addEventListener(
  'scroll',
  () => {
    const y = window.scrollY;
    if (gestureStart !== null && Math.sign(y - lastY) * Math.sign(lastY - gestureStart) < 0) {
      endScrollGesture(); // turned around: a scroll_down then a scroll_up, not their difference
    }
    if (gestureStart === null) gestureStart = lastY;
    lastY = y;
    clearTimeout(settleTimer);
    settleTimer = setTimeout(endScrollGesture, SCROLL_SETTLE_MS);
  },
  { passive: true },
);

let hovered = null;
let lastHoverAt = -Infinity;
document.addEventListener('mouseover', (event) => {
  const item = event.target.closest?.('[data-item]') ?? null;
  if (item === hovered) return;
  hovered = item;
  if (item && performance.now() - lastHoverAt >= HOVER_MIN_INTERVAL_MS) {
    lastHoverAt = performance.now();
    record('hover');
  }
});

document.addEventListener('click', (event) => {
  endScrollGesture();
  record(event.target.closest?.('[data-ad]') ? 'click_ad' : 'click');
});
addEventListener('blur', () => record('blur_window'));
addEventListener('focus', () => record('focus_window'));
addEventListener('pagehide', () => record('close_tab'));
setInterval(() => {
  const last = actions.at(-1);
  const away = ['wait', 'blur_window', 'click_ad', 'close_tab'].includes(last?.action);
  if (last && !away && document.hasFocus() && now() - last.timestamp >= WAIT_AFTER_MS) record('wait');
}, WAIT_AFTER_MS / 6);

// --- the page ---------------------------------------------------------------------------------

const OBJECTS = [
  ['Sirius', 'Star · A1V', '#cfe3ff'], ['Betelgeuse', 'Star · M1-2', '#ff9a5c'], ['Vega', 'Star · A0V', '#e0ecff'],
  ['Mars', 'Planet · Terrestrial', '#d0643a'], ['Jupiter', 'Planet · Gas giant', '#d9b38c'],
  ['Neptune', 'Planet · Ice giant', '#4b7bec'], ['Pluto', 'Planet · Dwarf', '#c9b29b'],
  ['Europa', 'Moon · Jupiter', '#e8dcc0'], ['Titan', 'Moon · Saturn', '#e0a84f'],
  ['Triton', 'Moon · Neptune', '#c6d4e1'],
  ['Rigel', 'Star · B8Ia', '#b8d0ff'], ['Proxima Centauri', 'Star · M5.5Ve', '#ff7f50'],
  ['Saturn', 'Planet · Gas giant', '#e3c98f'], ['Venus', 'Planet · Terrestrial', '#f3d9a4'],
  ['Io', 'Moon · Jupiter', '#f2e36b'], ['Enceladus', 'Moon · Saturn', '#f4f8ff'],
];

function renderObjects() {
  const cards = [];
  for (let copy = 0; copy < 3; copy++) {
    OBJECTS.forEach(([name, kind, colour], i) => {
      cards.push(`<article class="card" data-item><span class="orb" style="background:${colour}"></span>
        <h3>${name}</h3><div class="kind">${kind}</div></article>`);
      if (copy === 0 && i === 4) {
        cards.push(`<article class="card ad" data-item data-ad><h3>Stargazer Pro telescope</h3>
          <div class="kind">Sponsored · click to record an ad click</div></article>`);
      }
    });
  }
  $('#objects').innerHTML = cards.join('');
  $('#features tbody').innerHTML = FEATURE_NAMES.map((name) => `<tr><td>${name}</td><td>–</td></tr>`).join('');
}

function showFeatures(features) {
  const cells = document.querySelectorAll('#features td:last-child');
  FEATURE_NAMES.forEach((_, i) => {
    cells[i].textContent = features ? features[i].toFixed(4) : '–';
  });
}

async function refresh() {
  const end = now();
  const { windowMs, minActions } = predictor.settings;
  const count = actions.length ? predictor.windowActionCount(actions, end) : 0;
  const features = count > 0 ? predictor.extractFeatures(actions, end) : null;
  showFeatures(features);
  const seconds = windowMs / 1000;
  if (count < minActions) {
    $('#probability').textContent = '–';
    $('#status').textContent = `${count} action${count === 1 ? '' : 's'} in the last ${seconds} s: ` +
      `the model needs at least ${minActions}.`;
    return;
  }
  const probability = await predictor.predictClickProbability(features);
  $('#probability').textContent = `${(100 * probability).toFixed(2)} %`;
  $('#status').textContent = `${count} actions in the last ${seconds} s, ${actions.length} this session.`;
}

/** What the page has downloaded so far: {files, bytes} of the document and every resource. */
function loadedBytes() {
  const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
  return { files: entries.length, bytes: entries.reduce((n, e) => n + (e.encodedBodySize || 0), 0) };
}

function showModel() {
  const { windowMs, stepMs, horizonMs, minActions } = predictor.settings;
  const loaded = loadedBytes();
  $('#horizon').textContent = horizonMs / 1000;
  $('#window-seconds').textContent = windowMs / 1000;
  $('#backend').textContent = predictor.backend === 'light' ? 'light (JavaScript)' : 'ort (onnxruntime-web, WebAssembly)';
  $('#backend').dataset.backend = predictor.backend;
  $('#loaded').textContent = `${(loaded.bytes / 1000).toFixed(1)} kB in ${loaded.files} files`;
  $('#loaded').dataset.bytes = loaded.bytes;
  $('#trained').textContent = `${predictor.metadata.training_window ?? 'unknown days'}: ` +
    `window ${windowMs / 1000} s, step ${stepMs / 1000} s, horizon ${horizonMs / 1000} s, ≥ ${minActions} actions`;
}

renderObjects();
if (document.visibilityState === 'visible') record('focus_window'); // the session opens, as in the pipeline
ready.then(
  () => {
    showModel();
    const loop = () => refresh().catch(fail).finally(() => setTimeout(loop, REFRESH_MS));
    loop();
  },
  fail,
);

function fail(error) {
  $('#probability').textContent = 'error';
  $('#status').textContent = String(error?.message ?? error);
  console.error(error);
}

window.poppy = {
  predictor,
  ready,
  actions,
  record,
  InteractionPredictor,
  extractWindowFeatures,
  windowActionCount,
  FEATURE_NAMES,
  loadedBytes,
};

// The Dagster UI in headless Chromium (Debian's, driven by the playwright-core that browser/ pins):
// runs the actions of a JSON plan in order, keeps a screenshot of each, prints one JSON report.
//
//   node poppy_pipeline_tests/dagster_ui.mjs --url http://127.0.0.1:3000 --chromium /usr/bin/chromium \
//     --out test-artifacts/ui --plan '[{"action": "graph", "assets": ["users"]}, ...]'
//
// Actions: graph {location, groups} (each group's lineage shows its assets), figures {asset} (the
// asset page shows its figures on first paint, no click), checks {asset} (the status of each check
// in the asset's check list), node {location, group, asset} (the text of the asset's lineage node),
// check_partitions {asset, check} (the count of each status in a check's Partitions tab),
// materialize {asset, partition?} (the Materialize button launches a run), backfill {range} (the
// global lineage's "Materialize all" launches a backfill of every asset over a range, no config),
// page {path, expect} (opens a page, e.g. a run's, and waits for a text).
// Run by poppy_pipeline_tests/system/test_ui_browser.py.

import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(new URL('../../browser/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TIMEOUT_MS = Number(process.env.UI_TIMEOUT_MS || 90_000);

const { values: options } = parseArgs({
  options: { url: { type: 'string' }, chromium: { type: 'string' }, out: { type: 'string' }, plan: { type: 'string' } },
});
const plan = JSON.parse(options.plan);

async function open(page, path) {
  await page.goto(new URL(path, options.url).href, { waitUntil: 'load' });
}

const ACTIONS = {
  // Each group's lineage graph (the global one starts with groups collapsed) and the assets it shows.
  async graph(page, { location, groups }) {
    const shown = [];
    for (const [group, assets] of Object.entries(groups)) {
      await open(page, `/locations/${location}/asset-groups/${group}/lineage`);
      await page.getByText(new RegExp(`^(${assets.join('|')})$`)).filter({ visible: true }).first().waitFor();
      // A group with many links to other groups lays out taller than the window: zoom out until
      // every asset of the group is drawn (the graph draws only what is in view), at most 12 steps.
      const zoomOut = page.locator('button:has([aria-label="zoom_out"])').first();
      for (let step = 0; step < 12 && !(await allVisible(page, assets)); step++) {
        await zoomOut.click();
        await page.waitForTimeout(500);
      }
      for (const name of assets) if (await visible(page, name).count()) shown.push(name);
    }
    return { shown };
  },

  // The asset page as it first paints (no click, no scroll): its figures, served by the webserver
  // from the run's logs; where the first one starts and how many the browser decoded.
  async figures(page, { asset }) {
    await open(page, `/assets/${asset}`);
    const images = page.locator('img[src^="/logs/"]');
    await images.first().waitFor();
    const top = (await images.first().boundingBox()).y;
    await page.waitForFunction(
      () => [...document.querySelectorAll('img[src^="/logs/"]')].every((img) => img.complete),
    );
    const sizes = await images.evaluateAll((all) => all.map((img) => [img.naturalWidth, img.naturalHeight]));
    return {
      images: sizes.filter(([width, height]) => width > 0 && height > 0).length,
      first_top: top,
      viewport_height: page.viewportSize().height,
    };
  },

  // The asset's Checks tab: each check in the list with the status shown under its name.
  async checks(page, { asset }) {
    await open(page, `/assets/${asset}?view=checks`);
    const rows = page.locator('[class*="checkRow"]');
    await rows.first().waitFor();
    const statuses = {};
    for (const row of await rows.all()) {
      const name = await row.locator('[title]').first().getAttribute('title');
      const lines = (await row.innerText()).split('\n').map((line) => line.trim()).filter(Boolean);
      statuses[name] = lines[lines.length - 1];
    }
    return { statuses };
  },

  // The asset's node in its group's lineage, e.g. "Asset checks 2 / 2 Passed".
  async node(page, { location, group, asset }) {
    await open(page, `/locations/${location}/asset-groups/${group}/lineage`);
    const node = page.locator('div', { hasText: asset }).filter({ hasText: 'Asset checks' }).last();
    await node.waitFor();
    let text = '';
    for (const deadline = Date.now() + TIMEOUT_MS; Date.now() < deadline; await page.waitForTimeout(500)) {
      text = (await node.innerText()).replace(/\s+/g, ' ');
      if (/Asset checks \d+ \/ \d+/.test(text)) break; // the counts arrive after the node
    }
    return { text };
  },

  // A check's Partitions tab: how many days show each status.
  async check_partitions(page, { asset, check }) {
    await open(page, `/assets/${asset}?view=checks`);
    await page.locator(`[class*="checkRow"] [title="${check}"]`).first().click();
    await page.locator('button[role=tab]', { hasText: 'Partitions' }).click(); // the check's, not the asset's
    await page.getByText(/Passed \(\d+\)/).first().waitFor();
    const counts = {};
    for (const status of ['Passed', 'Failed', 'Skipped', 'Missing', 'In Progress', 'Execution Failed']) {
      const label = await page.getByText(new RegExp(`^${status} \\(\\d+\\)$`)).first().innerText();
      counts[status] = Number(label.match(/\((\d+)\)/)[1]);
    }
    return { counts };
  },

  // The global lineage's "Materialize all": every asset, a range of days typed into the dialog, no
  // config; the toast names the backfill.
  async backfill(page, { range }) {
    await open(page, '/asset-groups');
    await page.getByText('Materialize all').first().click();
    const dialog = page.getByRole('dialog').last();
    const input = dialog.locator('input[type=text]').first();
    await input.fill(range);
    await input.press('Enter');
    await dialog.getByText(/^\d+ partitions?$/).first().waitFor();
    await dialog.getByRole('button', { name: 'Launch backfill' }).click();
    const toast = page.getByText(/Created backfill/).first();
    await toast.waitFor();
    return { launched: await toast.innerText() };
  },

  // The asset page's Materialize button; for a partitioned asset, one partition typed in its dialog.
  async materialize(page, { asset, partition }) {
    await open(page, `/assets/${asset}`);
    await page.locator('button', { hasText: /^Materialize/ }).first().click();
    if (partition) {
      const dialog = page.getByRole('dialog').last();
      const input = dialog.locator('input[type=text]').first();
      await input.fill(partition);
      await input.press('Enter');
      await dialog.getByRole('button', { name: 'Launch 1 run' }).click();
    }
    const toast = page.getByText(/Launched run|View run|Run launched/).first();
    await toast.waitFor();
    return { launched: await toast.innerText() };
  },

  async page(page, { path, expect }) {
    await open(page, path);
    await page.getByText(expect).first().waitFor();
    return { found: await page.getByText(expect).count() };
  },
};

async function allVisible(page, names) {
  for (const name of names) if (!(await visible(page, name).count())) return false;
  return true;
}

function visible(page, text) {
  return page.getByText(text, { exact: true }).filter({ visible: true });
}

const browser = await chromium.launch({ executablePath: options.chromium, headless: true, args: CHROMIUM_ARGS });
const report = { chromium: browser.version(), results: [], page_errors: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  page.setDefaultTimeout(TIMEOUT_MS);
  // The UI asks, at a moment of its choosing, to join its community: whenever it does, skip.
  await page.addLocatorHandler(page.getByText('Join the Dagster community'), async () => {
    await page.getByRole('button', { name: 'Skip' }).click();
  });
  page.on('pageerror', (error) => report.page_errors.push(String(error)));
  for (const [index, step] of plan.entries()) {
    const result = { ...step };
    try {
      Object.assign(result, await ACTIONS[step.action](page, step));
    } catch (error) {
      result.error = String(error.message || error);
    }
    result.screenshot = `${options.out}/${String(index + 1).padStart(2, '0')}-${step.action}-${step.asset || 'run'}.png`;
    await page.screenshot({ path: result.screenshot, fullPage: false }).catch(() => {});
    report.results.push(result);
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));

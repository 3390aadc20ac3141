// The Dagster UI in headless Chromium (Debian's, driven by the playwright-core that browser/ pins):
// runs the actions of a JSON plan in order, keeps a screenshot of each, prints one JSON report.
//
//   node poppy_pipeline_tests/dagster_ui.mjs --url http://127.0.0.1:3000 --chromium /usr/bin/chromium \
//     --out test-artifacts/ui --plan '[{"action": "graph", "assets": ["users"]}, ...]'
//
// Actions: graph {assets} (the lineage lists them), figures {asset} (the asset page's Markdown
// metadata shows its images), materialize {asset, partition?} (the Materialize button launches a
// run), page {path, expect?} (opens a page, e.g. a run, and waits for a text). Run by
// poppy_pipeline_tests/test_ui_browser.py.

import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(new URL('../browser/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const TIMEOUT_MS = 90_000;

const { values: options } = parseArgs({
  options: { url: { type: 'string' }, chromium: { type: 'string' }, out: { type: 'string' }, plan: { type: 'string' } },
});
const plan = JSON.parse(options.plan);

async function open(page, path) {
  await page.goto(new URL(path, options.url).href, { waitUntil: 'load' });
  // The first visit asks to join the community: dismiss it.
  const skip = page.getByRole('button', { name: 'Skip' });
  if (await skip.isVisible({ timeout: 3000 }).catch(() => false)) await skip.click();
}

const ACTIONS = {
  async graph(page, { assets }) {
    await open(page, '/asset-groups');
    await page.getByText(assets[0], { exact: true }).first().waitFor();
    await page.waitForLoadState('networkidle');
    const shown = [];
    for (const name of assets) {
      if (await page.getByText(name, { exact: true }).count()) shown.push(name);
    }
    return { shown };
  },

  async figures(page, { asset }) {
    await open(page, `/assets/${asset}`);
    await page.getByText('Metadata', { exact: true }).first().waitFor();
    const show = page.getByText(/Show Markdown/).first();
    if (await show.isVisible({ timeout: 10_000 }).catch(() => false)) await show.click();
    const images = page.locator('img[src^="data:image/png"]');
    await images.first().waitFor();
    const sizes = await images.evaluateAll((all) => all.map((img) => [img.naturalWidth, img.naturalHeight]));
    return { images: sizes.filter(([width, height]) => width > 0 && height > 0).length };
  },

  async materialize(page, { asset, partition }) {
    await open(page, `/assets/${asset}`);
    await page.getByRole('button', { name: /^Materialize/ }).first().click();
    if (partition) {
      const dialog = page.getByRole('dialog').last();
      const input = dialog.locator('input[type=text]').first();
      await input.fill(partition);
      await input.press('Enter');
      await dialog.getByRole('button', { name: 'Launch 1 run' }).click();
    }
    // Launched: the UI says so in a toast that links to the run.
    const toast = page.getByText(/Launched run|Run launched|View run/).first();
    await toast.waitFor();
    return { launched: await toast.innerText() };
  },

  async page(page, { path, expect }) {
    await open(page, path);
    if (expect) await page.getByText(expect).first().waitFor();
    return { found: expect ? await page.getByText(expect).count() : 0 };
  },
};

const browser = await chromium.launch({ executablePath: options.chromium, headless: true, args: CHROMIUM_ARGS });
const report = { chromium: browser.version(), results: [], page_errors: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  page.setDefaultTimeout(TIMEOUT_MS);
  page.on('pageerror', (error) => report.page_errors.push(String(error)));
  for (const [index, step] of plan.entries()) {
    const result = { ...step };
    try {
      Object.assign(result, await ACTIONS[step.action](page, step));
    } catch (error) {
      result.error = String(error.message || error);
    }
    result.screenshot = `${options.out}/${String(index + 1).padStart(2, '0')}-${step.action}-${step.asset || 'page'}.png`;
    await page.screenshot({ path: result.screenshot, fullPage: false }).catch(() => {});
    report.results.push(result);
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));

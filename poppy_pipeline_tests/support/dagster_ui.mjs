// The Dagster UI in headless Chromium (Debian's, driven by the playwright-core that browser/ pins):
// runs the actions of a JSON plan in order, keeps a screenshot of each, prints one JSON report.
//
//   node poppy_pipeline_tests/dagster_ui.mjs --url http://127.0.0.1:3000 --chromium /usr/bin/chromium \
//     --out test-artifacts/ui --plan '[{"action": "graph", "assets": ["users"]}, ...]'
//
// Actions: graph {location, groups} (each group's lineage shows its assets), figures {asset} (the
// asset page's Markdown metadata shows its images), materialize {asset, partition?} (the Materialize
// button launches a run), page {path, expect} (opens a page, e.g. a run's, and waits for a text).
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
      await visible(page, assets[0]).first().waitFor();
      for (const name of assets) if (await visible(page, name).count()) shown.push(name);
    }
    return { shown };
  },

  // The asset page's Markdown metadata, opened: how many of its PNG figures the browser decoded.
  async figures(page, { asset }) {
    await open(page, `/assets/${asset}`);
    await page.getByText('[Show Markdown]').first().click();
    const images = page.locator('img[src^="data:image/png"]');
    await images.first().waitFor();
    const sizes = await images.evaluateAll((all) => all.map((img) => [img.naturalWidth, img.naturalHeight]));
    return { images: sizes.filter(([width, height]) => width > 0 && height > 0).length };
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

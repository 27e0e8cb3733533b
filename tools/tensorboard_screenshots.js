// Headless-Chromium half of tools/tensorboard_screenshots.py: opens a running TensorBoard and saves
// one PNG per requested dashboard. Run through the Python script, which starts TensorBoard and passes
// one JSON argument:
//   {"url": "http://127.0.0.1:PORT/", "chromium": "/usr/bin/chromium", "userDataDir": "/tmp/...",
//    "width": 1400, "height": 900, "timeoutMs": 60000,
//    "shots": [{"dashboard": "graphs", "file": "/abs/out.png", "expand": ["hidden1"]}, ...]}
// Needs playwright-core from npm (NODE_PATH pointing at its node_modules); no Playwright browser
// download: it drives the system Chromium given in "chromium".
'use strict';
const { chromium } = require('playwright-core');

// Without the background-networking flags Chromium keeps dialling Google services, which a closed
// network refuses; --no-sandbox because this usually runs as root in a container.
const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// What "the real content is drawn" means per dashboard. Every dashboard stays in TensorBoard's DOM
// once visited, so each selector is scoped to its own dashboard element (Playwright's CSS engine
// pierces the open shadow roots of TensorBoard's Polymer elements).
const CONTENT = {
  scalars: 'tf-scalar-dashboard vz-line-chart2 path.line[d*="L"]',
  graphs: 'tf-graph-dashboard g.node',
  images: 'tf-image-dashboard tf-image-loader img',
  histograms: 'tf-histogram-dashboard g.histogram path.outline',
  distributions: 'tf-distribution-dashboard vz-distribution-chart path.area',
  text: 'tf-text-dashboard tf-text-loader paper-material',
};

// Waits until `locator` matches something and its count stops changing (charts and cards arrive one
// request at a time), then lets the last transition finish.
async function waitUntilSettled(page, locator, timeoutMs) {
  await locator.first().waitFor({ state: 'attached', timeout: timeoutMs });
  const deadline = Date.now() + timeoutMs;
  let last = -1, stable = 0;
  while (stable < 3 && Date.now() < deadline) {
    const n = await locator.count();
    stable = n === last ? stable + 1 : 0;
    last = n;
    await page.waitForTimeout(300);
  }
  await page.waitForLoadState('networkidle', { timeout: timeoutMs }).catch(() => {});
}

async function waitForImagesDecoded(locator, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const done = await locator.evaluateAll(imgs => imgs.every(i => i.complete && i.naturalWidth > 0));
    if (done) return;
    await new Promise(r => setTimeout(r, 200));
  }
  throw new Error('images did not finish loading');
}

// Expands a name-scope node of the graph (what double-clicking it does in the UI) and waits for its
// children to be laid out. TensorBoard then selects it, pans to it and opens its info card.
async function expandGraphNode(page, name, timeoutMs) {
  const node = page.locator(`tf-graph-dashboard g.node[data-name="${name}"]`).first();
  await node.waitFor({ state: 'attached', timeout: timeoutMs });
  const shape = node.locator('.nodeshape').first();
  await shape.dblclick();
  const children = page.locator(`tf-graph-dashboard g.node[data-name^="${name}/"]`);
  await waitUntilSettled(page, children, timeoutMs);
  await page.evaluate(() => document.getSelection().removeAllRanges());  // the double click selects text
  await zoomToFill(page, shape);
}

// TensorBoard shows an expanded node at its overview scale, where the edge shape labels (100×784...)
// are barely legible: zoom in with the mouse wheel, centred on the node, while it still fits.
async function zoomToFill(page, shape) {
  const area = await page.locator('tf-graph-dashboard tf-graph-scene').first().boundingBox();
  const fits = b => b.width <= 0.8 * area.width && b.height <= 0.8 * area.height;
  let box = await shape.boundingBox();
  for (let step = 0; step < 8 && fits(box); step++) {
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.wheel(0, -100);
    await page.waitForTimeout(250);  // d3's zoom transition
    const zoomed = await shape.boundingBox();
    if (!fits(zoomed)) {
      await page.mouse.wheel(0, 100);
      await page.waitForTimeout(250);
      break;
    }
    box = zoomed;
  }
  // A click on empty canvas drops the selection (red frame and info card over the graph) and moves
  // the pointer off the nodes, so no hover highlight lands in the picture either.
  await page.mouse.click(area.x + 5, area.y + area.height - 5);
  await page.waitForTimeout(250);
}

async function takeShot(context, cfg, shot) {
  const page = await context.newPage();
  try {
    await page.goto(cfg.url + '#' + shot.dashboard, { timeout: cfg.timeoutMs });
    const content = page.locator(CONTENT[shot.dashboard]);
    await waitUntilSettled(page, content, cfg.timeoutMs);
    if (shot.dashboard === 'images') await waitForImagesDecoded(content, cfg.timeoutMs);
    for (const name of shot.expand || []) await expandGraphNode(page, name, cfg.timeoutMs);
    await page.screenshot({ path: shot.file });
    console.log('wrote ' + shot.file);
  } finally {
    await page.close();
  }
}

async function main() {
  const cfg = JSON.parse(process.argv[2]);
  const unknown = cfg.shots.map(s => s.dashboard).filter(d => !(d in CONTENT));
  if (unknown.length) throw new Error('unknown dashboard(s): ' + unknown.join(', '));
  const context = await chromium.launchPersistentContext(cfg.userDataDir, {
    executablePath: cfg.chromium, headless: true, args: CHROMIUM_FLAGS,
    viewport: { width: cfg.width, height: cfg.height },
  });
  let failures = 0;
  try {
    for (const shot of cfg.shots) {
      try {
        await takeShot(context, cfg, shot);
      } catch (err) {
        failures += 1;
        console.error(`failed: ${shot.file} (${shot.dashboard}): ${err.message.split('\n')[0]}`);
      }
    }
  } finally {
    await context.close();
  }
  process.exitCode = failures ? 1 : 0;
}

main().catch(err => { console.error(err.stack || String(err)); process.exitCode = 2; });

// bench:report's browser part: the enterprise review page opened from disk in Debian's Chromium
// (playwright-core, as test/compiler/report-page.test.ts does), used as an auditor would, with the
// time each step takes until the page shows its result. "Usable at that size" in numbers: the page
// opens, a filter narrows 1.8M grant rows, a column sorts and the next page shows.
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
const STEP_TIMEOUT_MS = 600_000;

export interface BrowserReport {
  openMs: number;
  /** Typing a principal's name until the grants table counts the filtered rows (the page waits 150 ms after typing). */
  filterMs: number;
  /** Sorting the filtered grants by their first column. */
  sortMs: number;
  /** Clearing the filter until all rows are back, then sorting all of them. */
  unfilterMs: number;
  sortAllMs: number;
  nextPageMs: number;
  heapMb: number;
  /** Requests the page made other than its own file (must be 0). */
  requests: number;
}

export async function measureInBrowser(htmlPath: string, principal: string): Promise<BrowserReport | null> {
  if (!existsSync(CHROMIUM)) {
    process.stderr.write(`${CHROMIUM} not found (apt-get install chromium): no browser rows\n`);
    return null;
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    const url = pathToFileURL(htmlPath).href;
    let requests = 0;
    page.on('request', (request) => {
      if (request.url() !== url) requests++;
    });
    const count = () => page.locator('#grants .pager .count').textContent();
    const until = async (test: () => Promise<boolean>): Promise<void> => {
      const deadline = Date.now() + STEP_TIMEOUT_MS;
      while (!(await test())) {
        if (Date.now() > deadline) throw new Error('the page did not answer within 10 minutes');
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const timed = async (step: () => Promise<void>): Promise<number> => {
      const t = performance.now();
      await step();
      return performance.now() - t;
    };

    const openMs = await timed(async () => {
      await page.goto(url, { timeout: STEP_TIMEOUT_MS });
      await page.waitForSelector('body[data-ready="true"]', { timeout: STEP_TIMEOUT_MS });
    });
    const all = (await count()) ?? '';
    const filterMs = await timed(async () => {
      await page.fill('#filter-principal', principal);
      await until(async () => ((await count()) ?? '').includes('filtered from'));
    });
    const header = page.locator('#grants thead th').first();
    const sortMs = await timed(async () => {
      await header.locator('button').click();
      await until(async () => (await header.getAttribute('aria-sort')) === 'ascending');
    });
    const unfilterMs = await timed(async () => {
      await page.fill('#filter-principal', '');
      await until(async () => (await count()) === all);
    });
    const sortAllMs = await timed(async () => {
      await header.locator('button').click();
      await until(async () => (await header.getAttribute('aria-sort')) === 'descending');
    });
    const nextPageMs = await timed(async () => {
      await page.locator('#grants .pager button', { hasText: 'next' }).click();
      await until(async () => ((await count()) ?? '').startsWith('rows 101'));
    });
    const heap = (await page.evaluate('performance.memory.usedJSHeapSize')) as number;
    return { openMs, filterMs, sortMs, unfilterMs, sortAllMs, nextPageMs, heapMb: heap / 2 ** 20, requests };
  } finally {
    await browser.close();
  }
}

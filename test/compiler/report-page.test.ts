// The access review page in a real browser: Debian's Chromium driven by playwright-core (never a
// downloaded browser). The page is rendered from the golden report of report-access.test.ts (built
// from a real git history), opened from disk, and used as an auditor would: rows visible, filters
// narrow them, columns sort, a second page exists past 100 rows, hostile text stays text, printing
// hides the controls, and the page makes no request but its own file. A screenshot is kept under
// test-results/ (gitignored) and its path printed.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtml } from '../../compiler/report/render-html.ts';
import type { AccessReport } from '../../schemas/types.generated.ts';
import { scaled } from '../support/time-scale.ts';

const GOLDEN = join(import.meta.dirname, 'report-golden', 'access-report.json');
const SCREENSHOT = join(import.meta.dirname, '..', '..', 'test-results', 'report-access.png');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

let browser: Browser;
let dir: string;
let report: AccessReport;
const requests: string[] = [];

/** Writes the page for `data` and opens it; every request the page makes is recorded. */
async function open(data: AccessReport, name: string): Promise<{ page: Page; url: string }> {
  const path = join(dir, name);
  await writeFile(path, renderHtml(data));
  const url = pathToFileURL(path).href;
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('request', (request) => requests.push(request.url()));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: scaled(10_000) });
  return { page, url };
}

const cells = (page: Page, section: string, column: number) =>
  page.$$eval(`#${section} tbody tr`, (rows, c) => rows.map((r) => r.children[c]!.textContent ?? ''), column);

const typeFilter = async (page: Page, name: string, text: string, expectedRows: number) => {
  await page.fill(`#filter-${name}`, text);
  // The filter applies after a short pause in typing: wait for its evidence, the row count. (Polled
  // from here: the page's CSP forbids the eval that waitForFunction would need.)
  await expect.poll(async () => (await page.$$('#grants tbody tr')).length, { timeout: scaled(5_000) }).toBe(expectedRows);
};

beforeAll(async () => {
  report = JSON.parse(await readFile(GOLDEN, 'utf8')) as AccessReport;
  dir = await mkdtemp(join(tmpdir(), 'mg-report-page-'));
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: scaled(30_000) });
});

afterAll(async () => {
  await browser?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('the access review page in Chromium', () => {
  it('shows the expected rows, filters, sorts, keeps hostile text as text and requests nothing', async () => {
    const { page, url } = await open(report, 'access.html');
    const principals = await cells(page, 'grants', 0);
    expect(principals).toHaveLength(report.grants.length);
    expect(principals.filter((p) => p === 'carol')).toHaveLength(6);
    const rows = await page.$$eval('#grants tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
    expect(rows.some((r) => r.includes('carol-prod-trial') && r.includes('#8') && r.includes('heidi, ivan'))).toBe(true);
    expect(await page.locator('#summary').textContent()).toContain('grants expiring within 30 days1');

    // The hostile rule description is shown as text, and none of its markup ran.
    expect(rows.some((r) => r.includes('<img src=x onerror="window.__xss=1"></script><script>window.__xss=2</script>'))).toBe(true);
    expect(await page.evaluate('typeof window.__xss')).toBe('undefined');
    expect(await page.$$('#grants img')).toHaveLength(0);

    await typeFilter(page, 'principal', 'carol', 6);
    expect(new Set(await cells(page, 'grants', 0))).toEqual(new Set(['carol']));
    await typeFilter(page, 'model', 'azure-prod', 1);
    expect(await cells(page, 'grants', 5)).toEqual(['carol-prod-trial']);
    await typeFilter(page, 'model', '', 6);
    await typeFilter(page, 'principal', '', report.grants.length);
    // Team: the members of ml-platform (alice, bob, carol).
    const members = report.grants.filter((g) => ['alice', 'bob', 'carol'].includes(report.principals[g.principal]!.name)).length;
    await typeFilter(page, 'team', 'ml-platform', members);
    await typeFilter(page, 'team', '', report.grants.length);
    await typeFilter(
      page,
      'account',
      'openai-main',
      report.grants.filter((g) => (g.models ?? report.rules[g.rule]!.models).some((m) => report.models[m]!.account === 'openai-main')).length,
    );
    await typeFilter(page, 'account', '', report.grants.length);

    // Sorting: by principal, then the other way.
    const names = report.grants.map((g) => report.principals[g.principal]!.name);
    await page.click('#grants th:nth-child(1) button');
    expect(await cells(page, 'grants', 0)).toEqual([...names].sort());
    expect(await page.getAttribute('#grants th:nth-child(1)', 'aria-sort')).toBe('ascending');
    await page.click('#grants th:nth-child(1) button');
    expect(await cells(page, 'grants', 0)).toEqual([...names].sort().reverse());
    expect(await page.getAttribute('#grants th:nth-child(1)', 'aria-sort')).toBe('descending');
    // The models table sorts numbers as numbers.
    await page.click('#models th:nth-child(4) button');
    const counts = (await cells(page, 'models', 3)).map(Number);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));

    // The sign-off block, then the print stylesheet: controls hidden, the block kept.
    await page.fill('#sign-reviewer', 'Rita Reviewer');
    await page.check('input[name="decision"][value="approved"]');
    await mkdir(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`report screenshot: ${SCREENSHOT}`);
    await page.emulateMedia({ media: 'print' });
    expect(await page.locator('.filters').isVisible()).toBe(false);
    expect(await page.locator('#sign-off').isVisible()).toBe(true);

    expect(requests.length).toBeGreaterThan(0);
    expect(requests.every((r) => r === url)).toBe(true);
    await page.close();
  });

  it('pages through many rows, 100 at a time', async () => {
    // The golden rows repeated: 17 x 12 rows.
    const big: AccessReport = { ...report, grants: Array.from({ length: 12 }, () => report.grants).flat() };
    const { page, url } = await open(big, 'big.html');
    expect(await page.$$('#grants tbody tr')).toHaveLength(100);
    expect(await page.locator('#grants .pager').textContent()).toContain(`rows 1–100 of ${big.grants.length}`);
    await page.click('#grants .pager button:has-text("next")');
    await page.click('#grants .pager button:has-text("next")');
    expect(await page.$$('#grants tbody tr')).toHaveLength(big.grants.length - 200);
    expect(await page.locator('#grants .pager').textContent()).toContain(`rows 201–${big.grants.length} of ${big.grants.length}`);
    expect(requests.filter((r) => r.endsWith('big.html')).every((r) => r === url)).toBe(true);
    await page.close();
  });
});

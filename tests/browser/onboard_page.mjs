// onboard_page.mjs — drives the KMS onboarding page (src/kms/onboard_page.c)
// in a real, headless Debian Chromium through playwright-core (no browser is
// downloaded: executablePath /usr/bin/chromium). Run by
// tests/integration/test_onboard_page.sh.
//
// Usage: node onboard_page.mjs ONBOARD_URL DOMAIN SCREENSHOT_PNG [PROFILE_DIR]
//   ONBOARD_URL     e.g. http://127.0.0.1:8000/ (the onboard service)
//   DOMAIN          typed into #bdomain before Bootstrap
//   SCREENSHOT_PNG  full-page screenshot taken after Bootstrap
//   PROFILE_DIR     fresh Chromium --user-data-dir (default: a new temp dir)
//
// Steps: open the page; record every request it makes (any to another origin
// than the page's own is blocked and fails the run: the page must work
// air-gapped); wait for #info to show this KMS's attestation; type the domain,
// click Bootstrap, wait for "k256_pubkey:" in #result; screenshot; click
// Finish, wait for "Finished". Every wait is bounded.
// Prints on stdout: "request: <method> <url>" per request, "requests=N",
// "external_requests=N", "info=<first line of #info>", "k256_pubkey=<hex>",
// "screenshot=<path>", "finished=yes". Exit 0 on success, 1 with
// "onboard_page: <why>" on stderr on any failure, 2 on bad usage.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const STEP_MS = 30000; // bound of each single wait
const TOTAL_MS = 120000; // bound of the whole run

const [url, domain, shotPath, profileArg] = process.argv.slice(2);
if (!url || !domain || !shotPath) {
  process.stderr.write('usage: node onboard_page.mjs ONBOARD_URL DOMAIN SCREENSHOT_PNG [PROFILE_DIR]\n');
  process.exit(2);
}
const origin = new URL(url).origin;
const profile = profileArg || mkdtempSync(join(tmpdir(), 'onboard-page-chromium-'));

let context = null;
let step = 'start';
const requests = [];
const external = [];
const pageErrors = [];

async function bail(why) {
  process.stderr.write(`onboard_page: ${why} (step: ${step})\n`);
  for (const r of external) process.stderr.write(`onboard_page: external request: ${r}\n`);
  try {
    if (context) await Promise.race([context.close(), new Promise((res) => setTimeout(res, 5000))]);
  } catch (e) {
    /* already gone */
  }
  if (!profileArg) rmSync(profile, { recursive: true, force: true });
  process.exit(1);
}

const watchdog = setTimeout(() => bail(`the whole run took longer than ${TOTAL_MS / 1000} s`), TOTAL_MS);

// the text of sel once it includes one of `any` (or, with notPrefix, once it no
// longer starts with it), or shows an error (class "err"); bounded by STEP_MS
async function waitText(page, sel, { any = [], notPrefix = null }, what) {
  try {
    await page.waitForFunction(
      ({ s, anyOf, np }) => {
        const e = document.querySelector(s);
        if (!e) return false;
        const t = e.textContent;
        if (e.className === 'err') return true;
        if (np !== null && !t.startsWith(np)) return true;
        return anyOf.some((n) => t.includes(n));
      },
      { s: sel, anyOf: any, np: notPrefix },
      { timeout: STEP_MS, polling: 100 },
    );
  } catch (e) {
    const now = await page.textContent(sel, { timeout: 2000 }).catch(() => '?');
    await bail(`${what}: not seen within ${STEP_MS / 1000} s; ${sel} shows ${JSON.stringify(now)}`);
  }
  return page.textContent(sel);
}

try {
  step = 'launch chromium';
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    timeout: STEP_MS,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1000, height: 800 },
  });
  context.setDefaultTimeout(STEP_MS);
  context.setDefaultNavigationTimeout(STEP_MS);

  // every request of every page of this context: own origin goes on, any other is refused
  await context.route('**/*', (route) => {
    const req = route.request();
    const u = req.url();
    let o = '';
    try {
      o = new URL(u).origin;
    } catch (e) {
      o = u;
    }
    requests.push(`${req.method()} ${u}`);
    if (o === origin) return route.continue();
    external.push(`${req.method()} ${u}`);
    return route.abort('blockedbyclient');
  });

  const page = context.pages()[0] || (await context.newPage());
  page.on('pageerror', (e) => pageErrors.push(String(e && e.message ? e.message : e)));
  // the page's own Content-Security-Policy must not have to refuse anything it does
  page.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) pageErrors.push(msg.text());
  });

  step = 'open the page';
  const resp = await page.goto(url, { waitUntil: 'load', timeout: STEP_MS });
  if (!resp || !resp.ok()) await bail(`GET ${url} answered ${resp ? resp.status() : 'nothing'}`);
  const title = await page.title();
  if (title !== 'dstack KMS onboarding') await bail(`unexpected page title ${JSON.stringify(title)}`);
  const noExternal = () =>
    external.length ? bail(`${external.length} request(s) to an origin other than ${origin}`) : null;
  await noExternal();

  step = 'attestation info';
  const info = await waitText(page, '#info', { notPrefix: 'loading' }, 'the attestation info (#info)');
  if (!info.includes('tee_variant:') || info.startsWith('no attestation'))
    await bail(`#info shows no attestation: ${JSON.stringify(info)}`);

  await noExternal();

  step = 'bootstrap';
  await page.fill('#bdomain', domain);
  await page.click('#bootstrap');
  const res = await waitText(
    page,
    '#result',
    { any: ['k256_pubkey:'] },
    'the Bootstrap result (k256_pubkey: in #result)',
  );
  const m = /k256_pubkey: ([0-9a-f]{66})\b/.exec(res);
  if (!m) await bail(`Bootstrap failed or showed no 66-hex k256_pubkey: ${JSON.stringify(res)}`);

  step = 'screenshot';
  await page.screenshot({ path: shotPath, fullPage: true, timeout: STEP_MS });

  step = 'finish';
  await page.click('#finish');
  const fin = await waitText(page, '#result', { any: ['Finished'] }, 'the Finish answer');
  if (!fin.includes('Finished')) await bail(`Finish failed: ${JSON.stringify(fin)}`);

  step = 'report';
  if (pageErrors.length) await bail(`the page threw: ${pageErrors.join(' | ')}`);
  await noExternal();
  for (const r of requests) console.log(`request: ${r}`);
  console.log(`requests=${requests.length}`);
  console.log(`external_requests=${external.length}`);
  console.log(`info=${info.split('\n')[0]}`);
  console.log(`k256_pubkey=${m[1]}`);
  console.log(`screenshot=${shotPath}`);
  console.log('finished=yes');

  step = 'close chromium';
  await Promise.race([context.close(), new Promise((res) => setTimeout(res, 10000))]);
  context = null;
  if (!profileArg) rmSync(profile, { recursive: true, force: true });
  clearTimeout(watchdog);
  process.exit(0);
} catch (e) {
  await bail(String(e && e.message ? e.message.split('\n')[0] : e));
}

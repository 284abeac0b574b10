#!/usr/bin/env node
// The ipfsd HTTP gateway in a real browser: Debian's headless Chromium (/usr/bin/chromium),
// driven by playwright-core, browses the test site (tests/fixtures/site/, added to the
// node by the caller) and checks what a person would see:
//
//   index     /ipfs/<cid>/ renders: the stylesheet's colours are applied, the PNG is
//             decoded, the script ran, every part has the Content-Type of its extension
//   about     a relative link into pages/ loads the subpage (its ../ links work), and its
//   back      link back returns to the start page
//   video     video.html: the WebM's metadata loads, the element seeks forward and back
//             (the gateway answers byte ranges: the media requests get 206), no media error
//   listing   /ipfs/<cid>/files (no slash) redirects 301 to files/, whose HTML listing
//             links every entry; clicking "sub" lists it, its ".." link goes back, and a
//             file entry opens the file
//   subdomain http://<cidv1>.ipfs.localhost:<port>/ serves the same site, relative links
//             and listings included
//   dag.view  (with DAG_CID) /ipfs/<dag-cbor node> shows the gateway's HTML view of the
//             node: its hostile keys and strings are text (no element, no script ran),
//             and its download links are there
//   dag.link  clicking the node's link to the site opens the site
//
//   node tests/interop/browser.mjs GATEWAY_URL ROOT_CID OUTDIR [DAG_CID]
//
// GATEWAY_URL is http://127.0.0.1:PORT (or http://localhost:PORT). A PNG screenshot of each
// step goes to OUTDIR. Prints ONE JSON line {"ok", "checks", "screenshots", ...} on
// stdout; progress and the reason of a failure on stderr. Exit 0 all checks passed, 1 a
// check failed (the JSON names it), 2 usage, 3 playwright-core or Chromium missing (run
// scripts/setup-peers.sh).
//
// Nothing leaves loopback: every request that is not to 127.0.0.1, localhost or
// *.localhost is aborted (context.route), and the browser's own proxy setting sends any
// other traffic to a closed port on 127.0.0.1. Every wait is bounded, and a watchdog ends
// the whole run.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const CHROMIUM = '/usr/bin/chromium';
/** The video as it is in the fixture the caller added (tests/fixtures/site/). */
const CLIP_ON_DISK = fileURLToPath(new URL('../fixtures/site/media/clip.webm', import.meta.url));
const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Longest wait for one action or assertion in the page. */
const ACTION_TIMEOUT_MS = 10_000;
/** Longest wait for one navigation. */
const NAV_TIMEOUT_MS = 15_000;
/** The whole run, browser start included. */
const WATCHDOG_MS = 80_000;

// What the fixture's stylesheet sets (tests/fixtures/site/style.css).
const TITLE_COLOUR = 'rgb(250, 200, 40)';
const BANNER_COLOUR = 'rgb(18, 82, 120)';
const LOGO_SIZE = 96;
const VIDEO_SECONDS = 6;

const started = Date.now();
const checks = {};
const screenshots = [];
const blocked = [];
let current = 'start';
let browserVersion = null;

function log(msg) {
  process.stderr.write(`browser.mjs: ${msg}\n`);
}

let finished = false;

/** Prints the summary line (once: a late failure after the watchdog adds nothing). */
function finish(code, extra = {}) {
  if (finished) return code;
  finished = true;
  const summary = {
    ok: code === 0,
    ...extra,
    checks,
    screenshots,
    blocked,
    chromium: browserVersion,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
  process.stdout.write(JSON.stringify(summary) + '\n');
  process.exitCode = code;
  return code;
}

function usage(msg) {
  log(msg);
  log('usage: node browser.mjs GATEWAY_URL ROOT_CID OUTDIR');
  process.exit(finish(2, { error: msg }));
}

/** Throws a check failure with `msg` unless `cond`. */
function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}

function isLoopbackHost(host) {
  const h = host.toLowerCase();
  return h === '127.0.0.1' || h === 'localhost' || h.endsWith('.localhost');
}

// ------------------------------------------------------------------ arguments
const [baseArg, cidArg, outArg, dagArg] = process.argv.slice(2);
if (!baseArg || !cidArg || !outArg) usage('missing arguments');
let base;
try {
  base = new URL(baseArg);
} catch {
  usage(`not a URL: ${baseArg}`);
}
if (base.protocol !== 'http:' || !['127.0.0.1', 'localhost'].includes(base.hostname) || !base.port) {
  usage(`refusing ${baseArg}: only http://127.0.0.1:PORT or http://localhost:PORT`);
}
if (!/^[a-zA-Z0-9]+$/.test(cidArg)) usage(`not a CID: ${cidArg}`);
if (dagArg != null && !/^[a-zA-Z0-9]+$/.test(dagArg)) usage(`not a CID: ${dagArg}`);
const origin = `http://${base.hostname}:${base.port}`;
const siteRoot = `${origin}/ipfs/${cidArg}/`;
const outDir = resolve(outArg);
mkdirSync(outDir, { recursive: true });

// ------------------------------------------------------------------ dependencies
let chromium;
let CID;
try {
  ({ chromium } = await import('playwright-core'));
  ({ CID } = await import('multiformats/cid'));
} catch (e) {
  log(`cannot load playwright-core / multiformats (run scripts/setup-peers.sh): ${e.message}`);
  process.exit(finish(3, { error: `dependencies missing: ${e.message}` }));
}
if (!existsSync(CHROMIUM)) {
  log(`${CHROMIUM} is missing (run scripts/setup-peers.sh)`);
  process.exit(finish(3, { error: `${CHROMIUM} missing` }));
}

// The subdomain form needs a case-insensitive CIDv1 (base32).
let cidV1;
try {
  cidV1 = CID.parse(cidArg).toV1().toString();
} catch (e) {
  usage(`not a CID: ${cidArg} (${e.message})`);
}
const subOrigin = `http://${cidV1}.ipfs.localhost:${base.port}`;

// ------------------------------------------------------------------ browser
const userDataDir = mkdtempSync(join(tmpdir(), 'ipfsd-browser-'));
let context = null;

async function cleanup() {
  if (context) {
    const c = context;
    context = null;
    await Promise.race([c.close().catch(() => {}), new Promise((r) => setTimeout(r, 5_000))]);
  }
  rmSync(userDataDir, { recursive: true, force: true });
}

const watchdog = setTimeout(async () => {
  log(`FAILED: the run took longer than ${WATCHDOG_MS / 1000} s (step ${current})`);
  finish(1, { failed: current, error: `watchdog: no result within ${WATCHDOG_MS / 1000} s` });
  await cleanup();
  process.exit(1);
}, WATCHDOG_MS);

/** Every response the browser got: url, status, content type, request Range header. */
const responses = [];

function responsesFor(suffix) {
  return responses.filter((r) => new URL(r.url).pathname.endsWith(suffix));
}

function mimeOf(r) {
  return (r.contentType || '').split(';')[0].trim().toLowerCase();
}

/** The last response for a path ending in `suffix` must have had Content-Type `want`. */
function expectType(suffix, want) {
  const seen = responsesFor(suffix).filter((r) => r.status === 200 || r.status === 206);
  expect(seen.length > 0, `no successful response for ${suffix}`);
  const got = mimeOf(seen[seen.length - 1]);
  const okType = want instanceof RegExp ? want.test(got) : got === want;
  expect(okType, `${suffix} served as "${got}", expected ${want}`);
  return got;
}

/** Responses of the site (below `prefix`) with an error status since index `from`. */
function errorsSince(from) {
  return responses
    .slice(from)
    .filter((r) => r.status >= 400 && !r.url.endsWith('/favicon.ico'))
    .map((r) => `${r.status} ${r.url}`);
}

async function shot(page, name) {
  const path = join(outDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true, timeout: ACTION_TIMEOUT_MS });
  screenshots.push(`${name}.png`);
}

/** Runs one named check; its return value is recorded, a throw ends the run. */
async function step(name, fn) {
  current = name;
  const from = responses.length;
  log(`${name} ...`);
  const detail = await fn();
  const errors = errorsSince(from);
  expect(errors.length === 0, `error responses: ${errors.join(', ')}`);
  checks[name] = detail ?? true;
}

/** Navigates and expects status 200 at the end of any redirects. */
async function open(page, url) {
  const resp = await page.goto(url, { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
  expect(resp, `no response for ${url}`);
  expect(resp.status() === 200, `${url}: HTTP ${resp.status()}`);
  return resp;
}

/** Clicks an element and waits for the navigation it starts to reach `urlWanted`. */
async function clickTo(page, locator, urlWanted) {
  await Promise.all([
    page.waitForURL(urlWanted, { timeout: NAV_TIMEOUT_MS, waitUntil: 'load' }),
    locator.click({ timeout: ACTION_TIMEOUT_MS }),
  ]);
}

/** The rendered start page (or subpage): stylesheet colours, decoded logo, title text. */
async function rendered(page, title) {
  return page.evaluate(
    ({ title }) => {
      const t = document.getElementById('title');
      const banner = document.querySelector('.banner');
      const logo = document.getElementById('logo');
      return {
        title: t && t.textContent.trim(),
        titleWanted: title,
        titleColour: t && getComputedStyle(t).color,
        bannerColour: banner && getComputedStyle(banner).backgroundColor,
        logo: logo && { complete: logo.complete, width: logo.naturalWidth, height: logo.naturalHeight },
        js: document.getElementById('js-status')?.textContent.trim() ?? null,
        sheets: document.styleSheets.length,
      };
    },
    { title },
  );
}

function expectRendered(r, where, { script = false, logo = true } = {}) {
  expect(r.title === r.titleWanted, `${where}: title "${r.title}", expected "${r.titleWanted}"`);
  expect(
    r.titleColour === TITLE_COLOUR && r.bannerColour === BANNER_COLOUR,
    `${where}: stylesheet not applied (title colour ${r.titleColour}, banner ${r.bannerColour}; ` +
      `expected ${TITLE_COLOUR} / ${BANNER_COLOUR})`,
  );
  if (logo) {
    expect(r.logo && r.logo.complete && r.logo.width > 0, `${where}: the PNG did not load (${JSON.stringify(r.logo)})`);
    expect(r.logo.width === LOGO_SIZE, `${where}: the PNG decoded as ${r.logo.width} px wide, expected ${LOGO_SIZE}`);
  }
  if (script) expect(r.js === 'script ran', `${where}: site.js did not run ("${r.js}")`);
}

/** Index of the first link whose text, without a trailing slash, is `name`. */
async function linkNamed(page, name) {
  const i = await page.evaluate((name) => {
    const links = [...document.querySelectorAll('a[href]')];
    return links.findIndex((a) => a.textContent.trim().replace(/\/$/, '') === name);
  }, name);
  expect(i >= 0, `no link named "${name}" on ${page.url()}`);
  return page.locator('a[href]').nth(i);
}

/** The names the listing links to (link texts, trailing slash dropped). */
async function listed(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('a[href]')].map((a) => a.textContent.trim().replace(/\/$/, '')),
  );
}

async function expectListing(page, names, where) {
  const ct = await page.evaluate(() => document.contentType);
  expect(ct === 'text/html', `${where}: listing served as ${ct}, expected text/html`);
  const have = await listed(page);
  const missing = names.filter((n) => !have.includes(n));
  expect(missing.length === 0, `${where}: the listing lacks ${missing.join(', ')} (links: ${have.join(', ')})`);
  return have;
}

/** Seeks the page's video to `t` and waits for 'seeked' and a decoded frame. */
async function seek(page, t) {
  return page.evaluate(
    async ({ t, ms }) => {
      const v = document.getElementById('clip');
      const seeked = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no 'seeked' within ${ms} ms`)), ms);
        v.addEventListener('seeked', () => { clearTimeout(timer); resolve(); }, { once: true });
        v.addEventListener('error', () => { clearTimeout(timer); reject(new Error(`media error ${v.error?.code}: ${v.error?.message}`)); }, { once: true });
      });
      v.currentTime = t;
      await seeked;
      // A frame at the new position (HAVE_CURRENT_DATA), for the screenshot.
      const until = Date.now() + ms;
      while (v.readyState < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      return { currentTime: v.currentTime, readyState: v.readyState, error: v.error && v.error.code };
    },
    { t, ms: ACTION_TIMEOUT_MS },
  );
}

async function run() {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: LAUNCH_ARGS,
    // Anything the browser might send elsewhere goes to a closed port on loopback.
    proxy: { server: 'http://127.0.0.1:9', bypass: 'localhost,*.localhost,127.0.0.1' },
    viewport: { width: 900, height: 640 },
    timeout: 30_000,
    serviceWorkers: 'block',
  });
  browserVersion = context.browser()?.version() ?? null;
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(NAV_TIMEOUT_MS);
  await context.route('**/*', (route) => {
    const url = route.request().url();
    let host = '';
    try {
      host = new URL(url).hostname;
    } catch {}
    if (isLoopbackHost(host)) return route.continue();
    blocked.push(url);
    log(`blocked a request off loopback: ${url}`);
    return route.abort('blockedbyclient');
  });
  context.on('response', (resp) => {
    responses.push({
      url: resp.url(),
      status: resp.status(),
      contentType: resp.headers()['content-type'] || '',
      range: resp.request().headers()['range'] || null,
    });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));

  // ---------------------------------------------------------------- path gateway
  await step('index', async () => {
    const resp = await open(page, siteRoot);
    const r = await rendered(page, 'A static site on IPFS');
    await shot(page, '01-index');
    expectRendered(r, 'index', { script: true });
    const html = mimeOf({ contentType: resp.headers()['content-type'] });
    expect(html === 'text/html', `index served as "${html}", expected text/html`);
    return {
      url: resp.url(),
      titleColour: r.titleColour,
      logoWidth: r.logo.width,
      types: {
        html,
        css: expectType('/style.css', 'text/css'),
        png: expectType('/img/logo.png', 'image/png'),
        js: expectType('/site.js', /^(text|application)\/(x-)?javascript$/),
      },
    };
  });

  await step('about', async () => {
    await clickTo(page, page.locator('#to-about'), `${siteRoot}pages/about.html`);
    const r = await rendered(page, 'About');
    await shot(page, '02-about');
    expectRendered(r, 'pages/about.html');
    expectType('/pages/about.html', 'text/html');
    return { url: page.url(), logoWidth: r.logo.width };
  });

  await step('back', async () => {
    await clickTo(page, page.locator('#back'), `${siteRoot}index.html`);
    const r = await rendered(page, 'A static site on IPFS');
    await shot(page, '03-back');
    expectRendered(r, 'index.html via ../', { script: true });
    return { url: page.url() };
  });

  await step('video', async () => {
    await clickTo(page, page.locator('#to-video'), `${siteRoot}video.html`);
    const meta = await page.evaluate(async (ms) => {
      const v = document.getElementById('clip');
      if (v.readyState < 1) {
        await new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no 'loadedmetadata' within ${ms} ms (networkState ${v.networkState})`)), ms);
          v.addEventListener('loadedmetadata', () => { clearTimeout(timer); resolve(); }, { once: true });
          v.addEventListener('error', () => { clearTimeout(timer); reject(new Error(`media error ${v.error?.code}: ${v.error?.message}`)); }, { once: true });
        });
      }
      return { duration: v.duration, width: v.videoWidth, height: v.videoHeight, seekable: v.seekable.length ? v.seekable.end(0) : 0 };
    }, ACTION_TIMEOUT_MS);
    expect(
      Number.isFinite(meta.duration) && Math.abs(meta.duration - VIDEO_SECONDS) < 0.5,
      `video duration ${meta.duration}, expected about ${VIDEO_SECONDS} s`,
    );
    expect(meta.width === 160 && meta.height === 120, `video is ${meta.width}x${meta.height}, expected 160x120`);
    const forward = await seek(page, 4.5);
    await shot(page, '04-video-seeked');
    expect(forward.error === null, `media error ${forward.error} after seeking`);
    expect(Math.abs(forward.currentTime - 4.5) < 0.3, `seek to 4.5 s ended at ${forward.currentTime}`);
    expect(forward.readyState >= 2, `no frame after seeking (readyState ${forward.readyState})`);
    const backward = await seek(page, 1.5);
    expect(backward.error === null && Math.abs(backward.currentTime - 1.5) < 0.3, `seek back to 1.5 s: ${JSON.stringify(backward)}`);
    const media = responsesFor('/media/clip.webm');
    const type = expectType('/media/clip.webm', 'video/webm');
    // Chromium asks for media with a Range header; the gateway must answer 206.
    const ranged = media.filter((r) => r.range);
    expect(ranged.length > 0, 'Chromium sent no Range request for the video');
    const not206 = ranged.filter((r) => r.status !== 206);
    expect(not206.length === 0, `ranged video requests not answered 206: ${not206.map((r) => `${r.range} -> ${r.status}`).join(', ')}`);
    // One explicit range from the page, and the whole file, both compared with the file on
    // disk (not with another answer of the same gateway, which could be wrong alike).
    const onDisk = new Uint8Array(readFileSync(CLIP_ON_DISK));
    const range = await page.evaluate(async () => {
      const url = new URL('media/clip.webm', location.href).href;
      const whole = new Uint8Array(await (await fetch(url, { cache: 'no-store' })).arrayBuffer());
      const r = await fetch(url, { headers: { Range: 'bytes=1000-1999' }, cache: 'no-store' });
      const part = new Uint8Array(await r.arrayBuffer());
      return { status: r.status, contentRange: r.headers.get('content-range'), part: Array.from(part), whole: Array.from(whole) };
    });
    const want = onDisk.subarray(1000, 2000);
    expect(onDisk.length > 2000, `${CLIP_ON_DISK} has only ${onDisk.length} bytes`);
    expect(range.status === 206, `Range: bytes=1000-1999 answered ${range.status}`);
    expect(range.contentRange === `bytes 1000-1999/${onDisk.length}`, `Content-Range "${range.contentRange}", expected "bytes 1000-1999/${onDisk.length}" (the file on disk)`);
    expect(
      range.part.length === want.length && range.part.every((b, i) => b === want[i]),
      `the 206 body (${range.part.length} bytes) is not bytes 1000-1999 of ${CLIP_ON_DISK}`,
    );
    expect(
      range.whole.length === onDisk.length && range.whole.every((b, i) => b === onDisk[i]),
      `the whole video (${range.whole.length} bytes) differs from ${CLIP_ON_DISK} (${onDisk.length} bytes)`,
    );
    return {
      duration: meta.duration,
      seekedTo: [Math.round(forward.currentTime * 100) / 100, Math.round(backward.currentTime * 100) / 100],
      type,
      mediaRequests: media.map((r) => `${r.range ?? 'no range'} -> ${r.status}`),
      explicitRange: range.contentRange,
    };
  });

  await step('listing', async () => {
    const resp = await open(page, `${siteRoot}files`);
    const hop = resp.request().redirectedFrom();
    const hopResp = hop && (await hop.response());
    expect(hopResp && hopResp.status() === 301, `${siteRoot}files answered ${hopResp ? hopResp.status() : resp.status()}, expected a 301 to files/`);
    expect(page.url() === `${siteRoot}files/`, `redirected to ${page.url()}, expected ${siteRoot}files/`);
    const have = await expectListing(page, ['notes.txt', 'data.json', 'sub', '..'], 'files/');
    await shot(page, '05-listing');
    return { url: page.url(), redirect: hopResp.status(), links: have };
  });

  await step('listing.enter', async () => {
    await clickTo(page, await linkNamed(page, 'sub'), `${siteRoot}files/sub/`);
    await expectListing(page, ['readme.txt', '..'], 'files/sub/');
    await shot(page, '06-listing-sub');
    return { url: page.url() };
  });

  await step('listing.parent', async () => {
    await clickTo(page, await linkNamed(page, '..'), (u) => u.href.replace(/\/$/, '') === `${siteRoot}files`);
    await expectListing(page, ['notes.txt', 'sub'], 'files/ via ..');
    await shot(page, '07-listing-parent');
    return { url: page.url() };
  });

  await step('listing.file', async () => {
    await clickTo(page, await linkNamed(page, 'notes.txt'), `${siteRoot}files/notes.txt`);
    const text = await page.evaluate(() => document.body.innerText);
    await shot(page, '08-file');
    expect(text.includes('a plain text file in a directory without index.html'), `notes.txt shows "${text.slice(0, 80)}"`);
    return { url: page.url(), type: expectType('/files/notes.txt', 'text/plain') };
  });

  // ---------------------------------------------------------------- subdomain gateway
  await step('subdomain', async () => {
    const resp = await open(page, `${subOrigin}/`);
    const r = await rendered(page, 'A static site on IPFS');
    await shot(page, '09-subdomain');
    expectRendered(r, `${subOrigin}/`, { script: true });
    expect(new URL(page.url()).origin === subOrigin, `ended at ${page.url()}, not on ${subOrigin}`);
    return { url: resp.url(), titleColour: r.titleColour };
  });

  await step('subdomain.about', async () => {
    await clickTo(page, page.locator('#to-about'), `${subOrigin}/pages/about.html`);
    const r = await rendered(page, 'About');
    await shot(page, '10-subdomain-about');
    expectRendered(r, 'subdomain pages/about.html');
    await clickTo(page, page.locator('#back'), `${subOrigin}/index.html`);
    return { url: page.url() };
  });

  await step('subdomain.listing', async () => {
    await open(page, `${subOrigin}/files/`);
    await expectListing(page, ['notes.txt', 'sub'], 'subdomain files/');
    await clickTo(page, await linkNamed(page, 'sub'), `${subOrigin}/files/sub/`);
    await expectListing(page, ['readme.txt'], 'subdomain files/sub/');
    await shot(page, '11-subdomain-listing');
    await clickTo(page, await linkNamed(page, '..'), (u) => u.href.replace(/\/$/, '') === `${subOrigin}/files`);
    return { url: page.url() };
  });

  // ---------------------------------------------------------------- IPLD node view
  if (dagArg != null) {
    await step('dag.view', async () => {
      const resp = await open(page, `${origin}/ipfs/${dagArg}`);
      expect(page.url() === `${origin}/ipfs/${dagArg}/`, `ended at ${page.url()}, not the slash URL`);
      expect((resp.headers()['content-type'] || '').startsWith('text/html'), 'not HTML');
      const seen = await page.evaluate(() => ({
        text: document.body.innerText,
        scripts: document.querySelectorAll('script').length,
        images: document.querySelectorAll('img').length,
        pwned: window.pwned ?? null,
        downloads: [...document.querySelectorAll('a')].map((a) => a.getAttribute('href')).filter((h) => h.startsWith('?format=')),
      }));
      await shot(page, '12-dag-view');
      expect(seen.scripts === 0 && seen.images === 0, `hostile strings became elements: ${JSON.stringify(seen)}`);
      expect(seen.pwned === null, `a hostile string ran as script: ${seen.pwned}`);
      expect(seen.text.includes('<img src=x onerror=window.pwned=1>'), 'the hostile key is not shown as text');
      expect(seen.text.includes('<script>window.pwned=2</script>'), 'the hostile value is not shown as text');
      expect(seen.downloads.includes('?format=dag-json') && seen.downloads.includes('?format=dag-cbor'), `download links: ${seen.downloads}`);
      return { url: page.url(), downloads: seen.downloads };
    });

    await step('dag.link', async () => {
      const link = page.locator('.ipld a.ipld-link', { hasText: cidArg }).first();
      await clickTo(page, link, siteRoot);
      const r = await rendered(page, 'A static site on IPFS');
      await shot(page, '13-dag-link');
      expectRendered(r, 'the site reached from the dag-cbor node', { script: true });
      return { url: page.url() };
    });
  }

  current = 'done';
  if (consoleErrors.length) log(`console errors (not fatal): ${consoleErrors.join(' | ')}`);
  return consoleErrors;
}

let code;
try {
  const consoleErrors = await run();
  code = finish(0, { consoleErrors });
  log(`all ${Object.keys(checks).length} checks passed; screenshots in ${outDir}`);
} catch (e) {
  const msg = (e && e.message ? e.message : String(e)).split('\n')[0];
  log(`FAILED ${current}: ${msg}`);
  // What the page showed when the check failed.
  const page = context?.pages()[0];
  if (page) {
    await shot(page, `failed-${current}`).catch(() => {});
    log(`the page was ${page.url()}`);
  }
  code = finish(1, { failed: current, error: msg });
}
clearTimeout(watchdog);
await cleanup();
process.exit(code);

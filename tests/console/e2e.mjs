// The web console end to end: a real callpost (fresh data directory, a free port), a real
// webhook receiver on loopback, and headless Chromium driven by playwright-core.
//
// In the browser: sign in with the account's API key, create a buyer, a campaign routing to
// it, an "answered" webhook group filtered to that buyer (built with the filter builder and
// the token picker) and a postback conversion group (payout modifier preview), copy the
// postback URL from the copy button. Then a call goes through the API (start, answered,
// ended), the buyer posts back to the copied URL, and the call page shows the call converted
// with its webhook attempts; a failing delivery is resent from the call page. The signed
// webhook group's secret is rotated (the shown secret and overlap end checked against the
// API). Last, a publisher, a number (a reserved tag refused beside the tags), a publisher
// postback key created, used through the shown data-writing URL and deleted (then refused),
// account settings (a bad call key lifetime refused beside the field) and an API key
// created, used and revoked.
//
// Environment: CALLPOST_BINARY (the built server), CONSOLE_NODE_MODULES (where npm ci put
// playwright-core), CHROMIUM (default /usr/bin/chromium), CONSOLE_SCREENSHOTS (a folder to
// write screenshots of the main screens into; default: none). Fails when any is missing.
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

const binary = process.env.CALLPOST_BINARY;
const modules = process.env.CONSOLE_NODE_MODULES;
const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
const shots = process.env.CONSOLE_SCREENSHOTS;

function fail(message) {
  console.error(`console e2e: FAILED: ${message}`);
  process.exit(1);
}
if (!binary || !existsSync(binary)) fail(`no callpost binary (CALLPOST_BINARY=${binary})`);
if (!modules || !existsSync(path.join(modules, 'playwright-core'))) {
  fail(`playwright-core is not installed under CONSOLE_NODE_MODULES=${modules} (npm ci in the build's web folder)`);
}
if (!existsSync(chromium)) fail(`no chromium at ${chromium}: run scripts/install-deps.sh`);
const { chromium: launcher } = createRequire(path.join(modules, 'x.js'))('playwright-core');

const step = (s) => console.log(`console e2e: ${s}`);
const dataDir = mkdtempSync(path.join(tmpdir(), 'callpost-console-'));
let server;
let receiver;
let browser;

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  if (server && server.exitCode === null) server.kill('SIGTERM');
  if (receiver) receiver.close();
  rmSync(dataDir, { recursive: true, force: true });
}

async function until(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main() {
  // The account and its first API key, as an operator gets them.
  const created = JSON.parse(
    execFileSync(binary, ['accounts', 'create', '--name', 'Console network', '--data-dir', dataDir], { encoding: 'utf8' }),
  );
  const apiKey = created.api_key;

  // The server on a free port: its "serving" log line names the port.
  server = spawn(binary, ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--allow-private-webhooks'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  server.stdout.on('data', (d) => (log += d));
  server.stderr.on('data', (d) => (log += d));
  const listen = await until('the server to listen', () => {
    for (const line of log.split('\n')) {
      try {
        const e = JSON.parse(line).event;
        if (e?.msg === 'serving') return e.listen;
      } catch {
        // a partial line
      }
    }
    return null;
  });
  const base = `http://${listen}`;
  step(`callpost at ${base}`);

  // The buyer's webhook receiver: /ping answers 200, /fail answers 500.
  const received = [];
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, body });
      const failing = req.url.startsWith('/fail');
      res.writeHead(failing ? 500 : 200, { 'Content-Type': 'text/plain' });
      res.end(failing ? 'receiver says no' : 'thanks');
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  const rport = receiver.address().port;

  const call = async (method, p, body) => {
    const res = await fetch(base + p, {
      method,
      headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };

  // The console's own answers: redirect, headers, SPA fallback.
  {
    const r = await fetch(`${base}/console`, { redirect: 'manual' });
    if (r.status !== 308 || r.headers.get('location') !== '/console/') fail(`/console answered ${r.status}`);
    const idx = await fetch(`${base}/console/campaigns/1`);
    const csp = idx.headers.get('content-security-policy') ?? '';
    if (idx.status !== 200 || !idx.headers.get('content-type').startsWith('text/html') || !csp.includes("script-src 'self'")) {
      fail(`SPA fallback: ${idx.status} ${idx.headers.get('content-type')} ${csp}`);
    }
    if (idx.headers.get('cache-control') !== 'no-cache') fail('index.html must be no-cache');
    const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(await idx.text())?.[1];
    const a = await fetch(base + asset);
    if (a.status !== 200 || !a.headers.get('cache-control').includes('immutable') || !a.headers.get('content-type').startsWith('text/javascript')) {
      fail(`asset ${asset}: ${a.status} ${a.headers.get('cache-control')}`);
    }
    if ((await fetch(`${base}/console/assets/missing.js`)).status !== 404) fail('a missing asset must be 404');
  }

  browser = await launcher.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const consoleText = [];
  page.on('console', (m) => consoleText.push(m.text()));
  page.on('console', (m) => m.type() === 'error' && !/status of 4\d\d/.test(m.text()) && errors.push(m.text()));
  page.setDefaultTimeout(10000);
  const shot = async (name) => {
    if (!shots) return;
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  };
  const expectText = async (locator, re, what) => {
    await until(what, async () => re.test((await locator.textContent()) ?? ''), 10000).catch(async () => {
      throw new Error(`${what}: got "${await locator.textContent()}"`);
    });
  };

  // Sign in: a wrong key is refused beside the field, the right one opens the console.
  await page.goto(`${base}/console/`);
  await page.getByTestId('api-key').fill('cpk_wrong');
  await page.getByTestId('sign-in').click();
  await expectText(page.locator('[data-error-for="api_key"]'), /not valid/, 'the wrong key refused');
  await shot('sign-in');
  await page.getByTestId('api-key').fill(apiKey);
  await page.getByTestId('sign-in').click();
  await page.getByRole('heading', { name: 'Calls' }).waitFor();
  if ((await page.evaluate(() => sessionStorage.getItem('callpost.apiKey'))) !== apiKey) fail('the key is not in sessionStorage');
  if (page.url().includes(apiKey)) fail('the key is in the URL');
  step('signed in');

  // A buyer; a bad destination is shown beside its field.
  await page.getByRole('link', { name: 'Buyers' }).click();
  const form = page.getByTestId('collection-form');
  await form.locator('input[name="name"]').fill('Acme Insurance');
  await form.locator('input[name="destination"]').fill('hello');
  await form.getByRole('button', { name: 'Create' }).click();
  await expectText(page.locator('[data-error-for="destination"]'), /E\.164/, 'the destination error');
  await form.locator('input[name="destination"]').fill('+1 (555) 987-6543');
  await form.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('cell', { name: '+15559876543' }).waitFor();
  const buyer = (await call('GET', '/api/v1/buyers')).data[0];
  await shot('buyers');
  step(`buyer ${buyer.id}`);

  // A campaign routing to the buyer.
  await page.getByRole('link', { name: 'Campaigns' }).click();
  await page.getByTestId('new-campaign-name').fill('Auto insurance');
  await page.getByRole('button', { name: 'Create campaign' }).click();
  await page.getByRole('heading', { name: /Auto insurance/ }).waitFor();
  const campaignId = Number(/campaigns\/(\d+)/.exec(page.url())[1]);
  await page.getByTestId('add-buyer').selectOption(String(buyer.id));
  await page.getByTestId('save-campaign').click();
  await page.locator('.saved').waitFor();
  step(`campaign ${campaignId}`);

  // The answered webhook, filtered to the buyer, URL built with the token picker.
  await page.getByTestId('add-webhook-group').click();
  const wg = page.getByTestId('webhook-group-form');
  await wg.getByTestId('wg-name').fill('answered ping');
  await wg.getByTestId('wg-trigger').selectOption('answered');
  await wg.getByTestId('matches-text').fill('system_buyer_id:');
  await expectText(wg.getByTestId('matches-verdict'), /position/, 'a bad filter refused by the server');
  await wg.getByTestId('matches-text').fill('');
  const builder = wg.getByTestId('matches-builder');
  await builder.getByLabel('tag key').fill('system_buyer_id');
  await builder.getByLabel('value').selectOption(String(buyer.id));
  await builder.getByRole('button', { name: 'Add condition' }).click();
  if ((await wg.getByTestId('matches-text').inputValue()) !== `system_buyer_id:==${buyer.id}`) fail('the builder wrote the wrong filter');
  await expectText(wg.getByTestId('matches-verdict'), new RegExp(`valid: system_buyer_id:==${buyer.id}`), 'the filter accepted');
  const url = wg.getByTestId('req-0-url');
  await url.fill('ftp://127.0.0.1/');
  await wg.getByTestId('save-webhook-group').click();
  await expectText(page.locator('[data-error-for="requests[0].url"]'), /http:\/\/ or https:\/\//, 'the URL error beside the URL');
  await url.fill(`http://127.0.0.1:${rport}/ping?uuid=`);
  await url.press('End');
  await wg.getByRole('button', { name: '[token]' }).first().click();
  await wg.getByRole('menuitem', { name: /\[call_uuid\]/ }).click();
  await url.press('End');
  await url.pressSequentially('&key=');
  await wg.getByRole('button', { name: '[token]' }).first().click();
  await wg.getByRole('menuitem', { name: /\[call_key\]/ }).click();
  const wantUrl = `http://127.0.0.1:${rport}/ping?uuid=[call_uuid]&key=[call_key]`;
  if ((await url.inputValue()) !== wantUrl) fail(`token picker: ${await url.inputValue()}`);
  await expectText(wg.getByTestId('webhook-preview'), /an example call[\s\S]*uuid=00000000-0000-4000-8000-000000000000&key=REDACTED/, 'the webhook preview');
  await shot('webhook-group');
  await wg.getByTestId('save-webhook-group').click();
  await page.getByTestId('webhook-groups').getByRole('cell', { name: 'answered ping' }).waitFor();

  // A completed webhook to a receiver that fails, for the resend button.
  await page.getByTestId('add-webhook-group').click();
  await wg.getByTestId('wg-name').fill('crm status');
  await wg.getByTestId('wg-trigger').selectOption('completed');
  await wg.getByTestId('req-0-method').selectOption('POST');
  await wg.getByTestId('req-0-url').fill(`http://127.0.0.1:${rport}/fail`);
  await wg.getByTestId('req-0-body').fill('{"uuid":"[call_uuid]","payout":"[payout]"}');
  await wg.getByLabel('Sign (Standard Webhooks)').check();
  await wg.getByTestId('save-webhook-group').click();
  await page.getByTestId('webhook-groups').getByRole('cell', { name: /crm status/ }).waitFor();
  step('webhook groups');

  // Rotating the signed group's secret: a bad overlap refused beside its field (nothing
  // changes), then the new secret shown once, the old one still verifying until the time shown.
  page.on('dialog', (d) => d.accept());
  const signed = (await call('GET', `/api/v1/campaigns/${campaignId}/webhook_groups`)).data.find((g) => g.name === 'crm status');
  if (!signed.sign || !signed.signing_secret?.startsWith('whsec_')) fail(`the crm group does not sign: ${JSON.stringify(signed)}`);
  const oldSecret = signed.signing_secret;
  await page.getByTestId(`rotate-secret-${signed.id}`).click();
  const rot = page.getByTestId('rotate-secret-form');
  await rot.getByTestId('rotate-overlap').fill('9999999');
  await rot.getByTestId('rotate-secret').click();
  await expectText(rot.locator('[data-error-for="overlap_seconds"]'), /2592000/, 'the overlap error beside the overlap');
  if ((await call('GET', `/api/v1/webhook_groups/${signed.id}`)).signing_secret !== oldSecret) fail('a refused rotation changed the secret');
  await rot.getByTestId('rotate-overlap').fill('3600');
  const rotatedAt = Date.now();
  await rot.getByTestId('rotate-secret').click();
  const shownSecret = await rot.getByTestId('new-signing-secret').textContent();
  const shownUntil = rot.getByTestId('previous-secret-until');
  const untilRaw = await shownUntil.getAttribute('data-until');
  const afterRotation = await call('GET', `/api/v1/webhook_groups/${signed.id}`);
  // The reference says milliseconds since the epoch; the server answers RFC 3339: take either.
  const untilApi = afterRotation.previous_secret_until;
  const untilMs = typeof untilApi === 'number' ? untilApi : Date.parse(untilApi);
  if (!shownSecret.startsWith('whsec_') || shownSecret === oldSecret) fail(`the shown secret ${shownSecret}`);
  if (afterRotation.signing_secret !== shownSecret) fail('the shown secret is not the group\'s secret');
  if (afterRotation.previous_secret !== oldSecret) fail('the old secret is not the previous secret');
  if (String(untilApi) !== untilRaw) fail(`previous_secret_until ${untilApi}, shown ${untilRaw}`);
  if (untilMs < rotatedAt + 3600_000 - 5000 || untilMs > Date.now() + 3600_000 + 5000) fail(`the previous secret verifies until ${untilMs}`);
  await expectText(shownUntil, new RegExp(`still verifies until .*${new Date(untilMs).toISOString().replace(/\./g, '\\.')}`), 'the time the old secret stops');
  await shot('rotate-secret');
  await rot.getByRole('button', { name: 'Done' }).click();
  step('signing secret rotated');

  // The postback conversion group; the payout preview follows the modifier as typed.
  await page.getByTestId('add-conversion-group').click();
  const cg = page.getByTestId('conversion-group-form');
  await cg.getByTestId('cg-name').fill('sale');
  await cg.getByTestId('cg-type').selectOption('postback_value');
  await cg.getByTestId('payout-modifier').fill('*0.8+');
  await expectText(cg.getByTestId('payout-preview'), /expected a number at position 6/, 'the modifier error');
  await cg.getByTestId('payout-modifier').fill('*0.8');
  await expectText(cg.getByTestId('payout-preview'), /revenue 10\.00 → payout 8\.00/, 'the payout preview');
  await shot('conversion-group');
  await cg.getByTestId('save-conversion-group').click();
  const copy = page.getByTestId('copy-postback-url');
  await copy.waitFor();
  await copy.click();
  await expectText(copy, /Copied/, 'the copy button');
  const fromClipboard = await page.evaluate(() => navigator.clipboard.readText());
  const fromButton = await copy.getAttribute('data-copy');
  if (fromClipboard !== fromButton) fail(`clipboard "${fromClipboard}" is not the button's "${fromButton}"`);
  if (!fromClipboard.startsWith(`${base}/calls/[call_uuid]/postback?key=[call_key]&value=REVENUE`)) fail(`postback URL ${fromClipboard}`);
  await shot('campaign');
  step(`postback URL ${fromClipboard}`);

  // A call through the API: routed to the buyer, answered, ended.
  const started = await call('POST', '/api/v1/calls', { campaign_id: campaignId, caller_number: '+15551230000', route: true });
  if (started.buyer_id !== buyer.id) fail(`the call went to ${started.buyer_id}`);
  await call('POST', `/api/v1/calls/${started.uuid}/events`, { type: 'answered' });
  await call('POST', `/api/v1/calls/${started.uuid}/events`, { type: 'ended', hung_up_by: 'caller' });
  await until('the answered ping', () => received.some((r) => r.url.startsWith('/ping')));
  const ping = received.find((r) => r.url.startsWith('/ping'));
  if (ping.url !== `/ping?uuid=${started.uuid}&key=${started.key}`) fail(`the ping was ${ping.url}`);

  // The buyer posts back to the copied URL.
  const postback = fromClipboard.replace('[call_uuid]', started.uuid).replace('[call_key]', started.key).replace('REVENUE', '10.00');
  const pb = await fetch(postback);
  const pbBody = await pb.json();
  if (pb.status !== 200 || pbBody.conversion.state !== 'converted') fail(`postback answered ${pb.status} ${JSON.stringify(pbBody)}`);
  await until('the failing completed webhook', () => received.some((r) => r.url === '/fail'));
  step(`call ${started.uuid} converted`);

  // The live list shows it; the call page shows the timeline and the attempts.
  await page.getByRole('link', { name: 'Calls' }).click();
  const row = page.locator(`tr[data-uuid="${started.uuid}"]`);
  await expectText(row, /converted 10\.00 → 8\.00/, 'the call converted in the list');
  await shot('calls');
  await row.getByRole('link').click();
  await expectText(page.getByTestId('call-conversion'), /converted 10\.00 → 8\.00/, 'the conversion on the call page');
  const timeline = page.getByTestId('call-timeline');
  for (const re of [/started/, /routed/, /answered/, /ended/, /postback \(GET\)/, /converted/, /webhook answered #\d+, attempt 1\s*HTTP 200/, /webhook completed #\d+, attempt 1\s*HTTP 500/]) {
    await expectText(timeline, re, `timeline ${re}`);
  }
  const hooks = page.getByTestId('call-webhooks');
  const delivered = hooks.locator('[data-state="delivered"]');
  await expectText(delivered, /answered[\s\S]*200[\s\S]*thanks/, 'the answered delivery with its attempt');
  const failing = hooks.locator('[data-state="retrying"]');
  await expectText(failing, /500[\s\S]*receiver says no/, 'the failing delivery with its excerpt');
  await shot('call');
  const fails = received.filter((r) => r.url === '/fail').length;
  await failing.getByRole('button', { name: 'Resend now' }).click();
  await until('the resent delivery', () => received.filter((r) => r.url === '/fail').length > fails);
  await expectText(failing, /attempt[\s\S]*\n?2/, 'a second attempt on the call page');
  await until('two attempts shown', async () => (await failing.locator('table.attempts tbody tr').count()) === 2);
  step('resend');

  // Publishers, numbers (a reserved tag refused beside the tags), account settings, API keys.
  await page.getByRole('link', { name: 'Publishers', exact: true }).click();
  await page.getByRole('heading', { name: 'Publishers' }).waitFor();
  await form.locator('input[name="name"]').fill('Lead Gen Co');
  await form.locator('input[name="external_id"]').fill('afid-1');
  await form.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('cell', { name: 'afid-1' }).waitFor();
  await shot('publishers');

  await page.getByRole('link', { name: 'Numbers', exact: true }).click();
  await page.getByRole('heading', { name: 'Numbers' }).waitFor();
  await form.locator('input[name="number"]').fill('+1 800 555 0100');
  await form.locator('select[name="campaign_id"]').selectOption({ label: 'Auto insurance' });
  await form.locator('select[name="publisher_id"]').selectOption({ label: 'Lead Gen Co' });
  await form.locator('textarea[name="tags"]').fill('system_x=1');
  await form.getByRole('button', { name: 'Create' }).click();
  await expectText(page.locator('[data-error-for="tags"]'), /set by callpost/, 'the reserved tag refused beside the tags');
  await form.locator('textarea[name="tags"]').fill('traffic=search');
  await form.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('cell', { name: '+18005550100' }).waitFor();
  const number = (await call('GET', '/api/v1/numbers')).data[0];
  if (number.campaign_id !== campaignId || number.tags.traffic !== 'search') fail(`number ${JSON.stringify(number)}`);
  await shot('numbers');

  // The publisher's postback key: created in the browser (a bad storage time refused beside
  // its field), shown once with its data-writing URL; that URL writes a tag onto the caller's
  // call; deleted in the browser, the same request is refused (401).
  await page.getByRole('link', { name: 'Publishers', exact: true }).click();
  const publisher = (await call('GET', '/api/v1/publishers')).data[0];
  await page.getByTestId(`postback-keys-${publisher.id}`).click();
  const pk = page.getByTestId('publisher-keys');
  await pk.getByTestId('postback-key-storage').fill('10');
  await pk.getByTestId('create-postback-key').click();
  await expectText(pk.locator('[data-error-for="storage_seconds"]'), /between 60 and 7776000/, 'the storage error beside its field');
  if ((await call('GET', '/api/v1/postback_keys')).data.length !== 0) fail('a refused key was created');
  await pk.getByTestId('postback-key-name').fill('lead form');
  await pk.getByTestId('postback-key-storage').fill('3600');
  await pk.getByTestId('create-postback-key').click();
  const pkey = await pk.getByTestId('new-postback-key').textContent();
  const dwUrl = await pk.getByTestId('data-writing-url').textContent();
  if (!/^cpd_[A-Za-z0-9_-]{43}$/.test(pkey)) fail(`the postback key ${pkey}`);
  if (dwUrl !== `${base}/data_writing/${pkey}`) fail(`the data-writing URL ${dwUrl}`);
  await pk.getByTestId('copy-data-writing-url').click();
  if ((await page.evaluate(() => navigator.clipboard.readText())) !== dwUrl) fail('the copied data-writing URL');
  const keys = (await call('GET', '/api/v1/postback_keys')).data;
  if (keys.length !== 1 || keys[0].publisher_id !== publisher.id || keys[0].name !== 'lead form' || keys[0].storage_seconds !== 3600 || !pkey.startsWith(keys[0].prefix)) {
    fail(`postback keys ${JSON.stringify(keys)}`);
  }
  await expectText(pk.locator(`tr[data-key-id="${keys[0].id}"]`), new RegExp(`lead form.*${keys[0].prefix}`), 'the key listed by its first characters');
  await expectText(page.getByRole('row', { name: /Lead Gen Co/ }), /afid-1\s*1/, 'the key counted on its publisher');
  const stored = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }]));
  if (stored.includes(pkey)) fail('the postback key is in the browser storage');
  await shot('publisher-keys');
  const write = () => fetch(`${dwUrl}?caller_number=%2B15551230000&lead_id=L-1001`);
  const w = await write();
  const wBody = await w.json();
  if (w.status !== 200 || wBody.status !== 'call found, tags applied' || wBody.call_uuid !== started.uuid) fail(`data writing answered ${w.status} ${JSON.stringify(wBody)}`);
  const tagged = (await call('GET', `/api/v1/calls/${started.uuid}`)).tag_history.find((t) => t.key === 'lead_id');
  if (tagged?.value !== 'L-1001' || tagged.source !== 'publisher') fail(`the written tag ${JSON.stringify(tagged)}`);
  await pk.getByTestId(`delete-postback-key-${keys[0].id}`).click();
  await until('the key deleted', async () => (await pk.locator(`tr[data-key-id="${keys[0].id}"]`).count()) === 0);
  if ((await pk.getByTestId('new-postback-key').count()) !== 0) fail('the deleted key is still shown');
  const refused = await write();
  if (refused.status !== 401) fail(`the deleted key answered ${refused.status}`);
  if ((await call('GET', '/api/v1/postback_keys')).data.length !== 0) fail('the key is still listed');
  if (log.includes(pkey) || consoleText.some((t) => t.includes(pkey))) fail('the postback key was logged');
  step('publisher postback key');

  await page.getByRole('link', { name: 'Account', exact: true }).click();
  await page.getByRole('heading', { name: 'Account settings' }).waitFor();
  await page.getByTestId('call-key-ttl').fill('10');
  await page.getByRole('button', { name: 'Save' }).click();
  await expectText(page.locator('[data-error-for="call_key_ttl_seconds"]'), /between 60 and/, 'the TTL error');
  await page.getByTestId('call-key-ttl').fill('604800');
  await page.getByTestId('account-form').locator('input[type="checkbox"]').uncheck();
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('.saved').waitFor();
  const account = await call('GET', '/api/v1/account');
  if (account.call_key_ttl_seconds !== 604800 || account.carry_over_postback_tags !== false) fail(`account ${JSON.stringify(account)}`);
  await shot('account');

  await page.getByRole('link', { name: 'API keys', exact: true }).click();
  await page.getByRole('heading', { name: 'API keys' }).waitFor();
  await page.getByPlaceholder('kamailio edge').fill('edge');
  await page.getByRole('button', { name: 'Create key' }).click();
  const newKey = await page.getByTestId('new-api-key').textContent();
  const withKey = (k) => fetch(`${base}/api/v1/account`, { headers: { Authorization: `Bearer ${k}` } });
  if ((await withKey(newKey)).status !== 200) fail('the new key does not work');
  await shot('api-keys');
  await page.getByRole('row', { name: /edge/ }).getByRole('button', { name: 'Revoke' }).click();
  await until('the key revoked', async () => (await page.getByRole('row', { name: /edge/ }).count()) === 0);
  if ((await withKey(newKey)).status !== 401) fail('the revoked key still works');
  step('publishers, numbers, account, API keys');

  if (errors.length) fail(`browser errors: ${errors.join(' | ')}`);
  step('passed');
}

main()
  .then(cleanup)
  .catch(async (e) => {
    console.error(e);
    await cleanup();
    fail(e.message);
  });

// Analytics.js 2.0 (@segment/analytics-next, pinned in package.json) in Debian's chromium, driven
// by playwright-core, sending to the usercom-forwarder ingress from a page on another origin.
//
// Run by tests/forwarder/browser_sdk.rs (USERCOM_BROWSER_TESTS=1), which starts the simulator,
// `usercom-forwarder serve` (with --cors-origins set to the page's origin) and a static server for
// pages/ and node_modules/, then passes:
//   PAGE_URL      the shop page, e.g. http://127.0.0.1:PORT/shop.html
//   INGRESS_URL   the ingress, e.g. http://127.0.0.1:PORT (the page's cdnURL)
//   WRITE_KEY     the Segment write key
//   USER_ID       the user the page identifies
//   GROUP_ID      the company the page groups the user into
//   CHROMIUM      the browser binary (default /usr/bin/chromium)
//   CAPTURE_TO    optional: record every request the browser makes to the ingress into this
//                 JSON file (fixtures/browser/ format) through a recording proxy in this process
// Visit 1 (default delivery): identify, page, track, group, each awaited: one request each to
// /v1/i, /v1/p, /v1/t, /v1/g. Visit 2 (?batching=1): page and track wait in the page, then
// the browser navigates away: the SDK sends them on pagehide as one keepalive /v1/b batch.
// Prints `ok: ...` per check; exits 0 when all passed, 1 naming the failed check otherwise.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

function env(name, fallback) {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === "") {
    console.error(`analytics_next.mjs: the environment variable ${name} is required`);
    process.exit(2);
  }
  return v;
}

const pageUrl = env("PAGE_URL");
const ingressUrl = env("INGRESS_URL").replace(/\/$/, "");
const writeKey = env("WRITE_KEY");
const userId = env("USER_ID");
const groupId = env("GROUP_ID");
const executablePath = env("CHROMIUM", "/usr/bin/chromium");
const captureTo = process.env.CAPTURE_TO || "";

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
}

// A recording proxy in front of the ingress (only with CAPTURE_TO): each request as received
// (method, path, headers in arrival order, body), forwarded unchanged, Host included, so the
// settings document points the SDK at the proxy and every later request is recorded too.
async function recordingProxy(target, captures) {
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const capture = {
        method: req.method,
        path: req.url,
        http_version: `HTTP/${req.httpVersion}`,
        headers: [],
        body_len: raw.length,
      };
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        capture.headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
      }
      if (raw.length > 0) {
        try {
          capture.body = JSON.parse(raw.toString("utf8"));
        } catch {
          capture.body_text = raw.toString("utf8");
        }
      }
      captures.push(capture);
      const forward = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          capture.status = answer.statusCode;
          res.writeHead(answer.statusCode, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on("error", (e) => {
        res.writeHead(502);
        res.end(String(e));
      });
      forward.end(raw);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

async function ingressStats() {
  const r = await fetch(`${ingressUrl}/stats`);
  return r.json();
}

async function waitForReceived(count, what) {
  const deadline = Date.now() + 15000;
  let stats;
  while (Date.now() < deadline) {
    stats = await ingressStats();
    if (stats.received >= count) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  check(stats.received >= count, `${what} (ingress received ${stats.received} of ${count})`);
}

const captures = [];
let proxy;
let cdnURL = ingressUrl;
if (captureTo) {
  proxy = await recordingProxy(ingressUrl, captures);
  cdnURL = `http://127.0.0.1:${proxy.address().port}`;
}

const userDataDir = mkdtempSync(join(tmpdir(), "usercom-analytics-next-chromium-"));
let context;
let failed = false;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    // What the browser reports as its own: the SDK reads locale and timezone from it, the page
    // reads the screen size.
    locale: "pl-PL",
    timezoneId: "Europe/Warsaw",
    viewport: { width: 1280, height: 720 },
    screen: { width: 1366, height: 768 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // Nothing leaves the machine: every host but 127.0.0.1 fails to resolve.
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`page error: ${e}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.method()} ${r.url()} (${r.failure()?.errorText})`));
  // Answers that reached the page: leaving it before they arrive would abort them (the ingress
  // counts a batch as received when it is queued, a moment before its answer leaves; on a loaded
  // machine the page could otherwise navigate in between).
  let answered = 0;
  page.on("requestfinished", (r) => {
    if (r.method() === "POST" && r.url().startsWith(cdnURL)) answered += 1;
  });
  const seen = [];
  page.on("request", (r) => {
    if (r.url().startsWith(cdnURL)) seen.push(`${r.method()} ${new URL(r.url()).pathname}`);
  });

  const pageOrigin = new URL(pageUrl).origin;
  check(pageOrigin !== new URL(cdnURL).origin, `the page (${pageOrigin}) is on another origin than the ingress (${cdnURL})`);
  const query = `ingress=${encodeURIComponent(cdnURL)}&writeKey=${encodeURIComponent(writeKey)}`;

  // Visit 1: the four calls, each sent at once (default delivery) and awaited.
  await page.goto(`${pageUrl}?${query}`);
  const delivered = await page.evaluate(
    async ([userId, groupId]) => {
      const analytics = window.analytics;
      // Analytics.js does not collect the screen size; a site that wants it passes it.
      const screen = { width: window.screen.width, height: window.screen.height, density: window.devicePixelRatio };
      const results = [];
      results.push(await analytics.identify(userId, { email: "ada.browser@example.com", firstName: "Ada", lastName: "Browser", plan: "pro" }, { context: { screen } }));
      results.push(await analytics.page("Shop", "Pricing"));
      results.push(await analytics.track("Order Completed", { order_id: "b-1", revenue: 42, currency: "EUR" }));
      results.push(await analytics.group(groupId, { name: "Browser Ltd", employees: 12 }));
      return results.map((ctx) => ({ type: ctx.event.type, failed: ctx.failedDelivery()?.reason?.toString() ?? null }));
    },
    [userId, groupId],
  );
  for (const { type, failed } of delivered) check(failed === null, `${type} delivered by the SDK (${failed ?? "no failure"})`);
  await waitForReceived(4, "identify, page, track and group reached the ingress");
  const answerDeadline = Date.now() + 15000;
  while (answered < 4 && Date.now() < answerDeadline) await new Promise((r) => setTimeout(r, 50));
  check(answered >= 4, `the four answers reached the page before it is left (${answered} of 4)`);

  // Visit 2: batching delivery; the events wait in the page until it is left.
  await page.goto(`${pageUrl}?${query}&batching=1`);
  await page.evaluate(async () => {
    const analytics = window.analytics;
    await analytics.page("Shop", "Checkout");
    await analytics.track("Checkout Started", { step: 1 });
  });
  await new Promise((r) => setTimeout(r, 300));
  const before = (await ingressStats()).received;
  check(before === 4, `batched events wait in the page (ingress received ${before})`);
  await page.click("#leave");
  await page.waitForURL(/away\.html/);
  await waitForReceived(6, "navigating away sent the waiting page and track (keepalive batch)");

  console.log(`requests seen by playwright: ${seen.join(", ")}`);
  check(problems.length === 0, `no script errors or failed requests (${problems.join("; ")})`);
} catch (e) {
  failed = true;
  console.error(`analytics_next.mjs: ${e.message}`);
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
  if (proxy) {
    proxy.close();
    writeFileSync(captureTo, JSON.stringify(captures, null, 2) + "\n");
    console.log(`ok: ${captures.length} requests captured to ${captureTo}`);
  }
}
process.exit(failed ? 1 : 0);

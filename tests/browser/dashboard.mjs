// Browser test of the usercom-mock dashboard, in Debian's chromium driven by playwright-core.
//
// Run by tests/forwarder/dashboard.rs (USERCOM_BROWSER_TESTS=1), which starts a simulator and the
// forwarder's ingress, sends a user's identify, page views, track and group through the ingress,
// waits until they are delivered, and passes:
//   MOCK_URL        simulator origin, e.g. http://127.0.0.1:PORT
//   MOCK_API_KEY    an API key of the default app (used to send one more page view)
//   USER_CUSTOM_ID  the seeded user's custom_id
//   EVENT_NAME      an event the user sent
//   COMPANY_NAME    a company the user belongs to
//   SCREENSHOT      where to save the screenshot (default target/dashboard.png)
//   CHROMIUM        the browser binary (default /usr/bin/chromium)
// Exits 0 when every check passed, 1 with a message naming the failed check otherwise.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

function env(name, fallback) {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === "") {
    console.error(`dashboard.mjs: the environment variable ${name} is required`);
    process.exit(2);
  }
  return v;
}

const base = env("MOCK_URL").replace(/\/$/, "");
const apiKey = env("MOCK_API_KEY");
const customId = env("USER_CUSTOM_ID");
const eventName = env("EVENT_NAME");
const companyName = env("COMPANY_NAME");
const screenshot = env("SCREENSHOT", "target/dashboard.png");
const executablePath = env("CHROMIUM", "/usr/bin/chromium");

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
}

async function api(method, path, body) {
  const r = await fetch(`${base}/api/public${path}`, {
    method,
    headers: { Authorization: `Token ${apiKey}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path} answered ${r.status}: ${text}`);
  return JSON.parse(text);
}

const userDataDir = mkdtempSync(join(tmpdir(), "usercom-dashboard-chromium-"));
let context;
let failed = false;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleErrors = [];
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));

  const user = await api("GET", `/users-by-id/${encodeURIComponent(customId)}/`);
  await page.goto(`${base}/`);
  check((await page.title()).includes("usercom-mock"), "the dashboard page loads");

  // The user, their page_views count and the event.
  const row = page.locator(`tr[data-user="${customId}"]`);
  await row.waitFor();
  check(await row.isVisible(), `the users table shows ${customId}`);
  const pvCell = row.locator('[data-field="page_views"]');
  const pvBefore = Number(await pvCell.textContent());
  check(pvBefore === user.page_views && pvBefore > 0, `page_views shows ${user.page_views}`);
  check(await page.locator(`tr[data-event="${eventName}"]`).first().isVisible(), `the event definitions show "${eventName}"`);
  const html = await page.content();
  check(!html.includes(apiKey), "the page does not contain the API key");

  // Live update: one more page view; the count changes without a reload.
  await page.evaluate(() => {
    window.__noReload = true;
  });
  await api("POST", "/site-views/", {
    client_user: user.user_key,
    page_domain: "https://shop.example.com/pricing",
    page_path: "/pricing",
    title: "Pricing",
  });
  await page.waitForFunction(
    ([sel, want]) => document.querySelector(sel)?.textContent === String(want),
    [`tr[data-user="${customId}"] [data-field="page_views"]`, pvBefore + 1],
    { timeout: 15000 },
  );
  check(await page.evaluate(() => window.__noReload === true), `page_views became ${pvBefore + 1} without a page reload`);
  const announced = await page.locator("#live-status").textContent();
  check(announced.startsWith("Updated"), `the aria-live status announced the update ("${announced.slice(0, 40)}…")`);

  mkdirSync(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`ok: screenshot saved to ${screenshot}`);

  // Click through: user -> events -> company -> back to the user.
  await row.locator("th a").click();
  await page.locator("#user-h").waitFor();
  check((await page.locator("#user-h").textContent()).includes(customId), "clicking the user opens the user's page");
  check(await page.locator(`#main tr[data-event="${eventName}"]`).first().isVisible(), "the user's page lists the event");
  await page.getByRole("link", { name: companyName }).first().click();
  await page.locator("#company-h").waitFor();
  check((await page.locator("#company-h").textContent()).includes(companyName), "clicking the company opens the company's page");
  check(await page.getByRole("link", { name: customId }).first().isVisible(), "the company's page lists the user as a member");

  // Search by e-mail with the keyboard only.
  await page.goto(`${base}/`);
  await page.locator("#search").focus();
  await page.keyboard.type(user.email);
  await page.keyboard.press("Enter");
  await page.waitForURL(/q=/);
  check(await page.locator(`tr[data-user="${customId}"]`).isVisible(), `searching "${user.email}" finds the user`);

  // Narrow window: the page itself never scrolls sideways (wide tables scroll in their box).
  await page.setViewportSize({ width: 380, height: 800 });
  await page.goto(`${base}/`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `no horizontal page scroll at 380px (overflow ${overflow}px)`);

  check(consoleErrors.length === 0, `no script errors (${consoleErrors.join("; ")})`);
} catch (e) {
  failed = true;
  console.error(`dashboard.mjs: ${e.message}`);
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

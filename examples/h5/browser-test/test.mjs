// Drives examples/h5 in a real Chromium (the distribution's, through
// puppeteer-core, which downloads no browser): the page starts the login,
// the simulator's authorize page answers as alice, the page gets the code
// back, logs in, keeps the token, and /auth/me shows plat wechat_h5 with
// the unionid of alice's mini-program login. Run by run.sh, which starts
// wxauth (simulator mode) and a static server and passes:
//   PAGE     the page's URL (a copy whose meta names that wxauth)
//   UNIONID  alice's unionid from a mini-program login
//   CHROMIUM the browser binary
import assert from "node:assert/strict";
import puppeteer from "puppeteer-core";

const { PAGE, UNIONID, CHROMIUM } = process.env;
assert.ok(PAGE && UNIONID && CHROMIUM, "PAGE, UNIONID and CHROMIUM are set");

const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  // Root in CI containers: Chromium's sandbox needs user namespaces.
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run"],
  timeout: 30_000,
});
const step = (what) => console.log(`  ${what}`);
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(15_000);
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));

  step("open the page: not logged in");
  await page.goto(PAGE, { waitUntil: "load" });
  await page.waitForSelector("#login:not([hidden])");

  step("log in: /auth/authorize, then the simulated WeChat page");
  await Promise.all([page.waitForNavigation(), page.click("#login")]);
  assert.match(page.url(), /\/sim\/connect\/oauth2\/authorize\?appid=wxsimh5000000000&redirect_uri=/);
  await page.waitForSelector("input[name=user]");
  await page.$eval("input[name=user]", (input) => { input.value = "alice"; });

  step("allow: back on the page with a code and the state");
  await Promise.all([page.waitForNavigation(), page.click("#allow")]);
  assert.ok(page.url().startsWith(new URL(PAGE).origin), page.url());

  step("the page logged in, kept the token, and /auth/me answers");
  await page.waitForSelector("#me:not([hidden])");
  const me = JSON.parse(await page.$eval("#me", (pre) => pre.textContent));
  assert.equal(me.platform, "wechat_h5");
  assert.equal(me.appid, "wxsimh5000000000");
  assert.equal(me.unionid, UNIONID, "the unionid of alice's mini-program login");
  assert.doesNotMatch(page.url(), /code=/, "the address bar keeps no code");
  const token = await page.evaluate(() => localStorage.getItem("wxauth.token"));
  assert.ok(token && token.split(".").length === 3, "the token is kept");

  step("reload: still logged in with the kept token");
  await page.reload({ waitUntil: "load" });
  await page.waitForSelector("#me:not([hidden])");
  const again = JSON.parse(await page.$eval("#me", (pre) => pre.textContent));
  assert.equal(again.unionid, UNIONID);

  step("a link naming another wxauth sends it neither the kept token nor a code");
  // Nothing listens there: the request itself is the leak.
  const trap = "http://127.0.0.1:9";
  const sentToTrap = [];
  const watch = (request) => {
    if (request.url().startsWith(trap)) sentToTrap.push(request.url());
  };
  page.on("request", watch);
  const lure = new URL(PAGE);
  lure.searchParams.set("wxauth", trap);
  lure.searchParams.set("appid", "wxsimweb000000000");
  await page.goto(lure.toString(), { waitUntil: "load" });
  await page.waitForFunction(() =>
    !document.getElementById("me").hidden || document.getElementById("status").className);
  assert.deepEqual(sentToTrap, [], "the kept token goes to the page's own wxauth only");
  await page.click("#logout");
  await Promise.all([page.waitForNavigation(), page.click("#login")]);
  assert.match(page.url(), /\/sim\/connect\/oauth2\/authorize\?appid=wxsimh5000000000&/);
  page.off("request", watch);
  assert.deepEqual(sentToTrap, [], "the login starts at the page's own wxauth");
  await page.goto(PAGE, { waitUntil: "load" });

  step("a link carrying a code and state this page did not ask for is refused");
  const forged = new URL(PAGE);
  forged.searchParams.set("code", "0123456789abcdef");
  forged.searchParams.set("state", "00");
  forged.searchParams.set("n", "not-ours");
  await page.evaluate(() => localStorage.clear());
  await page.goto(forged.toString(), { waitUntil: "load" });
  await page.waitForFunction(() =>
    document.getElementById("status").textContent.includes("not started on this page"));

  assert.deepEqual(errors, [], "no script error on the page");
  console.log("h5 example: ok");
} finally {
  await browser.close();
}

'use strict';
// Several apps on one server (docs/API.md, "Simulator" and "Apps and platforms"), against the real
// binary in simulator mode: its three apps, unknown_app, and its own
// rate limit (section 10).

const test = require('node:test');
const assert = require('node:assert/strict');
const { createClient, WxauthError } = require('..');
const { startServer, postJson, claims } = require('./helpers.js');
const { APPS, RUNTIMES, onRuntime } = require('./runtimes.js');

const KEY = 'wxauth_session';
const byName = (n) => RUNTIMES.find((r) => r.name === n);

test('the simulator\'s three apps', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());

  await t.test('one user, three apps: an openid per app, each token for its app and platform', async () => {
    const seen = {};
    for (const rt of RUNTIMES) {
      const { options } = onRuntime(rt, server.baseUrl, 'carol');
      const me = await createClient(options).me();
      assert.equal(me.appid, rt.app.appid, rt.name);
      assert.equal(me.platform, rt.app.platform, rt.name);
      (seen[rt.app.appid] = seen[rt.app.appid] || new Set()).add(me.openid);
    }
    // qq and uni both run the QQ app, tt and Taro the Douyin app: one openid each
    for (const app of Object.values(APPS)) assert.equal(seen[app.appid].size, 1, app.appid);
    const openids = Object.values(APPS).map((a) => [...seen[a.appid]][0]);
    assert.equal(new Set(openids).size, 3, 'a different openid in each app');
  });

  await t.test('an appid the server does not serve: unknown_app, nothing stored', async () => {
    const { dev, options } = onRuntime(byName('wx'), server.baseUrl, 'dave', { appid: 'wx00000000000000ff' });
    const client = createClient(options);
    await assert.rejects(client.login(), (err) => {
      assert.ok(err instanceof WxauthError);
      assert.equal(err.code, 'unknown_app');
      assert.equal(err.status, 400);
      assert.equal(err.appid, 'wx00000000000000ff');
      assert.ok(err.detail);
      return true;
    });
    assert.equal(dev.get(KEY), '');
    assert.equal(dev.count('/auth/login'), 1);
  });

  await t.test('a token of one app does not carry over to another (stored appid)', async () => {
    const rt = byName('wx');
    const a = onRuntime(rt, server.baseUrl, 'erin');
    await createClient(a.options).login();
    const stored = a.dev.get(KEY);
    // the same storage, a client configured for the QQ app: it logs in anew
    const b = onRuntime(byName('qq'), server.baseUrl, 'erin');
    b.dev.set(KEY, stored);
    const me = await createClient(b.options).me();
    assert.equal(me.appid, APPS.qq.appid);
    assert.equal(b.dev.loginCalls, 1);
    assert.equal(claims(b.dev.get(KEY).token).aud, APPS.qq.appid);
  });
});

test('the server\'s rate limit (WXAUTH_CLIENT_RATE=1, burst 5)', async (t) => {
  const server = await startServer({ WXAUTH_CLIENT_RATE: '1' });
  t.after(() => server.stop());

  await t.test('a login past the limit is backed off per Retry-After and succeeds', async () => {
    // spend the burst with bad codes (they are refused, but counted)
    let limited = null;
    for (let i = 0; i < 20 && !limited; i++) {
      const r = await postJson(server.baseUrl + '/auth/login', { code: 'spent-' + i });
      if (r.status === 429) limited = r;
    }
    assert.ok(limited, 'the server answered 429 within 20 logins');
    assert.equal(limited.body.code, 'rate_limited');

    const { dev, options } = onRuntime(byName('tt'), server.baseUrl, 'frank');
    const client = createClient(options);
    const me = await client.me();
    assert.equal(me.appid, APPS.douyin.appid);
    assert.ok(dev.count('/auth/login') >= 2, 'refused once, then let through');
  });
});

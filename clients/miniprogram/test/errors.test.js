'use strict';
// Errors and what the client does about each, against a fake wxauth that
// answers docs/API.md, "HTTP API"'s problem+json on demand (fake.js); and runtime
// detection. Independent of the real server's features.

const test = require('node:test');
const assert = require('node:assert/strict');
const { createClient, WxauthError } = require('..');
const { makeDevice } = require('./helpers.js');
const { RUNTIMES, onRuntime } = require('./runtimes.js');
const { makeWx } = require('./shims/wx.js');
const { makeQq } = require('./shims/qq.js');
const { makeTt } = require('./shims/tt.js');
const { makeUni } = require('./shims/uni.js');
const { startFake, problem } = require('./fake.js');

const KEY = 'wxauth_session';
const WX = RUNTIMES.find((r) => r.name === 'wx');

test('errors, with a fake server', async (t) => {
  const fake = await startFake();
  t.after(() => fake.stop());
  t.beforeEach(() => {
    for (const k of Object.keys(fake.routes)) delete fake.routes[k];
    fake.seen.length = 0;
  });

  for (const rt of RUNTIMES) {
    await t.test(`${rt.name}: unknown_app rejects the login with the appid sent, stores nothing, retries nothing`, async () => {
      const { dev, options } = onRuntime(rt, fake.baseUrl, 'u');
      fake.routes['POST /auth/login'] = () => ({ status: 400, body: problem(400, 'unknown_app', 'no app with this appid') });
      const client = createClient(options);
      await assert.rejects(client.request({ url: '/auth/me' }), (err) => {
        assert.ok(err instanceof WxauthError);
        assert.ok(err instanceof Error);
        assert.equal(err.name, 'WxauthError');
        assert.equal(err.code, 'unknown_app');
        assert.equal(err.status, 400);
        assert.equal(err.appid, rt.app.appid);
        assert.equal(err.detail, 'no app with this appid');
        assert.match(err.message, new RegExp('appid ' + rt.app.appid));
        return true;
      });
      assert.deepEqual(fake.calls('POST /auth/login').map((c) => c.body.appid), [rt.app.appid]);
      assert.equal(dev.get(KEY), '');
      assert.equal(fake.calls('GET /auth/me').length, 0);
    });
  }

  await t.test('unknown_app without an appid (no account-info call): the message says to pass one', async () => {
    const dev = makeDevice(fake.baseUrl, { user: 'u', appid: 'x' });
    dev.accountInfo = false;
    const client = createClient({ baseUrl: fake.baseUrl, wx: makeWx(dev) });
    assert.equal(client.appid, undefined);
    fake.routes['POST /auth/login'] = () => ({ status: 400, body: problem(400, 'unknown_app') });
    await assert.rejects(client.login(), (err) => {
      assert.equal(err.code, 'unknown_app');
      assert.equal(err.appid, undefined);
      assert.match(err.message, /pass options\.appid/);
      return true;
    });
    const sent = fake.calls('POST /auth/login')[0].body;
    assert.equal('appid' in sent, false, 'no appid field when none is known');
  });

  await t.test('the appid option wins over the account-info call', async () => {
    const { options } = onRuntime(WX, fake.baseUrl, 'u', { appid: 'wxother0000000000' });
    const client = createClient(options);
    await client.login();
    assert.equal(fake.calls('POST /auth/login')[0].body.appid, 'wxother0000000000');
  });

  await t.test('unsupported_platform from /wx/phone rejects as such, without a re-login', async () => {
    const { dev, options } = onRuntime(RUNTIMES.find((r) => r.name === 'tt'), fake.baseUrl, 'u');
    fake.routes['POST /wx/phone'] = () => ({ status: 400, body: problem(400, 'unsupported_platform', 'WeChat apps only') });
    const client = createClient(options);
    await assert.rejects(client.phone('pc'), (err) => {
      assert.ok(err instanceof WxauthError);
      assert.equal(err.code, 'unsupported_platform');
      assert.equal(err.status, 400);
      assert.equal(err.relogged, undefined);
      return true;
    });
    assert.equal(dev.loginCalls, 1);
    assert.equal(fake.calls('POST /wx/phone').length, 1);
  });

  await t.test('rate_limited on login with a short Retry-After: waits it out, retries once with a fresh code', async () => {
    const { dev, options } = onRuntime(WX, fake.baseUrl, 'u');
    let n = 0;
    fake.routes['POST /auth/login'] = () => (++n === 1
      ? { status: 429, headers: { 'Retry-After': '1' }, body: problem(429, 'rate_limited') }
      : { status: 200, body: { access_token: 'a.b.c', token_type: 'Bearer', expires_in: 7200 } });
    const client = createClient(options);
    const t0 = Date.now();
    const res = await client.request({ url: '/auth/me' });
    assert.equal(res.statusCode, 200);
    const logins = fake.calls('POST /auth/login');
    assert.equal(logins.length, 2);
    assert.ok(logins[1].at - logins[0].at >= 950, 'the second try came after Retry-After');
    assert.notEqual(logins[0].body.code, logins[1].body.code, 'a fresh code for the retry');
    assert.equal(dev.loginCalls, 2);
    assert.ok(Date.now() - t0 >= 950);
  });

  await t.test('rate_limited with a long Retry-After: rejects at once with retryAfter, then holds off', async () => {
    const { options } = onRuntime(WX, fake.baseUrl, 'u');
    fake.routes['POST /auth/login'] = () => ({ status: 429, headers: { 'Retry-After': '120' }, body: problem(429, 'rate_limited') });
    const client = createClient(options);
    const t0 = Date.now();
    await assert.rejects(client.login(), (err) => {
      assert.ok(err instanceof WxauthError);
      assert.equal(err.code, 'rate_limited');
      assert.equal(err.status, 429);
      assert.equal(err.retryAfter, 120);
      return true;
    });
    assert.ok(Date.now() - t0 < 900, 'no waiting');
    assert.equal(fake.calls('POST /auth/login').length, 1);

    // during the hold-off nothing goes to the server
    await assert.rejects(client.request({ url: '/auth/me' }), (err) => {
      assert.equal(err.code, 'rate_limited');
      assert.equal(err.status, 0, 'not sent');
      assert.ok(err.retryAfter > 100 && err.retryAfter <= 120);
      return true;
    });
    assert.equal(fake.calls('POST /auth/login').length, 1);
  });

  await t.test('Retry-After as an HTTP date; maxRetryWait bounds the wait', async () => {
    const { options } = onRuntime(WX, fake.baseUrl, 'u', { maxRetryWait: 1 });
    const when = new Date(Date.now() + 30000).toUTCString();
    fake.routes['POST /auth/login'] = () => ({ status: 429, headers: { 'Retry-After': when }, body: problem(429, 'rate_limited') });
    const client = createClient(options);
    await assert.rejects(client.login(), (err) => {
      assert.equal(err.code, 'rate_limited');
      assert.ok(err.retryAfter >= 28 && err.retryAfter <= 31, String(err.retryAfter));
      return true;
    });
    assert.equal(fake.calls('POST /auth/login').length, 1);
  });

  await t.test('rate_limited on a renewal: the request goes out with the current token', async () => {
    const { dev, options } = onRuntime(WX, fake.baseUrl, 'u');
    const client = createClient(options);
    await client.login();
    const s = dev.get(KEY);
    dev.set(KEY, Object.assign({}, s, { expiresAt: Date.now() + 1000 }));
    fake.routes['POST /auth/refresh'] = () => ({ status: 429, headers: { 'Retry-After': '60' }, body: problem(429, 'rate_limited') });
    const res = await client.request({ url: '/auth/me' });
    assert.equal(res.statusCode, 200);
    assert.equal(fake.calls('POST /auth/refresh').length, 1);
    assert.equal(fake.calls('GET /auth/me')[0].auth, 'Bearer ' + s.token);
  });

  await t.test('overloaded on decrypt with Retry-After 1: retried once', async () => {
    const { options } = onRuntime(WX, fake.baseUrl, 'u');
    let n = 0;
    fake.routes['POST /wx/decrypt'] = () => (++n === 1
      ? { status: 503, headers: { 'Retry-After': '1' }, body: problem(503, 'overloaded') }
      : { status: 200, body: { nickName: 'Dora', watermark: { appid: 'wxsimulator0000000', timestamp: 1 } } });
    const client = createClient(options);
    const data = await client.decrypt('ZW5j', 'aXY=');
    assert.equal(data.nickName, 'Dora');
    assert.equal(fake.calls('POST /wx/decrypt').length, 2);
  });

  await t.test('rate_limited on phone is not retried (the phone code may be spent)', async () => {
    const { options } = onRuntime(WX, fake.baseUrl, 'u');
    fake.routes['POST /wx/phone'] = () => ({ status: 429, headers: { 'Retry-After': '1' }, body: problem(429, 'rate_limited') });
    const client = createClient(options);
    await assert.rejects(client.phone('pc'), (err) => {
      assert.equal(err.code, 'rate_limited');
      assert.equal(err.retryAfter, 1);
      return true;
    });
    assert.equal(fake.calls('POST /wx/phone').length, 1);
  });

  await t.test('an error answer that is not problem+json is http_error', async () => {
    const { options } = onRuntime(WX, fake.baseUrl, 'u');
    fake.routes['POST /auth/login'] = () => ({ status: 502, body: '<html>bad gateway</html>' });
    const client = createClient(options);
    await assert.rejects(client.login(), (err) => {
      assert.equal(err.code, 'http_error');
      assert.equal(err.status, 502);
      return true;
    });
  });

  await t.test('a failing login call is login_failed; no answer is network_error', async () => {
    const { dev, options } = onRuntime(WX, fake.baseUrl, 'u');
    fake.routes['POST /sim/login'] = () => ({ status: 500, body: problem(500, 'boom') });
    const client = createClient(options);
    await assert.rejects(client.login(), (err) => {
      assert.equal(err.code, 'login_failed');
      assert.equal(err.status, 0);
      return true;
    });
    assert.equal(dev.loginCalls, 1);

    const off = onRuntime(WX, 'http://127.0.0.1:9', 'u');
    off.dev.fakeCode = 'c'; // the login call works; nothing answers on port 9
    await assert.rejects(createClient(off.options).login(), (err) => {
      assert.equal(err.code, 'network_error');
      assert.equal(err.status, 0);
      return true;
    });
  });
});

test('runtime detection', async (t) => {
  const fake = await startFake();
  t.after(() => fake.stop());
  const names = ['wx', 'qq', 'tt', 'uni'];
  const clear = () => { for (const n of names) delete globalThis[n]; };
  t.afterEach(clear);

  const dev = (appid) => makeDevice(fake.baseUrl, { user: 'u', appid });

  await t.test('each global alone is found, with its account-info call', async () => {
    const cases = [
      ['wx', makeWx(dev('wxa')), 'wxa'],
      ['qq', makeQq(dev('1101')), '1101'],
      ['tt', makeTt(dev('tta')), 'tta'],
      ['uni', makeUni(dev('wxb')), 'wxb'],
    ];
    for (const [name, api, appid] of cases) {
      clear();
      globalThis[name] = api;
      const client = createClient({ baseUrl: fake.baseUrl });
      assert.equal(client.runtime, name);
      assert.equal(client.appid, appid);
      fake.seen.length = 0;
      await client.login();
      assert.equal(fake.calls('POST /auth/login')[0].body.appid, appid);
    }
  });

  await t.test('uni before the platform object; qq and tt before wx', async () => {
    globalThis.wx = makeWx(dev('wxa'));
    globalThis.qq = makeQq(dev('1101'));
    assert.equal(createClient({ baseUrl: fake.baseUrl }).runtime, 'qq');
    delete globalThis.qq;
    globalThis.tt = makeTt(dev('tta'));
    assert.equal(createClient({ baseUrl: fake.baseUrl }).runtime, 'tt');
    globalThis.uni = makeUni(dev('wxb'));
    assert.equal(createClient({ baseUrl: fake.baseUrl }).runtime, 'uni');
  });

  await t.test('a runtime passed in wins over the globals; two passed in is an error', async () => {
    globalThis.wx = makeWx(dev('wxa'));
    const client = createClient({ baseUrl: fake.baseUrl, tt: makeTt(dev('tta')) });
    assert.equal(client.runtime, 'tt');
    assert.equal(client.appid, 'tta');
    assert.throws(() => createClient({ baseUrl: fake.baseUrl, wx: makeWx(dev('a')), tt: makeTt(dev('b')) }), /one runtime/);
  });

  await t.test('no runtime at all is a clear error', () => {
    assert.throws(() => createClient({ baseUrl: fake.baseUrl }), /no mini-program runtime found/);
  });
});

'use strict';
// The client against the real wxauth binary (simulator mode), on each runtime
// (wx, qq, tt, uni, Taro) through its shim, each as one of the simulator's
// apps (runtimes.js). Run: node --test clients/miniprogram/test/
// (WXAUTH_BIN overrides the binary)

const test = require('node:test');
const assert = require('node:assert/strict');
const { createClient } = require('..');
const { startServer, claims } = require('./helpers.js');
const { RUNTIMES, onRuntime } = require('./runtimes.js');

const KEY = 'wxauth_session';

/** The same token with a broken signature: well formed, refused by the server. */
function spoil(token) {
  const [h, p, s] = token.split('.');
  return [h, p, (s[0] === 'A' ? 'B' : 'A') + s.slice(1)].join('.');
}

for (const rt of RUNTIMES) {
  /** A client and its device, on this runtime, for a user name of its own. */
  const setup = (server, user, opts) => {
    const { dev, options } = onRuntime(rt, server.baseUrl, user, opts);
    return { dev, client: createClient(options) };
  };

  test(`${rt.name} on the ${rt.app.platform} app: default server`, async (t) => {
    const server = await startServer();
    t.after(() => server.stop());

    await t.test('login stores the token and its expiry', async () => {
      const { dev, client } = setup(server, 'login-user');
      const before = Date.now();
      const body = await client.login();
      const after = Date.now();
      assert.equal(body.token_type, 'Bearer');
      assert.equal(typeof body.access_token, 'string');
      assert.equal(dev.loginCalls, 1);
      const s = dev.get(KEY);
      assert.equal(s.token, body.access_token);
      assert.equal(s.expiresIn, body.expires_in);
      assert.ok(s.expiresAt >= before + body.expires_in * 1000 && s.expiresAt <= after + body.expires_in * 1000);
      const c = claims(body.access_token);
      assert.equal(c.exp - c.iat, body.expires_in);

      client.logout();
      assert.equal(dev.get(KEY), '');
    });

    await t.test('login sends the appid; the token and /auth/me name the app and its platform', async () => {
      const { dev, client } = setup(server, 'app-user');
      assert.equal(client.runtime, rt.name);
      assert.equal(client.appid, rt.app.appid);
      const body = await client.login();
      const sent = dev.requests.find((r) => r.url === '/auth/login');
      const code = JSON.parse(sent.body).code;
      assert.deepEqual(JSON.parse(sent.body), { code, appid: rt.app.appid });
      const c = claims(body.access_token);
      assert.equal(c.aud, rt.app.appid);
      assert.equal(c.plat, rt.app.platform);
      const me = await client.me();
      assert.equal(me.openid, c.sub);
      assert.equal(me.appid, rt.app.appid);
      assert.equal(me.platform, rt.app.platform);
      assert.equal(dev.get(KEY).appid, rt.app.appid);
    });

    await t.test('request logs in first, adds the bearer and reaches /auth/me', async () => {
      const { dev, client } = setup(server, 'me-user');
      const res = await client.request({ url: '/auth/me' });
      assert.equal(res.statusCode, 200);
      assert.equal(dev.loginCalls, 1);
      const token = dev.get(KEY).token;
      assert.equal(res.data.openid, claims(token).sub);
      assert.equal(res.data.exp, claims(token).exp);
      const me = dev.requests.filter((r) => r.url === '/auth/me');
      assert.deepEqual(me.map((r) => r.auth), ['Bearer ' + token]);
      assert.match(String(res.header['content-type']), /application\/json/);

      // a second request reuses the token
      await client.request({ url: '/auth/me' });
      assert.equal(dev.loginCalls, 1);
      assert.equal(dev.count('/auth/refresh'), 0);
    });

    await t.test('concurrent first requests share one login', async () => {
      const { dev, client } = setup(server, 'first-user');
      const all = await Promise.all(Array.from({ length: 10 }, () => client.request({ url: '/auth/me' })));
      assert.deepEqual(all.map((r) => r.statusCode), Array(10).fill(200));
      assert.equal(dev.loginCalls, 1);
      assert.equal(dev.count('/auth/login'), 1);
    });

    await t.test('ten requests refused together with 401 cause exactly one login', async () => {
      const { dev, client } = setup(server, 'flight-user');
      await client.login();
      const s = dev.get(KEY);
      dev.set(KEY, Object.assign({}, s, { token: spoil(s.token) }));

      // hold the re-login's runtime login until all ten 401s have reached the client
      let refused = 0;
      let releaseLogin = null;
      dev.onLogin = (release) => { releaseLogin = release; };
      dev.onResponse = (r, deliver) => {
        deliver();
        if (r.statusCode === 401 && ++refused === 10) setImmediate(() => releaseLogin());
      };

      const all = await Promise.all(Array.from({ length: 10 }, () => client.request({ url: '/auth/me' })));
      assert.deepEqual(all.map((r) => r.statusCode), Array(10).fill(200));
      assert.equal(dev.loginCalls, 2, 'one login at the start, exactly one after the 401s');
      assert.equal(dev.count('/auth/me'), 20, 'each request sent once and retried once');
      const fresh = dev.get(KEY).token;
      assert.notEqual(fresh, s.token);
      assert.ok(all.every((r) => r.data.openid === claims(fresh).sub));
    });

    await t.test('401s that arrive after the re-login finished use its token, no second login', async () => {
      const { dev, client } = setup(server, 'late-user');
      await client.login();
      const s = dev.get(KEY);
      dev.set(KEY, Object.assign({}, s, { token: spoil(s.token) }));

      // let one 401 through; hold the other nine until the re-login has stored its token
      const held = [];
      let refused = 0;
      dev.onResponse = (r, deliver) => {
        if (r.statusCode !== 401) return deliver();
        refused += 1;
        held.push(deliver);
        if (refused === 10) held.shift()();
      };
      dev.onSave = () => {
        setImmediate(() => held.splice(0).forEach((d) => d()));
      };

      const all = await Promise.all(Array.from({ length: 10 }, () => client.request({ url: '/auth/me' })));
      assert.deepEqual(all.map((r) => r.statusCode), Array(10).fill(200));
      assert.equal(dev.loginCalls, 2, 'one login at the start, exactly one after the 401s');
      assert.equal(dev.count('/auth/me'), 20);
    });

    await t.test('a request refused again after the re-login is retried only once', async () => {
      const { dev, client } = setup(server, 'stubborn-user');
      await client.login();
      // every /auth/me goes out with a spoilt token: the server always says 401
      dev.beforeRequest = (o) => {
        if (o.url.endsWith('/auth/me')) o.header = Object.assign({}, o.header, { Authorization: 'Bearer x.y.z' });
        return o;
      };
      const res = await client.request({ url: '/auth/me' });
      assert.equal(res.statusCode, 401);
      assert.equal(res.data.code, 'invalid_token');
      assert.equal(dev.loginCalls, 2);
      assert.equal(dev.count('/auth/me'), 2);
    });

    await t.test('decrypt round trip with /sim/encrypt', async () => {
      const { dev, client } = setup(server, 'decrypt-user');
      await client.login();
      const enc = await server.post('/sim/encrypt', { user: 'decrypt-user', appid: rt.app.appid, data: { nickName: 'Dora', n: 7 } });
      assert.equal(enc.status, 200);
      const data = await client.decrypt(enc.body.encryptedData, enc.body.iv);
      assert.equal(data.nickName, 'Dora');
      assert.equal(data.n, 7);
      assert.equal(data.watermark.appid, rt.app.appid);
      assert.equal(dev.loginCalls, 1);
    });

    await t.test('decrypt_failed after a newer wx.login logs in again and says so', async () => {
      const { dev, client } = setup(server, 'stale-user');
      await client.login();
      const oldToken = dev.get(KEY).token;
      // a newer wx.login() elsewhere replaces the session_key sealed in our token
      assert.equal((await server.post('/sim/login', { user: 'stale-user', appid: rt.app.appid })).status, 200);
      const enc = await server.post('/sim/encrypt', { user: 'stale-user', appid: rt.app.appid, data: { nickName: 'Stale' } });

      await assert.rejects(client.decrypt(enc.body.encryptedData, enc.body.iv), (err) => {
        assert.ok(err instanceof Error);
        assert.equal(err.code, 'decrypt_failed');
        assert.equal(err.status, 422);
        assert.equal(err.relogged, true);
        assert.equal(typeof err.detail, 'string');
        return true;
      });
      assert.equal(dev.loginCalls, 2);
      assert.notEqual(dev.get(KEY).token, oldToken);

      // the caller fetches fresh data, encrypted with the new session_key: it decrypts
      const fresh = await server.post('/sim/encrypt', { user: 'stale-user', appid: rt.app.appid, data: { nickName: 'Fresh' } });
      const data = await client.decrypt(fresh.body.encryptedData, fresh.body.iv);
      assert.equal(data.nickName, 'Fresh');
      assert.equal(dev.loginCalls, 2);
    });

    await t.test('other errors reject with code, status and detail, without a re-login', async () => {
      const { dev, client } = setup(server, 'bad-user');
      await assert.rejects(client.decrypt('not base64!', 'x'), (err) => {
        assert.equal(err.code, 'invalid_request');
        assert.equal(err.status, 400);
        assert.ok(err.detail);
        assert.equal(err.relogged, undefined);
        return true;
      });
      assert.equal(dev.loginCalls, 1);
    });

    if (rt.app.platform === 'wechat') await t.test('phone with the code from /sim/phone-code', async () => {
      const { dev, client } = setup(server, 'phone-user');
      const pc = await server.post('/sim/phone-code', { user: 'phone-user', appid: rt.app.appid });
      assert.equal(pc.status, 200);
      const info = await client.phone(pc.body.code);
      assert.match(info.phoneNumber, /^\d+$/);
      assert.equal(info.countryCode, '86');
      assert.equal(info.watermark.appid, rt.app.appid);
      assert.equal(dev.loginCalls, 1);

      // a phone code works once
      await assert.rejects(client.phone(pc.body.code), (err) => {
        assert.equal(err.code, 'code_used');
        assert.equal(err.status, 400);
        assert.ok(err.detail);
        return true;
      });
    });

    if (rt.app.platform !== 'wechat') await t.test('phone is refused as unsupported_platform, without a re-login', async () => {
      const { dev, client } = setup(server, 'phone-user');
      await client.login();
      await assert.rejects(client.phone('any-phone-code'), (err) => {
        assert.equal(err.name, 'WxauthError');
        assert.equal(err.code, 'unsupported_platform');
        assert.equal(err.status, 400);
        assert.ok(err.detail);
        assert.equal(err.relogged, undefined);
        return true;
      });
      assert.equal(dev.loginCalls, 1);
      assert.equal(dev.count('/wx/phone'), 1);
    });

    await t.test('login failures reject with the server problem', async () => {
      const { dev, client } = setup(server, 'nobody');
      dev.fakeCode = 'not-a-real-code';
      await assert.rejects(client.request({ url: '/auth/me' }), (err) => {
        assert.equal(err.code, 'invalid_code');
        assert.equal(err.status, 400);
        return true;
      });
      assert.equal(dev.get(KEY), '');
    });
  });

  test(`${rt.name} on the ${rt.app.platform} app: short-lived tokens (WXAUTH_TOKEN_TTL=60)`, async (t) => {
    const server = await startServer({ WXAUTH_TOKEN_TTL: '60' });
    t.after(() => server.stop());

    await t.test('a token about to expire is renewed through /auth/refresh first', async () => {
      const { dev, client } = setup(server, 'renew-user');
      const first = await client.login();
      assert.equal(first.expires_in, 60);
      // the default renewBefore (300 s) is capped at half the lifetime: no renewal yet
      await client.request({ url: '/auth/me' });
      assert.equal(dev.count('/auth/refresh'), 0);

      // make the client believe it expires now
      const s = dev.get(KEY);
      dev.set(KEY, Object.assign({}, s, { expiresAt: Date.now() - 1000 }));

      const all = await Promise.all(Array.from({ length: 5 }, () => client.request({ url: '/auth/me' })));
      assert.deepEqual(all.map((r) => r.statusCode), Array(5).fill(200));
      assert.equal(dev.count('/auth/refresh'), 1, 'one renewal for five requests');
      assert.equal(dev.loginCalls, 1, 'renewed, not logged in again');

      // the refresh came before the requests, which all used the renewed token
      const idx = dev.requests.findIndex((r) => r.url === '/auth/refresh');
      assert.equal(dev.requests[idx].auth, 'Bearer ' + s.token);
      const renewed = dev.get(KEY);
      assert.notEqual(renewed.token, s.token);
      const after = dev.requests.slice(idx + 1);
      assert.equal(after.length, 5);
      assert.ok(after.every((r) => r.url === '/auth/me' && r.auth === 'Bearer ' + renewed.token));
      assert.ok(renewed.expiresAt > Date.now());
      assert.equal(claims(renewed.token).auth_time, claims(s.token).auth_time);
      assert.equal(claims(renewed.token).sub, claims(s.token).sub);
    });

    await t.test('renewBefore longer than the lifetime is capped', async () => {
      const { dev, client } = setup(server, 'cap-user', { renewBefore: 120 });
      await client.login();
      await client.request({ url: '/auth/me' });
      await client.request({ url: '/auth/me' });
      assert.equal(dev.count('/auth/refresh'), 0);
    });

    await t.test('a refresh refused with 401 leads to one re-login instead', async () => {
      const { dev, client } = setup(server, 'refused-refresh-user');
      await client.login();
      const s = dev.get(KEY);
      dev.set(KEY, { token: spoil(s.token), expiresAt: Date.now() - 1000, expiresIn: 60 });

      const all = await Promise.all(Array.from({ length: 5 }, () => client.request({ url: '/auth/me' })));
      assert.deepEqual(all.map((r) => r.statusCode), Array(5).fill(200));
      assert.equal(dev.count('/auth/refresh'), 1);
      assert.equal(dev.loginCalls, 2, 'exactly one re-login');
      assert.equal(dev.count('/auth/me'), 5, 'no request needed a retry');
    });

    await t.test('a token the server rejects before its expiry leads to one re-login', async () => {
      const { dev, client } = setup(server, 'rejected-user');
      await client.login();
      const s = dev.get(KEY);
      dev.set(KEY, Object.assign({}, s, { token: spoil(s.token) }));
      const res = await client.request({ url: '/auth/me' });
      assert.equal(res.statusCode, 200);
      assert.equal(dev.count('/auth/refresh'), 0);
      assert.equal(dev.loginCalls, 2);
      assert.equal(dev.count('/auth/me'), 2);
    });
  });
}

'use strict';
// The mini-program client against the real wxauth binary (simulator mode).
// Run: node --test clients/miniprogram/test/   (WXAUTH_BIN overrides the binary)

const test = require('node:test');
const assert = require('node:assert/strict');
const { createClient } = require('../wxauth.js');
const { startServer, makeWx, claims } = require('./helpers.js');

const KEY = 'wxauth_session';

/** A client and its wx shim for a user name of its own. */
function setup(server, user, opts) {
  const wx = makeWx(server.baseUrl, user);
  const client = createClient(Object.assign({ baseUrl: server.baseUrl, wx }, opts));
  return { wx, client };
}

/** The same token with a broken signature: well formed, refused by the server. */
function spoil(token) {
  const [h, p, s] = token.split('.');
  return [h, p, (s[0] === 'A' ? 'B' : 'A') + s.slice(1)].join('.');
}

test('default server', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());

  await t.test('login stores the token and its expiry', async () => {
    const { wx, client } = setup(server, 'login-user');
    const before = Date.now();
    const body = await client.login();
    const after = Date.now();
    assert.equal(body.token_type, 'Bearer');
    assert.equal(typeof body.access_token, 'string');
    assert.equal(wx.loginCalls, 1);
    const s = wx.getStorageSync(KEY);
    assert.equal(s.token, body.access_token);
    assert.equal(s.expiresIn, body.expires_in);
    assert.ok(s.expiresAt >= before + body.expires_in * 1000 && s.expiresAt <= after + body.expires_in * 1000);
    const c = claims(body.access_token);
    assert.equal(c.exp - c.iat, body.expires_in);

    client.logout();
    assert.equal(wx.getStorageSync(KEY), '');
  });

  await t.test('request logs in first, adds the bearer and reaches /auth/me', async () => {
    const { wx, client } = setup(server, 'me-user');
    const res = await client.request({ url: '/auth/me' });
    assert.equal(res.statusCode, 200);
    assert.equal(wx.loginCalls, 1);
    const token = wx.getStorageSync(KEY).token;
    assert.equal(res.data.openid, claims(token).sub);
    assert.equal(res.data.exp, claims(token).exp);
    const me = wx.requests.filter((r) => r.url === '/auth/me');
    assert.deepEqual(me.map((r) => r.auth), ['Bearer ' + token]);
    assert.match(String(res.header['content-type']), /application\/json/);

    // a second request reuses the token
    await client.request({ url: '/auth/me' });
    assert.equal(wx.loginCalls, 1);
    assert.equal(wx.count('/auth/refresh'), 0);
  });

  await t.test('concurrent first requests share one login', async () => {
    const { wx, client } = setup(server, 'first-user');
    const all = await Promise.all(Array.from({ length: 10 }, () => client.request({ url: '/auth/me' })));
    assert.deepEqual(all.map((r) => r.statusCode), Array(10).fill(200));
    assert.equal(wx.loginCalls, 1);
    assert.equal(wx.count('/auth/login'), 1);
  });

  await t.test('ten requests refused together with 401 cause exactly one login', async () => {
    const { wx, client } = setup(server, 'flight-user');
    await client.login();
    const s = wx.getStorageSync(KEY);
    wx.setStorageSync(KEY, Object.assign({}, s, { token: spoil(s.token) }));

    // hold the re-login's wx.login until all ten 401s have reached the client
    const login = wx.login;
    let refused = 0;
    let releaseLogin = null;
    wx.login = (cbs) => { releaseLogin = () => login.call(wx, cbs); };
    wx.onResponse = (r, deliver) => {
      deliver();
      if (r.statusCode === 401 && ++refused === 10) setImmediate(() => releaseLogin());
    };

    const all = await Promise.all(Array.from({ length: 10 }, () => client.request({ url: '/auth/me' })));
    assert.deepEqual(all.map((r) => r.statusCode), Array(10).fill(200));
    assert.equal(wx.loginCalls, 2, 'one login at the start, exactly one after the 401s');
    assert.equal(wx.count('/auth/me'), 20, 'each request sent once and retried once');
    const fresh = wx.getStorageSync(KEY).token;
    assert.notEqual(fresh, s.token);
    assert.ok(all.every((r) => r.data.openid === claims(fresh).sub));
  });

  await t.test('401s that arrive after the re-login finished use its token, no second login', async () => {
    const { wx, client } = setup(server, 'late-user');
    await client.login();
    const s = wx.getStorageSync(KEY);
    wx.setStorageSync(KEY, Object.assign({}, s, { token: spoil(s.token) }));

    // let one 401 through; hold the other nine until the re-login has stored its token
    const held = [];
    let refused = 0;
    wx.onResponse = (r, deliver) => {
      if (r.statusCode !== 401) return deliver();
      refused += 1;
      held.push(deliver);
      if (refused === 10) held.shift()();
    };
    const save = wx.setStorageSync;
    wx.setStorageSync = (k, v) => {
      save.call(wx, k, v);
      setImmediate(() => held.splice(0).forEach((d) => d()));
    };

    const all = await Promise.all(Array.from({ length: 10 }, () => client.request({ url: '/auth/me' })));
    assert.deepEqual(all.map((r) => r.statusCode), Array(10).fill(200));
    assert.equal(wx.loginCalls, 2, 'one login at the start, exactly one after the 401s');
    assert.equal(wx.count('/auth/me'), 20);
  });

  await t.test('a request refused again after the re-login is retried only once', async () => {
    const { wx, client } = setup(server, 'stubborn-user');
    await client.login();
    // every /auth/me goes out with a spoilt token: the server always says 401
    wx.beforeRequest = (o) => {
      if (o.url.endsWith('/auth/me')) o.header = Object.assign({}, o.header, { Authorization: 'Bearer x.y.z' });
      return o;
    };
    const res = await client.request({ url: '/auth/me' });
    assert.equal(res.statusCode, 401);
    assert.equal(res.data.code, 'invalid_token');
    assert.equal(wx.loginCalls, 2);
    assert.equal(wx.count('/auth/me'), 2);
  });

  await t.test('decrypt round trip with /sim/encrypt', async () => {
    const { wx, client } = setup(server, 'decrypt-user');
    await client.login();
    const enc = await server.post('/sim/encrypt', { user: 'decrypt-user', data: { nickName: 'Dora', n: 7 } });
    assert.equal(enc.status, 200);
    const data = await client.decrypt(enc.body.encryptedData, enc.body.iv);
    assert.equal(data.nickName, 'Dora');
    assert.equal(data.n, 7);
    assert.equal(data.watermark.appid, 'wxsimulator0000000');
    assert.equal(wx.loginCalls, 1);
  });

  await t.test('decrypt_failed after a newer wx.login logs in again and says so', async () => {
    const { wx, client } = setup(server, 'stale-user');
    await client.login();
    const oldToken = wx.getStorageSync(KEY).token;
    // a newer wx.login() elsewhere replaces the session_key sealed in our token
    assert.equal((await server.post('/sim/login', { user: 'stale-user' })).status, 200);
    const enc = await server.post('/sim/encrypt', { user: 'stale-user', data: { nickName: 'Stale' } });

    await assert.rejects(client.decrypt(enc.body.encryptedData, enc.body.iv), (err) => {
      assert.ok(err instanceof Error);
      assert.equal(err.code, 'decrypt_failed');
      assert.equal(err.status, 422);
      assert.equal(err.relogged, true);
      assert.equal(typeof err.detail, 'string');
      return true;
    });
    assert.equal(wx.loginCalls, 2);
    assert.notEqual(wx.getStorageSync(KEY).token, oldToken);

    // the caller fetches fresh data, encrypted with the new session_key: it decrypts
    const fresh = await server.post('/sim/encrypt', { user: 'stale-user', data: { nickName: 'Fresh' } });
    const data = await client.decrypt(fresh.body.encryptedData, fresh.body.iv);
    assert.equal(data.nickName, 'Fresh');
    assert.equal(wx.loginCalls, 2);
  });

  await t.test('other errors reject with code, status and detail, without a re-login', async () => {
    const { wx, client } = setup(server, 'bad-user');
    await assert.rejects(client.decrypt('not base64!', 'x'), (err) => {
      assert.equal(err.code, 'invalid_request');
      assert.equal(err.status, 400);
      assert.ok(err.detail);
      assert.equal(err.relogged, undefined);
      return true;
    });
    assert.equal(wx.loginCalls, 1);
  });

  await t.test('phone with the code from /sim/phone-code', async () => {
    const { wx, client } = setup(server, 'phone-user');
    const pc = await server.post('/sim/phone-code', { user: 'phone-user' });
    assert.equal(pc.status, 200);
    const info = await client.phone(pc.body.code);
    assert.match(info.phoneNumber, /^\d+$/);
    assert.equal(info.countryCode, '86');
    assert.equal(info.watermark.appid, 'wxsimulator0000000');
    assert.equal(wx.loginCalls, 1);

    // a phone code works once
    await assert.rejects(client.phone(pc.body.code), (err) => {
      assert.equal(err.code, 'code_used');
      assert.equal(err.status, 400);
      assert.ok(err.detail);
      return true;
    });
  });

  await t.test('login failures reject with the server problem', async () => {
    const wx = makeWx(server.baseUrl, 'nobody');
    wx.login = ({ success }) => { wx.loginCalls += 1; success({ code: 'not-a-real-code' }); };
    const client = createClient({ baseUrl: server.baseUrl, wx });
    await assert.rejects(client.request({ url: '/auth/me' }), (err) => {
      assert.equal(err.code, 'invalid_code');
      assert.equal(err.status, 400);
      return true;
    });
    assert.equal(wx.getStorageSync(KEY), '');
  });
});

test('short-lived tokens (WXAUTH_TOKEN_TTL=60)', async (t) => {
  const server = await startServer({ WXAUTH_TOKEN_TTL: '60' });
  t.after(() => server.stop());

  await t.test('a token about to expire is renewed through /auth/refresh first', async () => {
    const { wx, client } = setup(server, 'renew-user');
    const first = await client.login();
    assert.equal(first.expires_in, 60);
    // the default renewBefore (300 s) is capped at half the lifetime: no renewal yet
    await client.request({ url: '/auth/me' });
    assert.equal(wx.count('/auth/refresh'), 0);

    // make the client believe it expires now
    const s = wx.getStorageSync(KEY);
    wx.setStorageSync(KEY, Object.assign({}, s, { expiresAt: Date.now() - 1000 }));

    const all = await Promise.all(Array.from({ length: 5 }, () => client.request({ url: '/auth/me' })));
    assert.deepEqual(all.map((r) => r.statusCode), Array(5).fill(200));
    assert.equal(wx.count('/auth/refresh'), 1, 'one renewal for five requests');
    assert.equal(wx.loginCalls, 1, 'renewed, not logged in again');

    // the refresh came before the requests, which all used the renewed token
    const idx = wx.requests.findIndex((r) => r.url === '/auth/refresh');
    assert.equal(wx.requests[idx].auth, 'Bearer ' + s.token);
    const renewed = wx.getStorageSync(KEY);
    assert.notEqual(renewed.token, s.token);
    const after = wx.requests.slice(idx + 1);
    assert.equal(after.length, 5);
    assert.ok(after.every((r) => r.url === '/auth/me' && r.auth === 'Bearer ' + renewed.token));
    assert.ok(renewed.expiresAt > Date.now());
    assert.equal(claims(renewed.token).auth_time, claims(s.token).auth_time);
    assert.equal(claims(renewed.token).sub, claims(s.token).sub);
  });

  await t.test('renewBefore longer than the lifetime is capped', async () => {
    const { wx, client } = setup(server, 'cap-user', { renewBefore: 120 });
    await client.login();
    await client.request({ url: '/auth/me' });
    await client.request({ url: '/auth/me' });
    assert.equal(wx.count('/auth/refresh'), 0);
  });

  await t.test('a refresh refused with 401 leads to one re-login instead', async () => {
    const { wx, client } = setup(server, 'refused-refresh-user');
    await client.login();
    const s = wx.getStorageSync(KEY);
    wx.setStorageSync(KEY, { token: spoil(s.token), expiresAt: Date.now() - 1000, expiresIn: 60 });

    const all = await Promise.all(Array.from({ length: 5 }, () => client.request({ url: '/auth/me' })));
    assert.deepEqual(all.map((r) => r.statusCode), Array(5).fill(200));
    assert.equal(wx.count('/auth/refresh'), 1);
    assert.equal(wx.loginCalls, 2, 'exactly one re-login');
    assert.equal(wx.count('/auth/me'), 5, 'no request needed a retry');
  });

  await t.test('a token the server rejects before its expiry leads to one re-login', async () => {
    const { wx, client } = setup(server, 'rejected-user');
    await client.login();
    const s = wx.getStorageSync(KEY);
    wx.setStorageSync(KEY, Object.assign({}, s, { token: spoil(s.token) }));
    const res = await client.request({ url: '/auth/me' });
    assert.equal(res.statusCode, 200);
    assert.equal(wx.count('/auth/refresh'), 0);
    assert.equal(wx.loginCalls, 2);
    assert.equal(wx.count('/auth/me'), 2);
  });
});

'use strict';
// The runtimes of Alipay (`my`), Baidu (`swan`), Kuaishou (`ks`) and Feishu
// (its `tt`), each through its shim, against the real binary in simulator
// mode and its app of each platform: login, the token stored through the
// runtime's own storage, requests with the bearer, a re-login on 401, user
// data where the platform has it, and detection of the runtime's global.

const test = require('node:test');
const assert = require('node:assert/strict');
const { createClient, WxauthError } = require('..');
const { startServer, makeDevice, claims } = require('./helpers.js');
const { makeMy } = require('./shims/my.js');
const { makeSwan } = require('./shims/swan.js');
const { makeKs } = require('./shims/ks.js');
const { makeFeishu } = require('./shims/feishu.js');
const { makeTt } = require('./shims/tt.js');

const KEY = 'wxauth_session';

/** name: the option; accountInfo: whether the runtime reports its appid. */
const PLATFORMS = [
  { name: 'my', make: makeMy, appid: '2021000000000000', platform: 'alipay', accountInfo: true, decrypt: 'none' },
  { name: 'swan', make: makeSwan, appid: 'bdsimulator0000000', platform: 'baidu', accountInfo: false, decrypt: 'yes' },
  { name: 'ks', make: makeKs, appid: 'kssimulator0000000', platform: 'kuaishou', accountInfo: false, decrypt: 'yes' },
  { name: 'feishu', make: makeFeishu, appid: 'clisimulator000000', platform: 'feishu', accountInfo: false, decrypt: 'unsupported' },
];

function onPlatform(p, baseUrl, user) {
  const dev = makeDevice(baseUrl, { user, appid: p.appid });
  dev.accountInfo = p.accountInfo;
  const api = p.make(dev);
  const options = Object.assign({ baseUrl, [p.name]: api }, p.accountInfo ? {} : { appid: p.appid });
  return { dev, api, client: createClient(options) };
}

test('the new platforms\' runtimes against the simulator', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());

  for (const p of PLATFORMS) {
    await t.test(`${p.name} logs in to the ${p.platform} app and keeps the token in its storage`, async () => {
      const { dev, client } = onPlatform(p, server.baseUrl, 'nina-' + p.name);
      assert.equal(client.runtime, p.name);
      assert.equal(client.appid, p.appid);
      const body = await client.login();
      const c = claims(body.access_token);
      assert.equal(c.aud, p.appid);
      assert.equal(c.plat, p.platform);
      assert.equal(dev.get(KEY).token, body.access_token);
      const login = dev.requests.find((r) => r.url === '/auth/login');
      assert.equal(JSON.parse(login.body).appid, p.appid);
      const me = await client.me();
      assert.equal(me.platform, p.platform);
      assert.equal(me.openid, c.sub);
      assert.equal(dev.loginCalls, 1);
    });

    await t.test(`${p.name}: a refused token logs in again once`, async () => {
      const { dev, client } = onPlatform(p, server.baseUrl, 'omar-' + p.name);
      await client.login();
      const s = dev.get(KEY);
      dev.set(KEY, Object.assign({}, s, { token: s.token.slice(0, -4) + 'AAAA' }));
      const res = await client.request({ url: '/auth/me' });
      assert.equal(res.statusCode, 200);
      assert.equal(dev.loginCalls, 2);
      assert.notEqual(dev.get(KEY).token, s.token);
    });

    await t.test(`${p.name}: user data`, async () => {
      const user = 'pia-' + p.name;
      const { client } = onPlatform(p, server.baseUrl, user);
      await client.login();
      if (p.decrypt === 'yes') {
        const enc = await server.post('/sim/encrypt', { user, appid: p.appid, data: { phoneNumber: '13800000000' } });
        assert.equal(enc.status, 200);
        const data = await client.decrypt(enc.body.encryptedData, enc.body.iv);
        assert.equal(data.phoneNumber, '13800000000');
      } else if (p.decrypt === 'unsupported') {
        await assert.rejects(client.decrypt('AAAA', 'AAAAAAAAAAAAAAAAAAAAAA=='), (err) => {
          assert.ok(err instanceof WxauthError);
          assert.equal(err.code, 'unsupported_platform');
          return true;
        });
      }
    });
  }

  await t.test('the runtime is found by its global: my, swan, ks, and Feishu\'s tt apart from Douyin\'s', async () => {
    const dev = makeDevice(server.baseUrl, { user: 'quin', appid: 'x' });
    const cases = [
      ['my', makeMy(dev), 'my'],
      ['swan', makeSwan(dev), 'swan'],
      ['ks', makeKs(dev), 'ks'],
      ['tt', makeFeishu(dev), 'feishu'],
      ['tt', makeTt(dev), 'tt'],
    ];
    for (const [global, api, expected] of cases) {
      globalThis[global] = api;
      try {
        assert.equal(createClient({ baseUrl: server.baseUrl, appid: 'x' }).runtime, expected);
      } finally {
        delete globalThis[global];
      }
    }
  });
});

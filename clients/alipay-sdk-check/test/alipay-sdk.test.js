'use strict';
// Alipay's own Node SDK (`alipay-sdk` from the npm registry) against the real
// wxauth binary's simulated Alipay gateway, so that wxauth's client and its
// simulator cannot share a signing mistake:
//  - a request the SDK signs with the simulator app's private key is accepted
//    by the simulated gateway (which verifies it as wxauth's client signs);
//  - the gateway's signed answers verify with the SDK against the
//    simulator's "Alipay public key" (and fail with any other key);
//  - a code spent through the SDK is spent for wxauth too (one gateway).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { AlipaySdk } = require('alipay-sdk');
const { startServer, postJson } = require('../../miniprogram/test/helpers.js');

const APPID = '2021000000000000';
const KEYS = path.resolve(__dirname, '../../../src/sim/alipay');
const read = (name) => fs.readFileSync(path.join(KEYS, name), 'utf8');

function sdk(baseUrl, alipayPublicKey) {
  return new AlipaySdk({
    appId: APPID,
    privateKey: read('app-private.pem'), // PKCS#1, the SDK's default keyType
    alipayPublicKey,
    gateway: baseUrl + '/sim/alipay/gateway.do',
    camelcase: false,
  });
}

async function authCode(baseUrl, user) {
  const r = await postJson(baseUrl + '/sim/login', { user, appid: APPID });
  assert.equal(r.status, 200);
  return r.body.code;
}

test('alipay-sdk against the simulated Alipay gateway', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const gatewayPublic = read('gateway-public.pem');

  await t.test('the SDK\'s signed request is accepted, and the answer verifies with the SDK', async () => {
    const code = await authCode(server.baseUrl, 'alice');
    const result = await sdk(server.baseUrl, gatewayPublic).exec(
      'alipay.system.oauth.token',
      { grant_type: 'authorization_code', code },
      { validateSign: true }
    );
    assert.equal(typeof result.open_id, 'string');
    assert.equal(result.sub_code, undefined, JSON.stringify(result));
    // The same open_id wxauth gives the user's token.
    const again = await authCode(server.baseUrl, 'alice');
    const login = await postJson(server.baseUrl + '/auth/login', { code: again, appid: APPID });
    assert.equal(login.status, 200);
    const me = await fetch(server.baseUrl + '/auth/me', {
      headers: { authorization: 'Bearer ' + login.body.access_token },
    }).then((r) => r.json());
    assert.equal(me.openid, result.open_id);
    // The SDK spent the code: wxauth cannot use it again.
    const spent = await postJson(server.baseUrl + '/auth/login', { code, appid: APPID });
    assert.equal(spent.body.code, 'invalid_code');
  });

  await t.test('the SDK refuses the answer when it expects another Alipay key', async () => {
    const code = await authCode(server.baseUrl, 'bob');
    await assert.rejects(
      sdk(server.baseUrl, read('app-public.pem')).exec(
        'alipay.system.oauth.token',
        { grant_type: 'authorization_code', code },
        { validateSign: true }
      ),
      /验签失败/
    );
  });

  await t.test('a request signed with another key is refused by the gateway', async () => {
    const code = await authCode(server.baseUrl, 'carol');
    const other = new AlipaySdk({
      appId: APPID,
      privateKey: read('gateway-private.pem'),
      keyType: 'PKCS8',
      alipayPublicKey: gatewayPublic,
      gateway: server.baseUrl + '/sim/alipay/gateway.do',
      camelcase: false,
    });
    // The gateway's error_response is unsigned, as Alipay's is: nothing to verify.
    const result = await other.exec('alipay.system.oauth.token', { grant_type: 'authorization_code', code });
    assert.equal(result.sub_code, 'isv.invalid-signature');
    // ... and the code was not spent.
    const login = await postJson(server.baseUrl + '/auth/login', { code, appid: APPID });
    assert.equal(login.status, 200);
  });
});

// wxauth tokens verified by jose (a standard JWT library) with the JWK Set only,
// for each of the three algorithms wxauth signs with.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as jose from 'jose';
import { tempDir, keygen, startServer } from '../server.js';

const ISSUER = 'wxauth';
const AUDIENCE = 'wxsimulator0000000';
const KEYS = [
  { alg: 'eddsa', jwsAlg: 'EdDSA', kid: 'k-eddsa', kty: 'OKP' },
  { alg: 'es256', jwsAlg: 'ES256', kid: 'k-es256', kty: 'EC' },
  { alg: 'rs256', jwsAlg: 'RS256', kid: 'k-rs256', kty: 'RSA' },
];

async function post(url, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, { method: 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

/** /sim/login + /auth/login + /auth/me: a token and the openid the server reports for it. */
async function login(baseUrl, user) {
  const sim = await post(`${baseUrl}/sim/login`, { user });
  assert.equal(sim.status, 200);
  const tok = await post(`${baseUrl}/auth/login`, { code: sim.body.code });
  assert.equal(tok.status, 200, JSON.stringify(tok.body));
  const me = await fetch(`${baseUrl}/auth/me`, { headers: { authorization: `Bearer ${tok.body.access_token}` } });
  assert.equal(me.status, 200);
  return { token: tok.body.access_token, expiresIn: tok.body.expires_in, openid: (await me.json()).openid };
}

/** The same token with one claim changed and the original signature. */
function tamper(token) {
  const [h, p, s] = token.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  claims.sub = 'o-someone-else';
  return [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.');
}

/** Everything a service in another language checks, for one token. */
async function verifyAll(baseUrl, key, user) {
  const JWKS = jose.createRemoteJWKSet(new URL(`${baseUrl}/.well-known/jwks.json`));
  const opts = { issuer: ISSUER, audience: AUDIENCE, algorithms: [key.jwsAlg] };
  const { token, openid, expiresIn } = await login(baseUrl, user);

  const { payload, protectedHeader } = await jose.jwtVerify(token, JWKS, opts);
  assert.deepEqual(protectedHeader, { alg: key.jwsAlg, typ: 'JWT', kid: key.kid });
  assert.equal(payload.sub, openid);
  assert.equal(payload.exp - payload.iat, expiresIn);
  assert.ok(payload.jti && payload.auth_time);

  // a token renewed through /auth/refresh verifies the same way
  const renewed = await post(`${baseUrl}/auth/refresh`, undefined, token);
  assert.equal(renewed.status, 200);
  const again = await jose.jwtVerify(renewed.body.access_token, JWKS, opts);
  assert.equal(again.payload.sub, openid);
  assert.equal(again.protectedHeader.kid, key.kid);

  // tampered claims or signature: refused by jose and by wxauth
  const forged = tamper(token);
  await assert.rejects(jose.jwtVerify(forged, JWKS, opts), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  const [h, p, s] = token.split('.');
  const badSig = [h, p, (s[0] === 'A' ? 'B' : 'A') + s.slice(1)].join('.');
  await assert.rejects(jose.jwtVerify(badSig, JWKS, opts), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  const me = await fetch(`${baseUrl}/auth/me`, { headers: { authorization: `Bearer ${forged}` } });
  assert.equal(me.status, 401);

  // the algorithm is pinned, and iss/aud are checked
  const other = KEYS.find((k) => k !== key).jwsAlg;
  await assert.rejects(jose.jwtVerify(token, JWKS, { ...opts, algorithms: [other] }), { code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
  await assert.rejects(jose.jwtVerify(token, JWKS, { ...opts, audience: 'wxsomeoneelse00000' }), {
    code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
  });
  await assert.rejects(jose.jwtVerify(token, JWKS, { ...opts, issuer: 'not-wxauth' }), {
    code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
  });
}

/** A key folder with one key of each algorithm. */
function threeKeys() {
  const dir = tempDir();
  for (const k of KEYS) assert.equal(keygen(k.alg, path.join(dir, 'keys'), k.kid), k.kid);
  return dir;
}

test('the JWK Set publishes all three keys', async (t) => {
  const dir = threeKeys();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const server = await startServer(dir);
  t.after(() => server.stop());

  const res = await fetch(`${server.baseUrl}/.well-known/jwks.json`);
  assert.equal(res.status, 200);
  const { keys } = await res.json();
  assert.equal(keys.length, 3);
  for (const k of KEYS) {
    const jwk = keys.find((j) => j.kid === k.kid);
    assert.ok(jwk, `kid ${k.kid} published`);
    assert.equal(jwk.alg, k.jwsAlg);
    assert.equal(jwk.kty, k.kty);
    assert.equal(jwk.use, 'sig');
    for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(jwk[priv], undefined, `no private ${priv}`);
    await jose.importJWK(jwk, k.jwsAlg); // jose accepts it as a key of that alg
  }
});

for (const key of KEYS) {
  test(`${key.jwsAlg}: pinned with WXAUTH_SIGNING_KID, verified by jose`, async (t) => {
    const dir = threeKeys();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const server = await startServer(dir, { WXAUTH_SIGNING_KID: key.kid });
    t.after(() => server.stop());
    await verifyAll(server.baseUrl, key, `interop-${key.alg}`);
  });
}

test('pin file + SIGHUP moves the signer through all three, each verified by jose', async (t) => {
  const dir = threeKeys();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const server = await startServer(dir);
  t.after(() => server.stop());

  for (const key of KEYS) {
    fs.writeFileSync(path.join(dir, 'keys', 'signing-kid'), `${key.kid}\n`);
    process.kill(server.pid, 'SIGHUP');
    // the rescan is asynchronous: wait (bounded) until /readyz names the new signer
    const deadline = Date.now() + 10000;
    for (;;) {
      const ready = await (await fetch(`${server.baseUrl}/readyz`)).json();
      if (ready.signing_kid === key.kid) break;
      assert.ok(Date.now() < deadline, `signer still ${ready.signing_kid} after SIGHUP, wanted ${key.kid}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await verifyAll(server.baseUrl, key, `rotate-${key.alg}`);
  }
});

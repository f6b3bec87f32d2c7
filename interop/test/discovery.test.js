// A service configured with wxauth's issuer URL only, as Spring Security's
// `issuer-uri` is: it reads the discovery document, follows its `jwks_uri`
// with jose's createRemoteJWKSet, and verifies a token against the issuer
// and algorithms the document names.
import test from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import * as jose from 'jose';
import { tempDir, startServer } from '../server.js';

const AUDIENCE = 'wxsimulator0000000';

/** A free loopback port: the public URL must be known before wxauth starts. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function post(url, body) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, url);
  return res.json();
}

test('a token verifies with nothing but the issuer URL: discovery, jwks_uri, jose', async () => {
  const port = await freePort();
  const issuerUrl = `http://127.0.0.1:${port}`;
  const server = await startServer(tempDir(), {
    WXAUTH_BIND: `127.0.0.1:${port}`,
    WXAUTH_PUBLIC_URL: issuerUrl,
  });
  try {
    // What an OpenID Connect Discovery 1.0 client does with an issuer URL.
    const res = await fetch(`${issuerUrl}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const config = await res.json();
    assert.equal(config.issuer, issuerUrl);
    assert.equal(config.jwks_uri, `${issuerUrl}/.well-known/jwks.json`);
    assert.deepEqual(config.id_token_signing_alg_values_supported, ['EdDSA']);

    const { code } = await post(`${issuerUrl}/sim/login`, { user: 'alice' });
    const { access_token: token } = await post(`${issuerUrl}/auth/login`, { code });
    const JWKS = jose.createRemoteJWKSet(new URL(config.jwks_uri));
    const options = {
      issuer: config.issuer,
      audience: AUDIENCE,
      algorithms: config.id_token_signing_alg_values_supported,
    };

    const { payload } = await jose.jwtVerify(token, JWKS, options);

    assert.equal(payload.iss, issuerUrl);
    assert.equal(payload.aud, AUDIENCE);
    assert.match(payload.sub, /^o/);
    // The issuer is checked: the default `wxauth` is another issuer's here.
    await assert.rejects(
      jose.jwtVerify(token, JWKS, { ...options, issuer: 'wxauth' }),
      { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED' },
    );
  } finally {
    await server.stop();
  }
});

test('without WXAUTH_PUBLIC_URL there is no discovery document', async () => {
  const server = await startServer(tempDir());
  try {
    const res = await fetch(`${server.baseUrl}/.well-known/openid-configuration`);
    assert.equal(res.status, 404);
    assert.equal((await res.json()).code, 'not_found');
  } finally {
    await server.stop();
  }
});

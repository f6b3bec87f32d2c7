'use strict';
// A small fake wxauth for client behaviour the real simulator cannot be made
// to show on demand: problem+json errors of docs/API.md, "HTTP API" (unknown_app,
// unsupported_platform, rate_limited with Retry-After, overloaded, a proxy's
// HTML), answered by per-path handlers a test sets.

const http = require('node:http');

/**
 * Starts on 127.0.0.1 (a free port). `routes['POST /auth/login'] = (req, body) => answer`
 * where answer is {status, body, headers}; unset routes answer like the
 * simulator's happy path: /sim/login gives codes c1, c2, ...; /auth/login,
 * /auth/refresh give tokens; /auth/me, /wx/decrypt answer 200.
 */
async function startFake() {
  let codes = 0;
  let tokens = 0;
  const seen = [];
  const routes = {};
  const token = () => {
    tokens += 1;
    // a JWT-shaped string; the client never reads it
    return 'eyJhbGciOiJFZERTQSJ9.' + Buffer.from(JSON.stringify({ n: tokens })).toString('base64url') + '.sig';
  };
  const defaults = {
    'POST /sim/login': () => ({ status: 200, body: { code: 'c' + ++codes } }),
    'POST /auth/login': () => ({ status: 200, body: { access_token: token(), token_type: 'Bearer', expires_in: 7200 } }),
    'POST /auth/refresh': () => ({ status: 200, body: { access_token: token(), token_type: 'Bearer', expires_in: 7200 } }),
    'GET /auth/me': () => ({ status: 200, body: { openid: 'o1', unionid: null, exp: 0, appid: 'wxsimulator0000000', platform: 'wechat' } }),
    'POST /wx/decrypt': () => ({ status: 200, body: { nickName: 'Dora', watermark: { appid: 'wxsimulator0000000', timestamp: 1 } } }),
  };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body = null;
      try { body = JSON.parse(text); } catch (_) { /* none */ }
      const key = req.method + ' ' + req.url.split('?')[0];
      seen.push({ key, body, auth: req.headers.authorization, at: Date.now() });
      const handler = routes[key] || defaults[key];
      const a = handler ? handler(req, body) : { status: 404, body: problem(404, 'not_found') };
      const isText = typeof a.body === 'string';
      res.writeHead(a.status, Object.assign(
        { 'content-type': isText ? 'text/html' : a.status >= 400 ? 'application/problem+json' : 'application/json' },
        a.headers
      ));
      res.end(isText ? a.body : JSON.stringify(a.body));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = 'http://127.0.0.1:' + server.address().port;
  return {
    baseUrl,
    routes,
    seen,
    /** requests to one route, e.g. calls('POST /auth/login') */
    calls: (key) => seen.filter((s) => s.key === key),
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** A problem+json body (docs/API.md, "HTTP API"). */
function problem(status, code, detail) {
  return {
    type: 'tag:wxauth,2026:problem:' + code,
    title: code.replace(/_/g, ' '),
    status,
    detail: detail || 'detail of ' + code,
    code,
  };
}

module.exports = { startFake, problem };

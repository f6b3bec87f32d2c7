'use strict';
// Test helpers: the real wxauth binary in simulator mode, and a `wx` shim that
// plays the mini-program runtime against it over real HTTP.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

// default: this repository's debug build
const BIN = process.env.WXAUTH_BIN || path.resolve(__dirname, '../../../target/debug/wxauth');

/**
 * Start wxauth in simulator mode on a free port, in a fresh temp directory.
 * Resolves once it logs `listening on http://127.0.0.1:PORT`.
 * @param {Object} [env] extra environment (e.g. {WXAUTH_TOKEN_TTL: '60'})
 */
function startServer(env) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxauth-client-test-'));
  const clean = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(WXAUTH_|WECHAT_|RUST_LOG$)/.test(k)) clean[k] = v;
  }
  const child = spawn(BIN, ['serve'], {
    cwd: dir,
    env: Object.assign(clean, { WXAUTH_BIND: '127.0.0.1:0', RUST_LOG: 'info', WXAUTH_SHUTDOWN_TIMEOUT: '1' }, env),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('wxauth did not start within 15 s')), 15000);
    function fail(err) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(err.message + '\n--- wxauth stderr ---\n' + log));
    }
    child.once('error', fail);
    const early = (code, sig) => fail(new Error(`wxauth exited (${code ?? sig}) before listening`));
    child.once('exit', early);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(log);
      if (!m) return;
      clearTimeout(timer);
      child.removeListener('exit', early);
      child.stderr.resume(); // keep draining the log
      resolve({
        baseUrl: m[1],
        dir,
        get log() { return log; },
        post: (p, body) => postJson(m[1] + p, body),
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
          fs.rmSync(dir, { recursive: true, force: true });
        },
      });
    });
  });
}

/** Plain HTTP, callback style, as the shim needs it. */
function rawRequest(url, { method = 'GET', headers = {}, body }, done) {
  const req = http.request(url, { method, headers, agent: false }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => done(null, res, Buffer.concat(chunks).toString('utf8')));
    res.on('error', done);
  });
  req.on('error', done);
  if (body !== undefined) req.write(body);
  req.end();
}

/** POST JSON from the test itself (not through the client); resolves {status, body}. */
function postJson(url, body) {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    rawRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text }, (err, res, out) => {
      if (err) return reject(err);
      let parsed = out;
      try { parsed = JSON.parse(out); } catch (_) { /* keep text */ }
      resolve({ status: res.statusCode, body: parsed });
    });
  });
}

/**
 * A `wx` shim for one simulated user.
 * - login(): POST /sim/login {user} on the server, success({code, errMsg})
 * - request(): wx.request over node:http (JSON bodies, query strings for GET,
 *   data parsed as JSON when it parses; success for every HTTP status, fail only
 *   when no answer came; complete after either)
 * - storage: an in-memory Map; values round-trip through JSON like the real storage.
 * Counters: loginCalls, and `requests` (every request made: {method, url, auth}).
 * Hooks, for tests that must not depend on timing:
 * - `beforeRequest(options)` may rewrite a request before it is sent;
 * - `onResponse({url, statusCode}, deliver)` decides when an answer reaches the
 *   caller (call `deliver()` now or later).
 */
function makeWx(baseUrl, user) {
  const store = new Map();
  const shim = {
    loginCalls: 0,
    requests: [],
    beforeRequest: null,
    onResponse: null,
    store,
    login({ success, fail, complete } = {}) {
      shim.loginCalls += 1;
      postJson(baseUrl + '/sim/login', { user }).then(
        (r) => {
          if (r.status === 200 && r.body.code) {
            success && success({ code: r.body.code, errMsg: 'login:ok' });
          } else {
            fail && fail({ errMsg: 'login:fail ' + r.status });
          }
          complete && complete();
        },
        (err) => {
          fail && fail({ errMsg: 'login:fail ' + err.message });
          complete && complete();
        }
      );
    },
    request(options) {
      if (shim.beforeRequest) options = shim.beforeRequest(Object.assign({}, options)) || options;
      const { success, fail, complete } = options;
      const method = (options.method || 'GET').toUpperCase();
      const headers = Object.assign({ 'content-type': 'application/json' }, options.header);
      let url = options.url;
      let body;
      if (options.data !== undefined && options.data !== null) {
        if (method === 'GET') {
          const q = new URLSearchParams(options.data).toString();
          if (q) url += (url.includes('?') ? '&' : '?') + q;
        } else {
          body = typeof options.data === 'string' ? options.data : JSON.stringify(options.data);
        }
      }
      const auth = Object.entries(headers).find(([k]) => k.toLowerCase() === 'authorization');
      shim.requests.push({ method, url: url.replace(baseUrl, ''), auth: auth ? auth[1] : undefined });
      rawRequest(url, { method, headers, body }, (err, res, text) => {
        if (err) {
          fail && fail({ errMsg: 'request:fail ' + err.message });
          complete && complete();
          return;
        }
        let data = text;
        try { data = JSON.parse(text); } catch (_) { /* wx leaves non-JSON as text */ }
        const deliver = () => {
          success && success({ data, statusCode: res.statusCode, header: res.headers, errMsg: 'request:ok' });
          complete && complete();
        };
        if (shim.onResponse) shim.onResponse({ url: url.replace(baseUrl, ''), statusCode: res.statusCode }, deliver);
        else deliver();
      });
      return { abort() {} };
    },
    setStorageSync(key, value) {
      store.set(key, JSON.stringify(value));
    },
    getStorageSync(key) {
      return store.has(key) ? JSON.parse(store.get(key)) : '';
    },
    removeStorageSync(key) {
      store.delete(key);
    },
    /** requests to one path, e.g. count('/auth/refresh') */
    count(p) {
      return shim.requests.filter((r) => r.url === p).length;
    },
  };
  return shim;
}

/** The claims of a JWT, unverified (the client never needs more). */
function claims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

module.exports = { startServer, makeWx, claims, BIN };

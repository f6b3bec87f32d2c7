'use strict';
// Test helpers: the real wxauth binary in simulator mode, and a simulated
// device that the runtime shims (shims/) play the mini-program runtime with,
// over real HTTP.

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
 * One simulated device (a user of one app) behind the runtime shims in
 * shims/: the shims turn each runtime's API (wx, qq, tt, uni, Taro) into these
 * few primitives, and the tests watch and steer the device here, whatever the
 * runtime.
 * - simLogin(): POST /sim/login {user, appid} on the server (what the
 *   runtime's login call gives), or `fakeCode` when a test sets one;
 * - http(): the runtime's request over node:http (JSON bodies, query strings
 *   for GET, data parsed as JSON when it parses; an answer for every HTTP
 *   status, an error only when no answer came);
 * - storage: an in-memory Map; values round-trip through JSON like the real
 *   storage; absent keys read as '' as in the runtimes.
 * Counters: loginCalls, and `requests` (every request made: {method, url, auth}).
 * Hooks, for tests that must not depend on timing:
 * - `beforeRequest(options)` may rewrite a request before it is sent;
 * - `onResponse({url, statusCode}, deliver)` decides when an answer reaches the
 *   caller (call `deliver()` now or later);
 * - `onLogin(release)` decides when a login call goes to the server;
 * - `onSave(key)` runs after each storage write.
 * @param {string} baseUrl
 * @param {{user: string, appid: string}} app  the user, and the appid the
 *   runtime's account-info call reports
 */
function makeDevice(baseUrl, { user, appid }) {
  const store = new Map();
  const dev = {
    baseUrl,
    user,
    appid,
    accountInfo: true,
    loginCalls: 0,
    requests: [],
    beforeRequest: null,
    onResponse: null,
    onLogin: null,
    onSave: null,
    fakeCode: null,
    simLogin(done) {
      dev.loginCalls += 1;
      const go = () => {
        if (dev.fakeCode) return done(null, dev.fakeCode);
        postJson(baseUrl + '/sim/login', { user, appid }).then(
          (r) => (r.status === 200 && r.body.code ? done(null, r.body.code) : done('login:fail ' + r.status)),
          (err) => done('login:fail ' + err.message)
        );
      };
      if (dev.onLogin) dev.onLogin(go);
      else go();
    },
    http(options, done) {
      if (dev.beforeRequest) options = dev.beforeRequest(Object.assign({}, options)) || options;
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
      const path = url.startsWith(baseUrl) ? url.slice(baseUrl.length) : url;
      dev.requests.push({ method, url: path, auth: auth ? auth[1] : undefined, body });
      rawRequest(url, { method, headers, body }, (err, res, text) => {
        if (err) return done('request:fail ' + err.message);
        let data = text;
        try { data = JSON.parse(text); } catch (_) { /* the runtimes leave non-JSON as text */ }
        const header = {};
        for (const [k, v] of Object.entries(res.headers)) header[k] = Array.isArray(v) ? v.join(', ') : String(v);
        const deliver = () => done(null, { data, statusCode: res.statusCode, header });
        if (dev.onResponse) dev.onResponse({ url: path, statusCode: res.statusCode }, deliver);
        else deliver();
      });
    },
    storage: {
      get: (key) => (store.has(key) ? JSON.parse(store.get(key)) : ''),
      set: (key, value) => {
        store.set(key, JSON.stringify(value));
        if (dev.onSave) dev.onSave(key);
      },
      remove: (key) => { store.delete(key); },
    },
    /** what is stored under `key` ('' when nothing) */
    get: (key) => (store.has(key) ? JSON.parse(store.get(key)) : ''),
    /** store a value without the onSave hook */
    set: (key, value) => { store.set(key, JSON.stringify(value)); },
    /** requests to one path, e.g. count('/auth/refresh') */
    count(p) {
      return dev.requests.filter((r) => r.url === p).length;
    },
  };
  return dev;
}

/** The claims of a JWT, unverified (the client never needs more). */
function claims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

module.exports = { startServer, makeDevice, postJson, rawRequest, claims, BIN };

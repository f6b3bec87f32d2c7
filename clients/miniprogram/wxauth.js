/**
 * wxauth client for WeChat mini-programs.
 *
 * One file, no dependencies: copy it into the mini-program and `require` it.
 * It logs in with `wx.login()`, keeps the token with `wx.setStorageSync`,
 * renews it through `/auth/refresh` shortly before it expires, and logs in
 * again when the server refuses it. Logins and renewals are single flight:
 * however many requests need one at the same moment, one runs and all wait.
 *
 * Written for the mini-program runtime without "enhanced compile": ES2015
 * plus Promise, no async/await, no Node or browser APIs.
 *
 * @module wxauth
 */

/**
 * The problem+json body of a failed answer, as an Error.
 * @typedef {Error} WxauthError
 * @property {string} code     stable error code (`invalid_token`, `decrypt_failed`, ...),
 *                             `network_error` when no answer came, `wx_login_failed`
 *                             when `wx.login()` failed, `http_error` for a non-problem body
 * @property {number} status   HTTP status (0 when no answer came)
 * @property {string} [detail] the server's explanation, for people
 * @property {boolean} [relogged] true when the client has logged in again because of it
 */

/**
 * The stored session, under `storageKey`.
 * @typedef {Object} StoredSession
 * @property {string} token      the access token (a JWT)
 * @property {number} expiresAt  when it expires, ms since the epoch, on this device's clock
 * @property {number} expiresIn  its lifetime in seconds, as the server said
 */

/**
 * Create a client of one wxauth server.
 *
 * @param {Object} options
 * @param {string} options.baseUrl          e.g. `https://auth.example.com` (no trailing path needed)
 * @param {Object} [options.wx]             the `wx` API; defaults to the global `wx`
 * @param {number} [options.renewBefore=300] renew the token when it expires within this many
 *                                          seconds (at most half its lifetime, so a short TTL
 *                                          does not make every request a renewal)
 * @param {string} [options.storageKey='wxauth_session'] storage key of the session
 */
function createClient(options) {
  const api = options.wx || (typeof wx !== 'undefined' ? wx : null); // eslint-disable-line no-undef
  if (!api) throw new Error('wxauth: no wx API (pass options.wx)');
  const baseUrl = String(options.baseUrl || '').replace(/\/+$/, '');
  const renewBefore = options.renewBefore == null ? 300 : options.renewBefore;
  const storageKey = options.storageKey || 'wxauth_session';

  let loggingIn = null; // the login in flight, if any
  let renewing = null; // the refresh in flight, if any

  /** @returns {StoredSession|null} */
  function load() {
    const s = api.getStorageSync(storageKey);
    return s && typeof s.token === 'string' && s.token ? s : null;
  }

  function save(body) {
    api.setStorageSync(storageKey, {
      token: body.access_token,
      expiresAt: Date.now() + body.expires_in * 1000,
      expiresIn: body.expires_in,
    });
  }

  /** wx.request as a promise of {statusCode, data, header}; rejects only when no answer came. */
  function send(opts, token) {
    const header = Object.assign({}, opts.header);
    if (token) header.Authorization = 'Bearer ' + token;
    const url = /^https?:\/\//.test(opts.url) ? opts.url : baseUrl + opts.url;
    return new Promise(function (resolve, reject) {
      api.request(Object.assign({}, opts, {
        url: url,
        header: header,
        success: function (res) {
          resolve({ statusCode: res.statusCode, data: res.data, header: res.header });
        },
        fail: function (err) {
          reject(makeError('network_error', 0, (err && err.errMsg) || 'request failed'));
        },
      }));
    });
  }

  /** Runs `start` unless its flight is already running; clears the slot when it settles. */
  function singleFlight(get, set, start) {
    if (!get()) {
      const clear = function () { set(null); };
      set(start().then(
        function (v) { clear(); return v; },
        function (e) { clear(); throw e; }
      ));
    }
    return get();
  }

  /**
   * Log in: `wx.login()`, then `POST /auth/login {code}`; stores the token.
   * Concurrent calls share one login.
   * @returns {Promise<{access_token: string, token_type: string, expires_in: number}>}
   */
  function login() {
    return singleFlight(function () { return loggingIn; }, function (p) { loggingIn = p; }, function () {
      return wxLogin()
        .then(function (code) {
          return send({ url: '/auth/login', method: 'POST', data: { code: code } });
        })
        .then(function (res) {
          if (res.statusCode !== 200 || !res.data || !res.data.access_token) throw problem(res);
          save(res.data);
          return res.data;
        });
    });
  }

  function wxLogin() {
    return new Promise(function (resolve, reject) {
      api.login({
        success: function (res) {
          if (res && res.code) resolve(res.code);
          else reject(makeError('wx_login_failed', 0, (res && res.errMsg) || 'wx.login gave no code'));
        },
        fail: function (err) {
          reject(makeError('wx_login_failed', 0, (err && err.errMsg) || 'wx.login failed'));
        },
      });
    });
  }

  /** Renew `token` through /auth/refresh (single flight); a 401 there means log in again. */
  function renew(token) {
    return singleFlight(function () { return renewing; }, function (p) { renewing = p; }, function () {
      return send({ url: '/auth/refresh', method: 'POST' }, token).then(function (res) {
        if (res.statusCode === 200 && res.data && res.data.access_token) {
          save(res.data);
          return res.data.access_token;
        }
        if (res.statusCode === 401) return login().then(function (body) { return body.access_token; });
        throw problem(res);
      });
    });
  }

  /** A token to send now: logs in when there is none, renews one that expires soon. */
  function currentToken() {
    const s = load();
    if (!s) return login().then(function (body) { return body.access_token; });
    const margin = Math.min(renewBefore * 1000, (s.expiresIn || Infinity) * 500);
    if (s.expiresAt - Date.now() <= margin) {
      // A failed renewal (network, 5xx) is not fatal: the current token may still work,
      // and if the server refuses it the request logs in again.
      return renew(s.token).catch(function (e) {
        if (e.code === 'network_error' || e.status >= 500) return s.token;
        throw e;
      });
    }
    return Promise.resolve(s.token);
  }

  /**
   * Replace a token the server refused. If the stored token is already another one
   * (a login or renewal that started after ours finished), use it; otherwise log in,
   * joining the login in flight if there is one. So many requests refused together
   * cause exactly one login.
   */
  function replace(refused) {
    return Promise.resolve(renewing).catch(function () {}).then(function () {
      const s = load();
      if (s && s.token !== refused) return s.token;
      return login().then(function (body) { return body.access_token; });
    });
  }

  /** Sends with a token; on a 401 replaces the token once and retries once. Resolves {res, token}. */
  function authed(opts) {
    return currentToken().then(function (token) {
      return send(opts, token).then(function (res) {
        if (res.statusCode !== 401) return { res: res, token: token };
        return replace(token).then(function (fresh) {
          return send(opts, fresh).then(function (res2) { return { res: res2, token: fresh }; });
        });
      });
    });
  }

  /**
   * Like `wx.request`, as a promise, with `Authorization: Bearer <token>` added.
   * `url` is a path on `baseUrl` (`/auth/me`) or an absolute URL of a service that
   * verifies wxauth tokens. Resolves with `{statusCode, data, header}` for any HTTP
   * status, as `wx.request` does; a 401 is answered once by logging in again and
   * retrying once. Rejects when no answer came or logging in failed.
   * @param {Object} opts  wx.request options (url, method, data, header, ...), without callbacks
   * @returns {Promise<{statusCode: number, data: *, header: Object}>}
   */
  function request(opts) {
    return authed(opts).then(function (r) { return r.res; });
  }

  /** POST a JSON body to a /wx route; decrypt_failed logs in again and says so. */
  function wxCall(path, body) {
    return authed({ url: path, method: 'POST', data: body }).then(function (r) {
      if (r.res.statusCode === 200) return r.res.data;
      const err = problem(r.res);
      if (err.code !== 'decrypt_failed') throw err;
      return replace(r.token).then(function () {
        err.relogged = true;
        throw err;
      });
    });
  }

  /**
   * Decrypt user data (`encryptedData`, `iv` from a WeChat API) with the session_key
   * sealed in the token: `POST /wx/decrypt`. Resolves with the decrypted object.
   *
   * If it answers `decrypt_failed` (most often: a newer `wx.login()` replaced the
   * session_key), the client logs in again and rejects with `code: 'decrypt_failed'`
   * and `relogged: true`. Fetch the data again from WeChat (it is then encrypted with
   * the new session_key) and call `decrypt` with the fresh data; the old data can
   * never be decrypted.
   * @param {string} encryptedData
   * @param {string} iv
   * @returns {Promise<Object>}
   */
  function decrypt(encryptedData, iv) {
    return wxCall('/wx/decrypt', { encryptedData: encryptedData, iv: iv });
  }

  /**
   * The user's phone number from the code of `<button open-type="getPhoneNumber">`
   * (`e.detail.code`): `POST /wx/phone`. Resolves with WeChat's `phone_info`
   * (`phoneNumber`, `purePhoneNumber`, `countryCode`, `watermark`).
   * @param {string} code
   * @returns {Promise<Object>}
   */
  function phone(code) {
    return wxCall('/wx/phone', { code: code });
  }

  /** Forget the token (the next request logs in again). */
  function logout() {
    api.removeStorageSync(storageKey);
  }

  return { login: login, request: request, decrypt: decrypt, phone: phone, logout: logout };
}

function makeError(code, status, detail) {
  const err = new Error(detail || code);
  err.code = code;
  err.status = status;
  err.detail = detail;
  return err;
}

/** A WxauthError from an answer, with the problem+json fields when the body has them. */
function problem(res) {
  const body = res.data && typeof res.data === 'object' ? res.data : {};
  const err = makeError(
    typeof body.code === 'string' ? body.code : 'http_error',
    res.statusCode,
    body.detail || body.title || 'HTTP ' + res.statusCode
  );
  if (body.title) err.title = body.title;
  return err;
}

module.exports = { createClient: createClient };

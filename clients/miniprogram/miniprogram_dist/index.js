"use strict";
/**
 * wxauth client for mini-programs: WeChat (`wx`), QQ (`qq`), Douyin (`tt`),
 * Alipay (`my`), Baidu (`swan`), Kuaishou (`ks`), Feishu (its `tt`, passed as
 * `feishu` or detected), uni-app (`uni`) and Taro (`Taro`).
 *
 * It logs in with the runtime's login call and `POST /auth/login {code, appid}`,
 * keeps the token in the runtime's storage, adds `Authorization: Bearer <token>`
 * to requests, renews the token through `/auth/refresh` shortly before it
 * expires, and logs in again when the server refuses it. Logins and renewals
 * are single flight: however many requests need one at the same moment, one
 * runs and all wait. `rate_limited` answers are backed off per `Retry-After`.
 *
 * Built to ES2015 CommonJS (no async/await, no Node or browser APIs), so the
 * runtimes load it without "enhanced compile".
 *
 * @packageDocumentation
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.WxauthError = void 0;
exports.createClient = createClient;
/**
 * A failed call, with the problem+json fields of the answer
 * (`{type, title, status, detail, code}`, RFC 9457).
 */
class WxauthError extends Error {
    constructor(code, status, detail, message) {
        super(message || detail || code);
        // Keeps `instanceof WxauthError` true where the project compiles to ES5.
        Object.setPrototypeOf(this, WxauthError.prototype);
        this.name = 'WxauthError';
        this.code = code;
        this.status = status;
        this.detail = detail;
    }
}
exports.WxauthError = WxauthError;
const CALLBACK_RUNTIMES = ['wx', 'qq', 'tt', 'uni', 'swan', 'ks', 'feishu'];
/** Create a client of one wxauth server. */
function createClient(options) {
    const adapter = pickRuntime(options);
    const baseUrl = String(options.baseUrl || '').replace(/\/+$/, '');
    if (!baseUrl)
        throw new Error('wxauth: options.baseUrl is required');
    const renewBefore = options.renewBefore == null ? 300 : options.renewBefore;
    const storageKey = options.storageKey || 'wxauth_session';
    const maxWaitMs = (options.maxRetryWait == null ? 10 : options.maxRetryWait) * 1000;
    const appid = options.appid || adapter.appid();
    const getCode = options.getCode
        ? function () {
            return options.getCode(appid);
        }
        : adapter.login;
    let loggingIn = null; // the login in flight, if any
    let renewing = null; // the refresh in flight, if any
    let holdUntil = 0; // no call to the server's limited routes before this (ms)
    function load() {
        let s;
        try {
            s = adapter.get(storageKey);
        }
        catch (_) {
            return null;
        }
        if (!s || typeof s.token !== 'string' || !s.token)
            return null;
        if (s.appid && appid && s.appid !== appid)
            return null; // another app's token
        return s;
    }
    function save(body) {
        const s = {
            token: body.access_token,
            expiresAt: Date.now() + body.expires_in * 1000,
            expiresIn: body.expires_in,
        };
        if (appid)
            s.appid = appid;
        adapter.set(storageKey, s);
    }
    /** The runtime's request with the bearer added; rejects only when no answer came. */
    function send(opts, token) {
        const header = Object.assign({}, opts.header);
        if (token)
            header.Authorization = 'Bearer ' + token;
        const url = /^https?:\/\//.test(opts.url) ? opts.url : baseUrl + opts.url;
        return adapter.request(Object.assign({}, opts, { url: url, header: header }));
    }
    /** Runs `start` unless its flight is already running; clears the slot when it settles. */
    function singleFlight(get, set, start) {
        let flight = get();
        if (!flight) {
            flight = start().then(function (v) {
                set(null);
                return v;
            }, function (e) {
                set(null);
                throw e;
            });
            set(flight);
        }
        return flight;
    }
    /** Waits out a short hold-off; rejects with `rate_limited` for a long one, sending nothing. */
    function gate() {
        const wait = holdUntil - Date.now();
        if (wait <= 0)
            return Promise.resolve();
        if (wait > maxWaitMs) {
            const secs = Math.ceil(wait / 1000);
            return Promise.reject(withFields(new WxauthError('rate_limited', 0, 'not sent: the server asked to wait ' + secs + ' s more', 'wxauth: rate limited, retry in ' + secs + ' s'), { retryAfter: secs }));
        }
        return delay(wait);
    }
    /**
     * Runs `op` after the hold-off; on `rate_limited` or `overloaded` notes the
     * `Retry-After`, and (if `retry`) waits it out when it is short and runs
     * `op` once more.
     */
    function backoff(op, retry) {
        return gate()
            .then(op)
            .catch(function (e) {
            if (!(e instanceof WxauthError) || e.status === 0)
                throw e;
            if (e.code !== 'rate_limited' && e.code !== 'overloaded')
                throw e;
            const secs = e.retryAfter == null ? 1 : e.retryAfter;
            holdUntil = Math.max(holdUntil, Date.now() + secs * 1000);
            if (!retry || secs * 1000 > maxWaitMs)
                throw e;
            return backoff(op, false);
        });
    }
    function login() {
        return singleFlight(function () {
            return loggingIn;
        }, function (p) {
            loggingIn = p;
        }, function () {
            // Each try gets a fresh code: a code works once.
            return backoff(function () {
                return getCode()
                    .then(function (code) {
                    const body = { code: code };
                    if (appid)
                        body.appid = appid;
                    return send({ url: '/auth/login', method: 'POST', data: body });
                })
                    .then(function (res) {
                    if (res.statusCode === 200 && res.data && res.data.access_token) {
                        save(res.data);
                        return res.data;
                    }
                    const err = problem(res);
                    if (err.code === 'unknown_app') {
                        throw withFields(new WxauthError(err.code, err.status, err.detail, appid
                            ? 'wxauth: the server serves no app with appid ' + appid
                            : 'wxauth: the server serves several apps: pass options.appid'), { title: err.title, appid: appid });
                    }
                    throw err;
                });
            }, true);
        });
    }
    function tokenOf(body) {
        return body.access_token;
    }
    /** Renew `token` through /auth/refresh (single flight); a 401 there means log in again. */
    function renew(token) {
        return singleFlight(function () {
            return renewing;
        }, function (p) {
            renewing = p;
        }, function () {
            return backoff(function () {
                return send({ url: '/auth/refresh', method: 'POST' }, token).then(function (res) {
                    if (res.statusCode === 200 && res.data && res.data.access_token) {
                        save(res.data);
                        return res.data.access_token;
                    }
                    if (res.statusCode === 401)
                        return login().then(tokenOf);
                    throw problem(res);
                });
            }, true);
        });
    }
    /** A token to send now: logs in when there is none, renews one that expires soon. */
    function currentToken() {
        const s = load();
        if (!s)
            return login().then(tokenOf);
        const margin = Math.min(renewBefore * 1000, (s.expiresIn || Infinity) * 500);
        if (s.expiresAt - Date.now() <= margin) {
            // A failed renewal (network, 5xx, rate limited) is not fatal: the current
            // token may still work, and if the server refuses it the request logs in again.
            return renew(s.token).catch(function (e) {
                if (e.code === 'network_error' || e.status >= 500 || e.code === 'rate_limited')
                    return s.token;
                throw e;
            });
        }
        return Promise.resolve(s.token);
    }
    /**
     * Replace a token the server refused. If the stored token is already another
     * one (a login or renewal that started after ours finished), use it;
     * otherwise log in, joining the login in flight if there is one. So many
     * requests refused together cause exactly one login.
     */
    function replace(refused) {
        return Promise.resolve(renewing)
            .catch(function () { })
            .then(function () {
            const s = load();
            if (s && s.token !== refused)
                return s.token;
            return login().then(tokenOf);
        });
    }
    /** Sends with a token; on a 401 replaces the token once and retries once. */
    function authed(opts) {
        return currentToken().then(function (token) {
            return send(opts, token).then(function (res) {
                if (res.statusCode !== 401)
                    return { res: res, token: token };
                return replace(token).then(function (fresh) {
                    return send(opts, fresh).then(function (res2) {
                        return { res: res2, token: fresh };
                    });
                });
            });
        });
    }
    function request(opts) {
        return authed(opts).then(function (r) {
            return r.res;
        });
    }
    function me() {
        return request({ url: '/auth/me' }).then(function (res) {
            if (res.statusCode === 200)
                return res.data;
            throw problem(res);
        });
    }
    /** POST a JSON body to a /wx route; decrypt_failed logs in again and says so. */
    function wxCall(path, body, retry) {
        return backoff(function () {
            return authed({ url: path, method: 'POST', data: body }).then(function (r) {
                if (r.res.statusCode === 200)
                    return r.res.data;
                const err = problem(r.res);
                if (err.code !== 'decrypt_failed')
                    throw err;
                return replace(r.token).then(function () {
                    err.relogged = true;
                    throw err;
                });
            });
        }, retry);
    }
    function decrypt(encryptedData, iv) {
        return wxCall('/wx/decrypt', { encryptedData: encryptedData, iv: iv }, true);
    }
    // Not retried after a rate limit: the phone code may be spent; the caller
    // asks the user again after `retryAfter`.
    function phone(code) {
        return wxCall('/wx/phone', { code: code }, false);
    }
    function logout() {
        adapter.remove(storageKey);
    }
    return {
        runtime: adapter.name,
        appid: appid,
        login: login,
        request: request,
        me: me,
        decrypt: decrypt,
        phone: phone,
        logout: logout,
    };
}
/** The runtime passed in, or the first global that exists. */
function pickRuntime(options) {
    const given = [];
    const names = ['wx', 'qq', 'tt', 'uni', 'Taro', 'my', 'swan', 'ks', 'feishu'];
    for (const n of names)
        if (options[n])
            given.push(n);
    if (given.length > 1)
        throw new Error('wxauth: pass one runtime, not ' + given.join(' and '));
    if (given.length === 1) {
        const n = given[0];
        if (n === 'Taro')
            return promiseAdapter(options.Taro);
        if (n === 'my')
            return alipayAdapter(options.my);
        return callbackAdapter(n, options[n]);
    }
    // Alipay's `my` has its own shape.
    const myApi = (typeof my !== 'undefined' ? my : undefined);
    if (myApi && typeof myApi.getAuthCode === 'function' && typeof myApi.request === 'function') {
        return alipayAdapter(myApi);
    }
    // uni first (it runs on top of the others), then the platforms' own objects;
    // QQ and Douyin may also define `wx`, so it comes last.
    const globals = [
        ['uni', typeof uni !== 'undefined' ? uni : undefined],
        ['qq', typeof qq !== 'undefined' ? qq : undefined],
        ['swan', typeof swan !== 'undefined' ? swan : undefined],
        ['ks', typeof ks !== 'undefined' ? ks : undefined],
        [isFeishu(typeof tt !== 'undefined' ? tt : undefined) ? 'feishu' : 'tt', typeof tt !== 'undefined' ? tt : undefined],
        ['wx', typeof wx !== 'undefined' ? wx : undefined],
    ];
    for (const g of globals) {
        const api = g[1];
        if (api && typeof api.login === 'function' && typeof api.request === 'function') {
            return callbackAdapter(g[0], api);
        }
    }
    throw new Error('wxauth: no mini-program runtime found (pass wx, qq, tt, my, swan, ks, feishu, uni or Taro)');
}
/** Feishu runs gadgets on a `tt` of its own; its system info names the host app. */
function isFeishu(api) {
    try {
        const info = api && typeof api.getSystemInfoSync === 'function'
            ? api.getSystemInfoSync()
            : null;
        const appName = info && info.appName;
        return typeof appName === 'string' && /feishu|lark/i.test(appName);
    }
    catch (_) {
        return false;
    }
}
function alipayAdapter(api) {
    return {
        name: 'my',
        login: function () {
            return new Promise(function (resolve, reject) {
                // auth_base: silent, gives the user's id only (alipay.system.oauth.token).
                api.getAuthCode({
                    scopes: 'auth_base',
                    success: function (res) {
                        if (res && res.authCode)
                            resolve(res.authCode);
                        else
                            reject(loginFailed(undefined, 'my'));
                    },
                    fail: function (err) {
                        reject(loginFailed(err && err.errorMessage, 'my'));
                    },
                });
            });
        },
        request: function (opts) {
            return new Promise(function (resolve, reject) {
                const headers = Object.assign({}, opts.header);
                let data = opts.data;
                // my.request sends objects as a form: send JSON as JSON.
                if (data && typeof data === 'object' && !(data instanceof ArrayBuffer) && opts.method && opts.method !== 'GET') {
                    data = JSON.stringify(data);
                    headers['content-type'] = 'application/json';
                }
                api.request({
                    url: opts.url,
                    method: opts.method || 'GET',
                    data: data,
                    headers: headers,
                    dataType: 'json',
                    success: function (res) {
                        resolve({ statusCode: res.status, data: res.data, header: res.headers || {} });
                    },
                    fail: function (err) {
                        // Older base libraries fail a non-2xx answer (error 19) and hand it over.
                        if (err && typeof err.status === 'number') {
                            resolve({ statusCode: err.status, data: err.data, header: err.headers || {} });
                            return;
                        }
                        reject(new WxauthError('network_error', 0, (err && err.errorMessage) || 'request failed'));
                    },
                });
            });
        },
        get: function (key) {
            const r = api.getStorageSync({ key: key });
            return r ? r.data : null;
        },
        set: function (key, value) {
            api.setStorageSync({ key: key, data: value });
        },
        remove: function (key) {
            api.removeStorageSync({ key: key });
        },
        appid: function () {
            return accountAppid(api);
        },
    };
}
function callbackAdapter(name, api) {
    if (CALLBACK_RUNTIMES.indexOf(name) < 0)
        throw new Error('wxauth: unknown runtime ' + name);
    return {
        name: name,
        login: function () {
            return new Promise(function (resolve, reject) {
                // Baidu: getLoginCode gives the code jscode2sessionkey takes.
                const call = name === 'swan' && typeof api.getLoginCode === 'function' ? api.getLoginCode.bind(api) : api.login.bind(api);
                call({
                    success: function (res) {
                        if (res && res.code)
                            resolve(res.code);
                        else
                            reject(loginFailed(res && res.errMsg, name));
                    },
                    fail: function (err) {
                        reject(loginFailed(err && err.errMsg, name));
                    },
                });
            });
        },
        request: function (opts) {
            return new Promise(function (resolve, reject) {
                api.request(Object.assign({}, opts, {
                    success: function (res) {
                        resolve({ statusCode: res.statusCode, data: res.data, header: res.header || {} });
                    },
                    fail: function (err) {
                        reject(new WxauthError('network_error', 0, (err && err.errMsg) || 'request failed'));
                    },
                }));
            });
        },
        get: function (key) {
            return api.getStorageSync(key);
        },
        set: function (key, value) {
            api.setStorageSync(key, value);
        },
        remove: function (key) {
            api.removeStorageSync(key);
        },
        appid: function () {
            // Douyin names it getEnvInfoSync; the others getAccountInfoSync.
            return name === 'tt' ? envAppid(api) || accountAppid(api) : accountAppid(api) || envAppid(api);
        },
    };
}
function promiseAdapter(api) {
    return {
        name: 'Taro',
        login: function () {
            return api.login().then(function (res) {
                if (res && res.code)
                    return res.code;
                throw loginFailed(res && res.errMsg, 'Taro');
            }, function (err) {
                throw loginFailed(err && err.errMsg, 'Taro');
            });
        },
        request: function (opts) {
            return api.request(opts).then(function (res) {
                return { statusCode: res.statusCode, data: res.data, header: res.header || {} };
            }, function (err) {
                throw new WxauthError('network_error', 0, (err && err.errMsg) || 'request failed');
            });
        },
        get: function (key) {
            return api.getStorageSync(key);
        },
        set: function (key, value) {
            api.setStorageSync(key, value);
        },
        remove: function (key) {
            api.removeStorageSync(key);
        },
        appid: function () {
            return accountAppid(api) || envAppid(api);
        },
    };
}
function accountAppid(api) {
    try {
        const info = typeof api.getAccountInfoSync === 'function' ? api.getAccountInfoSync() : null;
        return (info && info.miniProgram && info.miniProgram.appId) || undefined;
    }
    catch (_) {
        return undefined;
    }
}
function envAppid(api) {
    try {
        const info = typeof api.getEnvInfoSync === 'function' ? api.getEnvInfoSync() : null;
        return (info && info.microapp && info.microapp.appId) || undefined;
    }
    catch (_) {
        return undefined;
    }
}
function loginFailed(errMsg, runtime) {
    return new WxauthError('login_failed', 0, errMsg || runtime + '.login gave no code');
}
function withFields(err, fields) {
    for (const k of Object.keys(fields)) {
        if (fields[k] !== undefined)
            err[k] = fields[k];
    }
    return err;
}
function delay(ms) {
    return new Promise(function (resolve) {
        setTimeout(resolve, ms);
    });
}
/** A header's value, whatever the case of its name. */
function headerValue(header, name) {
    if (!header)
        return undefined;
    const lower = name.toLowerCase();
    for (const k of Object.keys(header)) {
        if (k.toLowerCase() === lower) {
            const v = header[k];
            return Array.isArray(v) ? String(v[0]) : v == null ? undefined : String(v);
        }
    }
    return undefined;
}
/** `Retry-After` in seconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
function retryAfterSeconds(header) {
    const v = headerValue(header, 'Retry-After');
    if (v == null)
        return undefined;
    const t = v.trim();
    if (/^\d+$/.test(t))
        return parseInt(t, 10);
    const when = Date.parse(t);
    if (isNaN(when))
        return undefined;
    return Math.max(0, Math.ceil((when - Date.now()) / 1000));
}
/** A WxauthError from an answer, with the problem+json fields when the body has them. */
function problem(res) {
    const body = res.data && typeof res.data === 'object' ? res.data : {};
    const code = typeof body.code === 'string' ? body.code : 'http_error';
    const detail = body.detail || body.title || 'HTTP ' + res.statusCode;
    const err = new WxauthError(code, res.statusCode, detail, 'wxauth: ' + code + ': ' + detail);
    return withFields(err, {
        title: typeof body.title === 'string' ? body.title : undefined,
        retryAfter: retryAfterSeconds(res.header),
    });
}

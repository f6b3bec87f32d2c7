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

// The runtime globals, looked up with `typeof` (never assumed to exist), and
// the one timer the client needs. Declared here so the build needs no typings.
declare const wx: unknown;
declare const qq: unknown;
declare const tt: unknown;
declare const uni: unknown;
declare const my: unknown;
declare const swan: unknown;
declare const ks: unknown;
declare function setTimeout(callback: () => void, ms: number): unknown;

/** The runtimes the client knows, named as their API objects are. */
export type RuntimeName = 'wx' | 'qq' | 'tt' | 'uni' | 'Taro' | 'my' | 'swan' | 'ks' | 'feishu';

/**
 * Error codes: the server's stable problem+json `code`s, and the client's own
 * (`network_error`, `login_failed`, `http_error`). Other strings may appear as
 * the server adds codes.
 */
export type ErrorCode =
  | 'invalid_request'
  | 'unknown_app'
  | 'unsupported_platform'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'invalid_code'
  | 'code_used'
  | 'rate_limited'
  | 'user_blocked'
  | 'upstream_error'
  | 'upstream_unavailable'
  | 'overloaded'
  | 'invalid_token'
  | 'session_expired'
  | 'decrypt_failed'
  /** no answer came (offline, DNS, TLS, domain not in the request legal domains) */
  | 'network_error'
  /** the runtime's login call (`wx.login`, `tt.login`, ...) failed or gave no code */
  | 'login_failed'
  /** an error answer without a problem+json body (e.g. from a proxy) */
  | 'http_error'
  | (string & {});

/**
 * A failed call, with the problem+json fields of the answer
 * (`{type, title, status, detail, code}`, RFC 9457).
 */
export class WxauthError extends Error {
  /** What went wrong, to branch on: `unknown_app`, `rate_limited`, `decrypt_failed`, ... */
  readonly code: ErrorCode;
  /** HTTP status; 0 when no answer came (and when the client did not send, see `rate_limited`) */
  readonly status: number;
  /** The server's explanation, for people (logs, not UI) */
  readonly detail?: string;
  /** The problem's short title */
  declare readonly title?: string;
  /**
   * Seconds to wait before trying again: from `Retry-After` on `rate_limited`
   * and `overloaded`.
   */
  declare readonly retryAfter?: number;
  /**
   * `unknown_app`: the appid the client sent (none: the server serves several
   * apps and needs one, pass `appid`).
   */
  declare readonly appid?: string;
  /**
   * `decrypt_failed`: true once the client has logged in again because of it;
   * fetch the data again and call `decrypt` with the fresh data.
   */
  declare relogged?: boolean;

  constructor(code: ErrorCode, status: number, detail?: string, message?: string) {
    super(message || detail || code);
    // Keeps `instanceof WxauthError` true where the project compiles to ES5.
    Object.setPrototypeOf(this, WxauthError.prototype);
    this.name = 'WxauthError';
    this.code = code;
    this.status = status;
    this.detail = detail;
  }
}

/** An answer, as every runtime's request call gives it (any HTTP status). */
export interface Response<T = any> {
  statusCode: number;
  data: T;
  header: Record<string, any>;
}

/** Options of `request()`: the runtime's request options without callbacks. */
export interface RequestOptions {
  /** A path on `baseUrl` (`/auth/me`) or an absolute URL of a service that verifies wxauth tokens */
  url: string;
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'HEAD' | 'OPTIONS';
  /** A JSON body (POST, PUT, PATCH) or query parameters (GET) */
  data?: string | Record<string, any> | ArrayBuffer;
  header?: Record<string, string>;
  /** ms; as the runtime supports it */
  timeout?: number;
  dataType?: string;
  responseType?: string;
}

/** What the client needs of a callback-style runtime: `wx`, `qq`, `tt` and `uni`. */
export interface CallbackRuntime {
  login(options: {
    success?: (res: { code: string }) => void;
    fail?: (err: { errMsg: string }) => void;
  }): unknown;
  request(options: {
    url: string;
    method?: any;
    data?: any;
    header?: any;
    success?: (res: { statusCode: number; data: any; header: any }) => void;
    fail?: (err: { errMsg: string }) => void;
  }): unknown;
  getStorageSync(key: string): any;
  setStorageSync(key: string, data: any): void;
  removeStorageSync(key: string): void;
  /** WeChat, QQ, uni-app: `getAccountInfoSync().miniProgram.appId` */
  getAccountInfoSync?(): { miniProgram: { appId: string } };
  /** Douyin: `getEnvInfoSync().microapp.appId` */
  getEnvInfoSync?(): { microapp: { appId: string } };
  /** Baidu: `swan.getLoginCode` gives the code its server exchanges (preferred to `login`) */
  getLoginCode?(options: {
    success?: (res: { code: string }) => void;
    fail?: (err: { errMsg: string }) => void;
  }): unknown;
  /** Feishu's `tt` names its host app here (`Feishu`, `Lark`); Douyin's says `Douyin` */
  getSystemInfoSync?(): object;
}

/**
 * What the client needs of Alipay's `my`: `my.getAuthCode` gives the code,
 * `my.request` takes `headers` and answers `status`, storage takes `{key, data}`.
 */
export interface AlipayRuntime {
  getAuthCode(options: {
    scopes?: string | string[];
    success?: (res: { authCode: string }) => void;
    fail?: (err: { error?: number; errorMessage?: string }) => void;
  }): unknown;
  request(options: {
    url: string;
    method?: any;
    data?: any;
    headers?: Record<string, string>;
    dataType?: any;
    success?: (res: { status: number; data: any; headers: any }) => void;
    fail?: (err: { error?: number; errorMessage?: string }) => void;
  }): unknown;
  getStorageSync(options: { key: string }): { data: unknown };
  setStorageSync(options: { key: string; data: any }): void;
  removeStorageSync(options: { key: string }): void;
  getAccountInfoSync?(): { miniProgram: { appId: string } };
}

/** What the client needs of a promise-style runtime: Taro. */
export interface PromiseRuntime {
  login(): Promise<{ code: string }>;
  request(options: { url: string; method?: any; data?: any; header?: any }): Promise<{
    statusCode: number;
    data: any;
    header: any;
  }>;
  getStorageSync(key: string): any;
  setStorageSync(key: string, data: any): void;
  removeStorageSync(key: string): void;
  getAccountInfoSync?(): { miniProgram: { appId: string } };
}

/** Options of `createClient()`. */
export interface ClientOptions {
  /** The wxauth server, e.g. `https://auth.example.com` */
  baseUrl: string;
  /**
   * The runtime's API object; give at most one. Without any, the client uses
   * the global `uni`, `qq`, `tt` or `wx`, the first that exists. Taro has no
   * global: pass `Taro` (or let the client find the platform's own object).
   */
  wx?: CallbackRuntime;
  qq?: CallbackRuntime;
  tt?: CallbackRuntime;
  uni?: CallbackRuntime;
  Taro?: PromiseRuntime;
  /** Alipay */
  my?: AlipayRuntime;
  /** Baidu */
  swan?: CallbackRuntime;
  /** Kuaishou */
  ks?: CallbackRuntime;
  /** Feishu (Lark): its `tt` object (a global `tt` in Feishu is detected by `getSystemInfoSync().appName`) */
  feishu?: CallbackRuntime;
  /**
   * The mini-program's appid, sent with every login. Default: the runtime's
   * account-info call (`getAccountInfoSync().miniProgram.appId`, on Douyin
   * `getEnvInfoSync().microapp.appId`); when neither exists it is left out,
   * which a server with one app accepts.
   */
  appid?: string;
  /**
   * Where login codes come from. Default: the runtime's login call. The
   * example mini-program uses the simulator's `/sim/login` here.
   */
  getCode?: (appid: string | undefined) => Promise<string>;
  /**
   * Renew the token when it expires within this many seconds (at most half
   * its lifetime, so a short TTL does not renew on every request). Default 300.
   */
  renewBefore?: number;
  /** Storage key of the session. Default `wxauth_session`. */
  storageKey?: string;
  /**
   * The longest `Retry-After`, in seconds, that the client waits out by
   * itself before trying once more; past it the call rejects with
   * `rate_limited` and its `retryAfter`. Default 10.
   */
  maxRetryWait?: number;
}

/** The token response of `/auth/login` and `/auth/refresh`. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  /** lifetime in seconds */
  expires_in: number;
}

/** `GET /auth/me`. */
export interface Me {
  openid: string;
  unionid: string | null;
  /** expiry, seconds since the epoch */
  exp: number;
  appid: string;
  platform: 'wechat' | 'qq' | 'douyin' | 'alipay' | 'baidu' | 'kuaishou' | 'feishu';
}

/** The watermark the platform adds to encrypted data. */
export interface Watermark {
  appid: string;
  timestamp: number;
}

/** WeChat's `phone_info`. */
export interface PhoneInfo {
  phoneNumber: string;
  purePhoneNumber: string;
  countryCode: string;
  watermark: Watermark;
}

/** The session kept in storage under `storageKey`. */
export interface StoredSession {
  /** the access token (a JWT) */
  token: string;
  /** when it expires, ms since the epoch, on this device's clock */
  expiresAt: number;
  /** its lifetime in seconds, as the server said */
  expiresIn: number;
  /** the appid it was issued for */
  appid?: string;
}

/** A client of one wxauth server, made by `createClient()`. */
export interface Client {
  /** The runtime in use. */
  readonly runtime: RuntimeName;
  /** The appid sent with logins (undefined: none, the server's default app). */
  readonly appid: string | undefined;
  /**
   * Log in: the runtime's login call, then `POST /auth/login {code, appid}`;
   * stores the token. Concurrent calls share one login.
   */
  login(): Promise<TokenResponse>;
  /**
   * Like the runtime's request call, as a promise, with the bearer token
   * added. Resolves for every HTTP status (check `statusCode`); a 401 is
   * answered once by logging in again and retrying once. Rejects when no
   * answer came or logging in failed.
   */
  request<T = any>(options: RequestOptions): Promise<Response<T>>;
  /** `GET /auth/me`: who the token says the user is. */
  me(): Promise<Me>;
  /**
   * Decrypt user data (`encryptedData`, `iv` from a platform API) with the
   * session_key sealed in the token: `POST /wx/decrypt`. On `decrypt_failed`
   * the client logs in again and rejects with `relogged: true`: fetch the data
   * again, it is then encrypted with the new session_key.
   */
  decrypt<T extends object = Record<string, any>>(
    encryptedData: string,
    iv: string
  ): Promise<T & { watermark: Watermark }>;
  /**
   * The user's phone number from the code of
   * `<button open-type="getPhoneNumber">` (`e.detail.code`): `POST /wx/phone`.
   * WeChat apps only (others: `unsupported_platform`).
   */
  phone(code: string): Promise<PhoneInfo>;
  /** Forget the token (the next request logs in again). */
  logout(): void;
}

/** The runtime behind one interface: what differs between wx, qq, tt, uni and Taro. */
interface Adapter {
  name: RuntimeName;
  login(): Promise<string>;
  request(opts: RequestOptions): Promise<Response>;
  get(key: string): any;
  set(key: string, value: any): void;
  remove(key: string): void;
  appid(): string | undefined;
}

const CALLBACK_RUNTIMES: RuntimeName[] = ['wx', 'qq', 'tt', 'uni', 'swan', 'ks', 'feishu'];

/** Create a client of one wxauth server. */
export function createClient(options: ClientOptions): Client {
  const adapter = pickRuntime(options);
  const baseUrl = String(options.baseUrl || '').replace(/\/+$/, '');
  if (!baseUrl) throw new Error('wxauth: options.baseUrl is required');
  const renewBefore = options.renewBefore == null ? 300 : options.renewBefore;
  const storageKey = options.storageKey || 'wxauth_session';
  const maxWaitMs = (options.maxRetryWait == null ? 10 : options.maxRetryWait) * 1000;
  const appid = options.appid || adapter.appid();
  const getCode = options.getCode
    ? function () {
        return options.getCode!(appid);
      }
    : adapter.login;

  let loggingIn: Promise<TokenResponse> | null = null; // the login in flight, if any
  let renewing: Promise<string> | null = null; // the refresh in flight, if any
  let holdUntil = 0; // no call to the server's limited routes before this (ms)

  function load(): StoredSession | null {
    let s: any;
    try {
      s = adapter.get(storageKey);
    } catch (_) {
      return null;
    }
    if (!s || typeof s.token !== 'string' || !s.token) return null;
    if (s.appid && appid && s.appid !== appid) return null; // another app's token
    return s;
  }

  function save(body: TokenResponse): void {
    const s: StoredSession = {
      token: body.access_token,
      expiresAt: Date.now() + body.expires_in * 1000,
      expiresIn: body.expires_in,
    };
    if (appid) s.appid = appid;
    adapter.set(storageKey, s);
  }

  /** The runtime's request with the bearer added; rejects only when no answer came. */
  function send(opts: RequestOptions, token?: string): Promise<Response> {
    const header: Record<string, string> = Object.assign({}, opts.header);
    if (token) header.Authorization = 'Bearer ' + token;
    const url = /^https?:\/\//.test(opts.url) ? opts.url : baseUrl + opts.url;
    return adapter.request(Object.assign({}, opts, { url: url, header: header }));
  }

  /** Runs `start` unless its flight is already running; clears the slot when it settles. */
  function singleFlight<T>(
    get: () => Promise<T> | null,
    set: (p: Promise<T> | null) => void,
    start: () => Promise<T>
  ): Promise<T> {
    let flight = get();
    if (!flight) {
      flight = start().then(
        function (v) {
          set(null);
          return v;
        },
        function (e) {
          set(null);
          throw e;
        }
      );
      set(flight);
    }
    return flight;
  }

  /** Waits out a short hold-off; rejects with `rate_limited` for a long one, sending nothing. */
  function gate(): Promise<void> {
    const wait = holdUntil - Date.now();
    if (wait <= 0) return Promise.resolve();
    if (wait > maxWaitMs) {
      const secs = Math.ceil(wait / 1000);
      return Promise.reject(
        withFields(
          new WxauthError(
            'rate_limited',
            0,
            'not sent: the server asked to wait ' + secs + ' s more',
            'wxauth: rate limited, retry in ' + secs + ' s'
          ),
          { retryAfter: secs }
        )
      );
    }
    return delay(wait);
  }

  /**
   * Runs `op` after the hold-off; on `rate_limited` or `overloaded` notes the
   * `Retry-After`, and (if `retry`) waits it out when it is short and runs
   * `op` once more.
   */
  function backoff<T>(op: () => Promise<T>, retry: boolean): Promise<T> {
    return gate()
      .then(op)
      .catch(function (e: WxauthError) {
        if (!(e instanceof WxauthError) || e.status === 0) throw e;
        if (e.code !== 'rate_limited' && e.code !== 'overloaded') throw e;
        const secs = e.retryAfter == null ? 1 : e.retryAfter;
        holdUntil = Math.max(holdUntil, Date.now() + secs * 1000);
        if (!retry || secs * 1000 > maxWaitMs) throw e;
        return backoff(op, false);
      });
  }

  function login(): Promise<TokenResponse> {
    return singleFlight(
      function () {
        return loggingIn;
      },
      function (p) {
        loggingIn = p;
      },
      function () {
        // Each try gets a fresh code: a code works once.
        return backoff(function () {
          return getCode()
            .then(function (code) {
              const body: { code: string; appid?: string } = { code: code };
              if (appid) body.appid = appid;
              return send({ url: '/auth/login', method: 'POST', data: body });
            })
            .then(function (res) {
              if (res.statusCode === 200 && res.data && res.data.access_token) {
                save(res.data);
                return res.data as TokenResponse;
              }
              const err = problem(res);
              if (err.code === 'unknown_app') {
                throw withFields(
                  new WxauthError(
                    err.code,
                    err.status,
                    err.detail,
                    appid
                      ? 'wxauth: the server serves no app with appid ' + appid
                      : 'wxauth: the server serves several apps: pass options.appid'
                  ),
                  { title: err.title, appid: appid }
                );
              }
              throw err;
            });
        }, true);
      }
    );
  }

  function tokenOf(body: TokenResponse): string {
    return body.access_token;
  }

  /** Renew `token` through /auth/refresh (single flight); a 401 there means log in again. */
  function renew(token: string): Promise<string> {
    return singleFlight(
      function () {
        return renewing;
      },
      function (p) {
        renewing = p;
      },
      function () {
        return backoff(function () {
          return send({ url: '/auth/refresh', method: 'POST' }, token).then(function (res) {
            if (res.statusCode === 200 && res.data && res.data.access_token) {
              save(res.data);
              return res.data.access_token as string;
            }
            if (res.statusCode === 401) return login().then(tokenOf);
            throw problem(res);
          });
        }, true);
      }
    );
  }

  /** A token to send now: logs in when there is none, renews one that expires soon. */
  function currentToken(): Promise<string> {
    const s = load();
    if (!s) return login().then(tokenOf);
    const margin = Math.min(renewBefore * 1000, (s.expiresIn || Infinity) * 500);
    if (s.expiresAt - Date.now() <= margin) {
      // A failed renewal (network, 5xx, rate limited) is not fatal: the current
      // token may still work, and if the server refuses it the request logs in again.
      return renew(s.token).catch(function (e: WxauthError) {
        if (e.code === 'network_error' || e.status >= 500 || e.code === 'rate_limited') return s.token;
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
  function replace(refused: string): Promise<string> {
    return Promise.resolve(renewing)
      .catch(function () {})
      .then(function () {
        const s = load();
        if (s && s.token !== refused) return s.token;
        return login().then(tokenOf);
      });
  }

  /** Sends with a token; on a 401 replaces the token once and retries once. */
  function authed(opts: RequestOptions): Promise<{ res: Response; token: string }> {
    return currentToken().then(function (token) {
      return send(opts, token).then(function (res) {
        if (res.statusCode !== 401) return { res: res, token: token };
        return replace(token).then(function (fresh) {
          return send(opts, fresh).then(function (res2) {
            return { res: res2, token: fresh };
          });
        });
      });
    });
  }

  function request<T = any>(opts: RequestOptions): Promise<Response<T>> {
    return authed(opts).then(function (r) {
      return r.res;
    });
  }

  function me(): Promise<Me> {
    return request<Me>({ url: '/auth/me' }).then(function (res) {
      if (res.statusCode === 200) return res.data;
      throw problem(res);
    });
  }

  /** POST a JSON body to a /wx route; decrypt_failed logs in again and says so. */
  function wxCall(path: string, body: object, retry: boolean): Promise<any> {
    return backoff(function () {
      return authed({ url: path, method: 'POST', data: body }).then(function (r) {
        if (r.res.statusCode === 200) return r.res.data;
        const err = problem(r.res);
        if (err.code !== 'decrypt_failed') throw err;
        return replace(r.token).then(function () {
          err.relogged = true;
          throw err;
        });
      });
    }, retry);
  }

  function decrypt(encryptedData: string, iv: string): Promise<any> {
    return wxCall('/wx/decrypt', { encryptedData: encryptedData, iv: iv }, true);
  }

  // Not retried after a rate limit: the phone code may be spent; the caller
  // asks the user again after `retryAfter`.
  function phone(code: string): Promise<PhoneInfo> {
    return wxCall('/wx/phone', { code: code }, false);
  }

  function logout(): void {
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
function pickRuntime(options: ClientOptions): Adapter {
  const given: RuntimeName[] = [];
  const names: RuntimeName[] = ['wx', 'qq', 'tt', 'uni', 'Taro', 'my', 'swan', 'ks', 'feishu'];
  for (const n of names) if (options[n]) given.push(n);
  if (given.length > 1) throw new Error('wxauth: pass one runtime, not ' + given.join(' and '));
  if (given.length === 1) {
    const n = given[0];
    if (n === 'Taro') return promiseAdapter(options.Taro!);
    if (n === 'my') return alipayAdapter(options.my!);
    return callbackAdapter(n, options[n] as CallbackRuntime);
  }
  // Alipay's `my` has its own shape.
  const myApi = (typeof my !== 'undefined' ? my : undefined) as AlipayRuntime | undefined;
  if (myApi && typeof myApi.getAuthCode === 'function' && typeof myApi.request === 'function') {
    return alipayAdapter(myApi);
  }
  // uni first (it runs on top of the others), then the platforms' own objects;
  // QQ and Douyin may also define `wx`, so it comes last.
  const globals: Array<[RuntimeName, unknown]> = [
    ['uni', typeof uni !== 'undefined' ? uni : undefined],
    ['qq', typeof qq !== 'undefined' ? qq : undefined],
    ['swan', typeof swan !== 'undefined' ? swan : undefined],
    ['ks', typeof ks !== 'undefined' ? ks : undefined],
    [isFeishu(typeof tt !== 'undefined' ? tt : undefined) ? 'feishu' : 'tt', typeof tt !== 'undefined' ? tt : undefined],
    ['wx', typeof wx !== 'undefined' ? wx : undefined],
  ];
  for (const g of globals) {
    const api = g[1] as CallbackRuntime | undefined;
    if (api && typeof api.login === 'function' && typeof api.request === 'function') {
      return callbackAdapter(g[0], api);
    }
  }
  throw new Error('wxauth: no mini-program runtime found (pass wx, qq, tt, my, swan, ks, feishu, uni or Taro)');
}

/** Feishu runs gadgets on a `tt` of its own; its system info names the host app. */
function isFeishu(api: unknown): boolean {
  try {
    const info = api && typeof (api as CallbackRuntime).getSystemInfoSync === 'function'
      ? (api as CallbackRuntime).getSystemInfoSync!()
      : null;
    const appName = info && (info as { appName?: unknown }).appName;
    return typeof appName === 'string' && /feishu|lark/i.test(appName);
  } catch (_) {
    return false;
  }
}

function alipayAdapter(api: AlipayRuntime): Adapter {
  return {
    name: 'my',
    login: function () {
      return new Promise<string>(function (resolve, reject) {
        // auth_base: silent, gives the user's id only (alipay.system.oauth.token).
        api.getAuthCode({
          scopes: 'auth_base',
          success: function (res) {
            if (res && res.authCode) resolve(res.authCode);
            else reject(loginFailed(undefined, 'my'));
          },
          fail: function (err) {
            reject(loginFailed(err && err.errorMessage, 'my'));
          },
        });
      });
    },
    request: function (opts) {
      return new Promise<Response>(function (resolve, reject) {
        const headers: Record<string, string> = Object.assign({}, opts.header);
        let data: any = opts.data;
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
          fail: function (err: any) {
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

function callbackAdapter(name: RuntimeName, api: CallbackRuntime): Adapter {
  if (CALLBACK_RUNTIMES.indexOf(name) < 0) throw new Error('wxauth: unknown runtime ' + name);
  return {
    name: name,
    login: function () {
      return new Promise<string>(function (resolve, reject) {
        // Baidu: getLoginCode gives the code jscode2sessionkey takes.
        const call = name === 'swan' && typeof api.getLoginCode === 'function' ? api.getLoginCode.bind(api) : api.login.bind(api);
        call({
          success: function (res) {
            if (res && res.code) resolve(res.code);
            else reject(loginFailed((res as any) && (res as any).errMsg, name));
          },
          fail: function (err) {
            reject(loginFailed(err && err.errMsg, name));
          },
        });
      });
    },
    request: function (opts) {
      return new Promise<Response>(function (resolve, reject) {
        api.request(
          Object.assign({}, opts, {
            success: function (res: { statusCode: number; data: any; header: any }) {
              resolve({ statusCode: res.statusCode, data: res.data, header: res.header || {} });
            },
            fail: function (err: { errMsg: string }) {
              reject(new WxauthError('network_error', 0, (err && err.errMsg) || 'request failed'));
            },
          })
        );
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

function promiseAdapter(api: PromiseRuntime): Adapter {
  return {
    name: 'Taro',
    login: function () {
      return api.login().then(
        function (res) {
          if (res && res.code) return res.code;
          throw loginFailed((res as any) && (res as any).errMsg, 'Taro');
        },
        function (err: any) {
          throw loginFailed(err && err.errMsg, 'Taro');
        }
      );
    },
    request: function (opts) {
      return api.request(opts).then(
        function (res) {
          return { statusCode: res.statusCode, data: res.data, header: res.header || {} };
        },
        function (err: any) {
          throw new WxauthError('network_error', 0, (err && err.errMsg) || 'request failed');
        }
      );
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
      return accountAppid(api) || envAppid(api as any);
    },
  };
}

function accountAppid(api: { getAccountInfoSync?(): { miniProgram: { appId: string } } }): string | undefined {
  try {
    const info = typeof api.getAccountInfoSync === 'function' ? api.getAccountInfoSync() : null;
    return (info && info.miniProgram && info.miniProgram.appId) || undefined;
  } catch (_) {
    return undefined;
  }
}

function envAppid(api: { getEnvInfoSync?(): { microapp: { appId: string } } }): string | undefined {
  try {
    const info = typeof api.getEnvInfoSync === 'function' ? api.getEnvInfoSync() : null;
    return (info && info.microapp && info.microapp.appId) || undefined;
  } catch (_) {
    return undefined;
  }
}

function loginFailed(errMsg: string | undefined, runtime: RuntimeName): WxauthError {
  return new WxauthError('login_failed', 0, errMsg || runtime + '.login gave no code');
}

function withFields(err: WxauthError, fields: { [k: string]: unknown }): WxauthError {
  for (const k of Object.keys(fields)) {
    if (fields[k] !== undefined) (err as any)[k] = fields[k];
  }
  return err;
}

function delay(ms: number): Promise<void> {
  return new Promise<void>(function (resolve) {
    setTimeout(resolve, ms);
  });
}

/** A header's value, whatever the case of its name. */
function headerValue(header: Record<string, any> | undefined, name: string): string | undefined {
  if (!header) return undefined;
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
function retryAfterSeconds(header: Record<string, any> | undefined): number | undefined {
  const v = headerValue(header, 'Retry-After');
  if (v == null) return undefined;
  const t = v.trim();
  if (/^\d+$/.test(t)) return parseInt(t, 10);
  const when = Date.parse(t);
  if (isNaN(when)) return undefined;
  return Math.max(0, Math.ceil((when - Date.now()) / 1000));
}

/** A WxauthError from an answer, with the problem+json fields when the body has them. */
function problem(res: Response): WxauthError {
  const body = res.data && typeof res.data === 'object' ? res.data : {};
  const code: string = typeof body.code === 'string' ? body.code : 'http_error';
  const detail: string = body.detail || body.title || 'HTTP ' + res.statusCode;
  const err = new WxauthError(code, res.statusCode, detail, 'wxauth: ' + code + ': ' + detail);
  return withFields(err, {
    title: typeof body.title === 'string' ? body.title : undefined,
    retryAfter: retryAfterSeconds(res.header),
  });
}

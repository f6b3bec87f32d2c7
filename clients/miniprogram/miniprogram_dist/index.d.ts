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
/** The runtimes the client knows, named as their API objects are. */
export type RuntimeName = 'wx' | 'qq' | 'tt' | 'uni' | 'Taro' | 'my' | 'swan' | 'ks' | 'feishu';
/**
 * Error codes: the server's stable problem+json `code`s, and the client's own
 * (`network_error`, `login_failed`, `http_error`). Other strings may appear as
 * the server adds codes.
 */
export type ErrorCode = 'invalid_request' | 'unknown_app' | 'unsupported_platform' | 'payload_too_large' | 'unsupported_media_type' | 'invalid_code' | 'code_used' | 'rate_limited' | 'user_blocked' | 'upstream_error' | 'upstream_unavailable' | 'overloaded' | 'invalid_token' | 'session_expired' | 'decrypt_failed'
/** no answer came (offline, DNS, TLS, domain not in the request legal domains) */
 | 'network_error'
/** the runtime's login call (`wx.login`, `tt.login`, ...) failed or gave no code */
 | 'login_failed'
/** an error answer without a problem+json body (e.g. from a proxy) */
 | 'http_error' | (string & {});
/**
 * A failed call, with the problem+json fields of the answer
 * (`{type, title, status, detail, code}`, RFC 9457).
 */
export declare class WxauthError extends Error {
    /** What went wrong, to branch on: `unknown_app`, `rate_limited`, `decrypt_failed`, ... */
    readonly code: ErrorCode;
    /** HTTP status; 0 when no answer came (and when the client did not send, see `rate_limited`) */
    readonly status: number;
    /** The server's explanation, for people (logs, not UI) */
    readonly detail?: string;
    /** The problem's short title */
    readonly title?: string;
    /**
     * Seconds to wait before trying again: from `Retry-After` on `rate_limited`
     * and `overloaded`.
     */
    readonly retryAfter?: number;
    /**
     * `unknown_app`: the appid the client sent (none: the server serves several
     * apps and needs one, pass `appid`).
     */
    readonly appid?: string;
    /**
     * `decrypt_failed`: true once the client has logged in again because of it;
     * fetch the data again and call `decrypt` with the fresh data.
     */
    relogged?: boolean;
    constructor(code: ErrorCode, status: number, detail?: string, message?: string);
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
        success?: (res: {
            code: string;
        }) => void;
        fail?: (err: {
            errMsg: string;
        }) => void;
    }): unknown;
    request(options: {
        url: string;
        method?: any;
        data?: any;
        header?: any;
        success?: (res: {
            statusCode: number;
            data: any;
            header: any;
        }) => void;
        fail?: (err: {
            errMsg: string;
        }) => void;
    }): unknown;
    getStorageSync(key: string): any;
    setStorageSync(key: string, data: any): void;
    removeStorageSync(key: string): void;
    /** WeChat, QQ, uni-app: `getAccountInfoSync().miniProgram.appId` */
    getAccountInfoSync?(): {
        miniProgram: {
            appId: string;
        };
    };
    /** Douyin: `getEnvInfoSync().microapp.appId` */
    getEnvInfoSync?(): {
        microapp: {
            appId: string;
        };
    };
    /** Baidu: `swan.getLoginCode` gives the code its server exchanges (preferred to `login`) */
    getLoginCode?(options: {
        success?: (res: {
            code: string;
        }) => void;
        fail?: (err: {
            errMsg: string;
        }) => void;
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
        success?: (res: {
            authCode: string;
        }) => void;
        fail?: (err: {
            error?: number;
            errorMessage?: string;
        }) => void;
    }): unknown;
    request(options: {
        url: string;
        method?: any;
        data?: any;
        headers?: Record<string, string>;
        dataType?: any;
        success?: (res: {
            status: number;
            data: any;
            headers: any;
        }) => void;
        fail?: (err: {
            error?: number;
            errorMessage?: string;
        }) => void;
    }): unknown;
    getStorageSync(options: {
        key: string;
    }): {
        data: unknown;
    };
    setStorageSync(options: {
        key: string;
        data: any;
    }): void;
    removeStorageSync(options: {
        key: string;
    }): void;
    getAccountInfoSync?(): {
        miniProgram: {
            appId: string;
        };
    };
}
/** What the client needs of a promise-style runtime: Taro. */
export interface PromiseRuntime {
    login(): Promise<{
        code: string;
    }>;
    request(options: {
        url: string;
        method?: any;
        data?: any;
        header?: any;
    }): Promise<{
        statusCode: number;
        data: any;
        header: any;
    }>;
    getStorageSync(key: string): any;
    setStorageSync(key: string, data: any): void;
    removeStorageSync(key: string): void;
    getAccountInfoSync?(): {
        miniProgram: {
            appId: string;
        };
    };
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
    decrypt<T extends object = Record<string, any>>(encryptedData: string, iv: string): Promise<T & {
        watermark: Watermark;
    }>;
    /**
     * The user's phone number from the code of
     * `<button open-type="getPhoneNumber">` (`e.detail.code`): `POST /wx/phone`.
     * WeChat apps only (others: `unsupported_platform`).
     */
    phone(code: string): Promise<PhoneInfo>;
    /** Forget the token (the next request logs in again). */
    logout(): void;
}
/** Create a client of one wxauth server. */
export declare function createClient(options: ClientOptions): Client;

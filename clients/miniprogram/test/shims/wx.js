// @ts-check
'use strict';
// The WeChat runtime (`wx`) for the tests: the calls the client makes, each
// typed as miniprogram-api-typings (WeChat's own typings) declares it, so
// `tsc --strict` (test/typecheck.js) fails when the shim drifts from the API.
// qq.js reuses it: QQ's API is WeChat's under another name.

/** @typedef {import('./device').Device} Device */
/**
 * @typedef {Pick<WechatMiniprogram.Wx,
 *   'login' | 'request' | 'getStorageSync' | 'setStorageSync' | 'removeStorageSync' | 'getAccountInfoSync'>} WxShim
 */

/** @returns {WechatMiniprogram.RequestProfile} zeros: the tests read no timings */
function profile() {
  return {
    SSLconnectionEnd: 0, SSLconnectionStart: 0, connectEnd: 0, connectStart: 0,
    domainLookUpEnd: 0, domainLookUpStart: 0, downstreamThroughputKbpsEstimate: 0,
    estimate_nettype: 0, fetchStart: 0, httpDNSDomainLookUpEnd: 0, httpDNSDomainLookUpStart: 0,
    httpRttEstimate: 0, invokeStart: 0, peerIP: '127.0.0.1', port: 0, protocol: 'http/1.1',
    queueEnd: 0, queueStart: 0, receivedBytedCount: 0, redirectEnd: 0, redirectStart: 0,
    requestEnd: 0, requestStart: 0, responseEnd: 0, responseStart: 0, rtt: 0,
    sendBytesCount: 0, socketReused: false, throughputKbps: 0, transportRttEstimate: 0,
    usingHighPerformanceMode: false,
  };
}

/**
 * @param {Device} dev
 * @param {string} [name] the API object's name in errMsg ('wx', 'qq')
 * @returns {WxShim}
 */
function makeWx(dev, name = 'wx') {
  return {
    login(option) {
      /** @type {Promise<WechatMiniprogram.LoginSuccessCallbackResult>} */
      const done = new Promise((resolve, reject) => {
        dev.simLogin((err, code) => {
          if (err || !code) {
            /** @type {WechatMiniprogram.LoginFailCallbackErr} */
            const e = { errMsg: 'login:fail ' + err, errno: 1 };
            if (option && option.fail) option.fail(e);
            if (option && option.complete) option.complete(e);
            reject(e);
            return;
          }
          const res = { code, errMsg: 'login:ok' };
          if (option && option.success) option.success(res);
          if (option && option.complete) option.complete(res);
          resolve(res);
        });
      });
      // Like wx: a promise only when no callback is given.
      if (option && (option.success || option.fail || option.complete)) {
        done.catch(() => {});
        return /** @type {any} */ (undefined);
      }
      return /** @type {any} */ (done);
    },

    request(option) {
      dev.http({ url: option.url, method: option.method, header: option.header, data: option.data }, (err, res) => {
        if (err || !res) {
          /** @type {WechatMiniprogram.RequestFailCallbackErr} */
          const e = {
            errMsg: String(err),
            errno: 600001,
            exception: { reasons: [], retryCount: 0 },
            useHttpDNS: false,
          };
          if (option.fail) option.fail(e);
          if (option.complete) option.complete(e);
          return;
        }
        /** @type {WechatMiniprogram.RequestSuccessCallbackResult<any>} */
        const ok = {
          data: res.data,
          statusCode: res.statusCode,
          header: res.header,
          cookies: [],
          errMsg: 'request:ok',
          exception: { reasons: [], retryCount: 0 },
          profile: profile(),
          useHttpDNS: false,
        };
        if (option.success) option.success(ok);
        if (option.complete) option.complete(ok);
      });
      return {
        abort() {},
        onHeadersReceived() {},
        offHeadersReceived() {},
        onChunkReceived() {},
        offChunkReceived() {},
      };
    },

    getStorageSync(key) {
      return dev.storage.get(key);
    },
    setStorageSync(key, data) {
      dev.storage.set(key, data);
    },
    removeStorageSync(key) {
      dev.storage.remove(key);
    },

    getAccountInfoSync() {
      if (!dev.accountInfo) throw new Error(name + '.getAccountInfoSync is not a function');
      return {
        miniProgram: { appId: dev.appid, envVersion: 'develop', version: '' },
        plugin: { appId: '', version: '' },
      };
    },
  };
}

module.exports = { makeWx };

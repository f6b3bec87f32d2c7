// @ts-check
'use strict';
// The Taro runtime (`Taro` from @tarojs/taro) for the tests: the calls the
// client makes, promise-returning, typed as @tarojs/taro declares them
// (TaroStatic), so `tsc --strict` (test/typecheck.js) fails when the shim
// drifts from the API. The tests run it on the Douyin app, where Taro's
// getAccountInfoSync is not supported (weapp, alipay, qq only) and the app
// passes `appid`.

/** @typedef {import('@tarojs/taro').TaroStatic} TaroStatic */
/**
 * @typedef {Pick<TaroStatic,
 *   'login' | 'request' | 'getStorageSync' | 'setStorageSync' | 'removeStorageSync' | 'getAccountInfoSync'>} TaroShim
 */

/**
 * @param {import('./device').Device} dev
 * @returns {TaroShim}
 */
function makeTaro(dev) {
  return {
    login(option) {
      return new Promise((resolve, reject) => {
        dev.simLogin((err, code) => {
          if (err || !code) {
            const e = { errMsg: 'login:fail ' + err };
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
    },

    request(option) {
      /** @type {Promise<import('@tarojs/taro').request.SuccessCallbackResult<any>>} */
      const done = new Promise((resolve, reject) => {
        dev.http({ url: option.url, method: option.method, header: option.header, data: option.data }, (err, res) => {
          if (err || !res) {
            const e = { errMsg: String(err) };
            if (option.fail) option.fail(e);
            if (option.complete) option.complete(e);
            reject(e);
            return;
          }
          const ok = { data: res.data, statusCode: res.statusCode, header: res.header, cookies: [], errMsg: 'request:ok' };
          if (option.success) option.success(ok);
          if (option.complete) option.complete(ok);
          resolve(ok);
        });
      });
      // Taro's RequestTask is the promise with abort() (and listeners) added.
      return Object.assign(done, {
        abort() {},
        onHeadersReceived() {},
        offHeadersReceived() {},
        onChunkReceived() {},
        offChunkReceived() {},
      });
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
      if (!dev.accountInfo) throw new Error('Taro.getAccountInfoSync is not supported on this platform');
      return {
        miniProgram: { appId: dev.appid, envVersion: 'develop', version: '' },
        plugin: { appId: '', version: '' },
      };
    },
  };
}

module.exports = { makeTaro };

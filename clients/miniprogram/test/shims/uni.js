// @ts-check
'use strict';
// The uni-app runtime (`uni`) for the tests: the calls the client makes, typed
// as @dcloudio/types declares them (UniNamespace.Uni, with its promisify
// overloads), so `tsc --strict` (test/typecheck.js) fails when the shim drifts
// from the API. uni wraps whichever platform it runs on; the tests run it on
// the QQ app.

/**
 * @typedef {Pick<UniNamespace.Uni,
 *   'login' | 'request' | 'getStorageSync' | 'setStorageSync' | 'removeStorageSync' | 'getAccountInfoSync'>} UniShim
 */

/**
 * @param {import('./device').Device} dev
 * @returns {UniShim}
 */
function makeUni(dev) {
  return {
    // login and request are overloaded (callbacks, or a promise without them):
    // their options are annotated, as overloads give no contextual type.
    /** @param {UniNamespace.LoginOptions} [options] */
    login(options) {
      /** @type {Promise<UniNamespace.LoginRes>} */
      const done = new Promise((resolve, reject) => {
        dev.simLogin((err, code) => {
          if (err || !code) {
            const e = { errMsg: 'login:fail ' + err };
            if (options && options.fail) options.fail(e);
            if (options && options.complete) options.complete(e);
            reject(e);
            return;
          }
          /** @type {UniNamespace.LoginRes} */
          const res = { code, errMsg: 'login:ok', authResult: '' };
          if (options && options.success) options.success(res);
          if (options && options.complete) options.complete(res);
          resolve(res);
        });
      });
      // Like uni: a promise only when no callback is given.
      if (options && (options.success || options.fail || options.complete)) {
        done.catch(() => {});
        return /** @type {any} */ (undefined);
      }
      return /** @type {any} */ (done);
    },

    /** @param {UniNamespace.RequestOptions} options */
    request(options) {
      /** @type {Promise<UniNamespace.RequestSuccessCallbackResult>} */
      const done = new Promise((resolve, reject) => {
        dev.http({ url: options.url, method: options.method, header: options.header, data: options.data }, (err, res) => {
          if (err || !res) {
            /** @type {UniNamespace.GeneralCallbackResult} */
            const e = { errMsg: String(err) };
            if (options.fail) options.fail(e);
            if (options.complete) options.complete(e);
            reject(e);
            return;
          }
          /** @type {UniNamespace.RequestSuccessCallbackResult} */
          const ok = { data: res.data, statusCode: res.statusCode, header: res.header, cookies: [] };
          if (options.success) options.success(ok);
          if (options.complete) options.complete({ errMsg: 'request:ok' });
          resolve(ok);
        });
      });
      /** @type {UniNamespace.RequestTask} */
      const task = { abort() {}, onHeadersReceived() {}, offHeadersReceived() {} };
      if (options.success || options.fail || options.complete) {
        done.catch(() => {});
        return /** @type {any} */ (task);
      }
      return /** @type {any} */ (done);
    },

    getStorageSync(key) {
      return dev.storage.get(key);
    },
    setStorageSync(key, value) {
      dev.storage.set(key, value);
    },
    removeStorageSync(key) {
      dev.storage.remove(key);
    },

    getAccountInfoSync() {
      if (!dev.accountInfo) throw new Error('uni.getAccountInfoSync is not a function');
      return {
        miniProgram: { appId: dev.appid, envVersion: 'develop', version: '' },
        plugin: { appId: '', version: '' },
      };
    },
  };
}

module.exports = { makeUni };

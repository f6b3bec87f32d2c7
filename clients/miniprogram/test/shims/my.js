// @ts-check
'use strict';
// The Alipay runtime (`my`) for the tests: the calls the client makes, typed
// as @mini-types/alipay declares them (the global `my`), so `tsc --strict`
// (test/typecheck.js) fails when the shim drifts from the API. Alipay's
// shape differs from WeChat's: my.getAuthCode gives `authCode`, my.request
// takes `headers` and answers `status`, storage calls take `{key, data}`.

/**
 * @typedef {Pick<typeof my,
 *   'getAuthCode' | 'request' | 'getStorageSync' | 'setStorageSync' | 'removeStorageSync' | 'getAccountInfoSync'>} MyShim
 */

/**
 * @param {import('./device').Device} dev
 * @returns {MyShim}
 */
function makeMy(dev) {
  return {
    getAuthCode(object) {
      // Like my: callbacks, and a promise too.
      return new Promise((resolve, reject) => {
        dev.simLogin((err, code) => {
          if (err || !code) {
            const e = { error: 11, errorMessage: String(err) };
            if (object && object.fail) object.fail(e);
            if (object && object.complete) object.complete(e);
            reject(e);
            return;
          }
          const res = { authCode: code, authErrorScopes: {}, authSuccessScopes: /** @type {['auth_base']} */ (['auth_base']) };
          if (object && object.success) object.success(res);
          if (object && object.complete) object.complete(res);
          resolve(res);
        });
      }).catch((e) => {
        if (object && (object.fail || object.complete)) return /** @type {any} */ (undefined);
        throw e;
      });
    },

    request(object) {
      const header = Object.assign({}, object.headers || object.header);
      dev.http({ url: object.url, method: object.method, header, data: object.data }, (err, res) => {
        if (err || !res) {
          const e = { error: 12, errorMessage: String(err) };
          if (object.fail) object.fail(e);
          if (object.complete) object.complete(e);
          return;
        }
        const ok = { data: res.data, status: res.statusCode, headers: res.header, statusCode: res.statusCode, header: res.header };
        if (object.success) object.success(ok);
        if (object.complete) object.complete(ok);
      });
      return /** @type {any} */ ({ abort() {} });
    },

    getStorageSync(object) {
      const data = dev.storage.get(object.key);
      // Alipay answers null for a key never set.
      return { data: data === '' ? null : data };
    },
    setStorageSync(object) {
      dev.storage.set(object.key, object.data);
      return { success: true };
    },
    removeStorageSync(object) {
      dev.storage.remove(object.key);
      return { success: /** @type {true} */ (true) };
    },

    getAccountInfoSync() {
      if (!dev.accountInfo) throw new Error('my.getAccountInfoSync is not a function');
      return /** @type {ReturnType<typeof my.getAccountInfoSync>} */ (
        /** @type {unknown} */ ({ miniProgram: { appId: dev.appid, envVersion: 'develop', version: '' } })
      );
    },
  };
}

module.exports = { makeMy };

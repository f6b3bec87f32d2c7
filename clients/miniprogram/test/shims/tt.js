// @ts-check
'use strict';
// The Douyin runtime (`tt`) for the tests: the calls the client makes, typed
// as @douyin-microapp/typings declares them (the global `tt`), so
// `tsc --strict` (test/typecheck.js) fails when the shim drifts from the API.
// Douyin names its account-info call getEnvInfoSync().microapp.appId.

/**
 * @typedef {Pick<typeof tt,
 *   'login' | 'request' | 'getStorageSync' | 'setStorageSync' | 'removeStorageSync' | 'getEnvInfoSync'>} TtShim
 */

/**
 * @param {import('./device').Device} dev
 * @returns {TtShim}
 */
function makeTt(dev) {
  return {
    login(options) {
      dev.simLogin((err, code) => {
        if (err || !code) {
          const e = { errMsg: 'login:fail ' + err, errNo: 10202 };
          if (options.fail) options.fail(e);
          if (options.complete) options.complete(e);
          return;
        }
        // anonymousCode identifies the device; wxauth issues no token for it.
        const res = { code, anonymousCode: 'anon-' + code, isLogin: true, errMsg: 'login:ok' };
        if (options.success) options.success(res);
        if (options.complete) options.complete(Object.assign({ errNo: 0 }, res));
      });
    },

    request(options) {
      // tt types the header as `object`; its values are strings.
      const header = /** @type {Record<string, string>} */ (Object.assign({}, options.header));
      dev.http({ url: options.url, method: options.method, header, data: options.data }, (err, res) => {
        if (err || !res) {
          const e = { errMsg: String(err), errNo: 21100 };
          if (options.fail) options.fail(e);
          if (options.complete) options.complete(e);
          return;
        }
        const ok = { statusCode: res.statusCode, header: res.header, data: res.data, errMsg: 'request:ok' };
        if (options.success) options.success(ok);
        if (options.complete) options.complete(Object.assign({ errNo: 0 }, ok));
      });
      return { abort() {} };
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

    getEnvInfoSync() {
      if (!dev.accountInfo) throw new Error('tt.getEnvInfoSync is not a function');
      return {
        microapp: { mpVersion: '0.0.1', envType: 'development', appId: dev.appid },
        plugin: {},
        common: { USER_DATA_PATH: 'ttfile://user', location: undefined, launchFrom: undefined, schema: undefined },
      };
    },
  };
}

module.exports = { makeTt };

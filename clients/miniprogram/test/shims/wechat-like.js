// @ts-check
'use strict';
// The WeChat-shaped runtimes that publish no typings (Baidu's swan,
// Kuaishou's ks, Feishu's tt): login/request/storage as the client's
// CallbackRuntime declares them, with errMsg-style failures.

/**
 * @param {import('./device').Device} dev
 * @param {string} name the API object's name in errMsg
 * @returns {import('../..').CallbackRuntime}
 */
function makeWechatLike(dev, name) {
  return {
    login(options) {
      dev.simLogin((err, code) => {
        if (err || !code) {
          if (options.fail) options.fail({ errMsg: name + '.login:fail ' + err });
          return;
        }
        if (options.success) options.success({ code });
      });
    },
    request(options) {
      dev.http({ url: options.url, method: options.method, header: options.header, data: options.data }, (err, res) => {
        if (err || !res) {
          if (options.fail) options.fail({ errMsg: name + '.request:fail ' + err });
          return;
        }
        if (options.success) options.success({ statusCode: res.statusCode, data: res.data, header: res.header });
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
  };
}

module.exports = { makeWechatLike };

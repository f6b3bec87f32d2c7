// @ts-check
'use strict';
// Feishu's runtime (its own `tt`) for the tests. No typings of Feishu's
// gadget API are published on the npm registry, so this shim is checked
// against the client's own declaration (CallbackRuntime): tt.login,
// tt.request, storage in WeChat's shape, and getSystemInfoSync naming the
// host app, by which the client tells Feishu's `tt` from Douyin's.

const { makeWechatLike } = require('./wechat-like.js');

/**
 * @param {import('./device').Device} dev
 * @returns {import('../..').CallbackRuntime}
 */
function makeFeishu(dev) {
  return Object.assign(makeWechatLike(dev, 'tt'), {
    getSystemInfoSync() {
      return { appName: 'Feishu' };
    },
  });
}

module.exports = { makeFeishu };

// @ts-check
'use strict';
// The Kuaishou runtime (`ks`) for the tests. No typings of ks are published
// on the npm registry, so this shim is checked against the client's own
// declaration of what it needs (CallbackRuntime): ks.login, ks.request,
// ks.getStorageSync ..., in WeChat's shape.

const { makeWechatLike } = require('./wechat-like.js');

/**
 * @param {import('./device').Device} dev
 * @returns {import('../..').CallbackRuntime}
 */
function makeKs(dev) {
  return makeWechatLike(dev, 'ks');
}

module.exports = { makeKs };

// @ts-check
'use strict';
// The Baidu runtime (`swan`) for the tests. No typings of swan are published
// on the npm registry, so this shim is checked against the client's own
// declaration of what it needs (CallbackRuntime): swan.getLoginCode gives the
// code jscode2sessionkey takes; request and storage are WeChat's shape.

const { makeWechatLike } = require('./wechat-like.js');

/**
 * @param {import('./device').Device} dev
 * @returns {import('../..').CallbackRuntime}
 */
function makeSwan(dev) {
  const api = makeWechatLike(dev, 'swan');
  const simLogin = api.login;
  return Object.assign(api, {
    /** @type {NonNullable<import('../..').CallbackRuntime['getLoginCode']>} */
    getLoginCode(options) {
      return simLogin(options);
    },
    login() {
      throw new Error('the client must use swan.getLoginCode on Baidu');
    },
  });
}

module.exports = { makeSwan };

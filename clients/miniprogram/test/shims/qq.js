// @ts-check
'use strict';
// The QQ runtime (`qq`) for the tests. QQ's mini-program API is WeChat's under
// another name (qq.login, qq.request, qq.getStorageSync,
// qq.getAccountInfoSync().miniProgram.appId, as QQ documents them); no QQ typings
// are published on npm, so this shim is checked against WeChat's typings.

const { makeWx } = require('./wx.js');

/**
 * @param {import('./device').Device} dev
 * @returns {import('./wx.js').WxShim}
 */
function makeQq(dev) {
  return makeWx(dev, 'qq');
}

module.exports = { makeQq };

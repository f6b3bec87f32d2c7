'use strict';
// The five runtimes the tests run the client on, each through its shim
// (shims/, type-checked against the runtime's published typings), and the
// simulator app each plays (docs/API.md, "Simulator": one app per platform).

const { makeDevice } = require('./helpers.js');
const { makeWx } = require('./shims/wx.js');
const { makeQq } = require('./shims/qq.js');
const { makeTt } = require('./shims/tt.js');
const { makeUni } = require('./shims/uni.js');
const { makeTaro } = require('./shims/taro.js');

const APPS = {
  wechat: { appid: 'wxsimulator0000000', platform: 'wechat' },
  qq: { appid: '1109999999', platform: 'qq' },
  douyin: { appid: 'ttsimulator0000000', platform: 'douyin' },
};

/**
 * name: the createClient option the runtime object goes in;
 * app: the simulator app it runs as;
 * accountInfo: whether its account-info call gives the appid (Taro on Douyin
 * does not: the app passes `appid`, as the README says).
 */
const RUNTIMES = [
  { name: 'wx', make: makeWx, app: APPS.wechat, accountInfo: true },
  { name: 'qq', make: makeQq, app: APPS.qq, accountInfo: true },
  { name: 'tt', make: makeTt, app: APPS.douyin, accountInfo: true },
  { name: 'uni', make: makeUni, app: APPS.qq, accountInfo: true },
  { name: 'Taro', make: makeTaro, app: APPS.douyin, accountInfo: false },
];

/**
 * A device for `user` on runtime `rt`, its shim, and the createClient options
 * that use it (plus `extra`).
 */
function onRuntime(rt, baseUrl, user, extra) {
  const dev = makeDevice(baseUrl, { user, appid: rt.app.appid });
  dev.accountInfo = rt.accountInfo;
  const api = rt.make(dev);
  const options = Object.assign({ baseUrl, [rt.name]: api }, rt.accountInfo ? {} : { appid: rt.app.appid }, extra);
  return { dev, api, options };
}

module.exports = { APPS, RUNTIMES, onRuntime };

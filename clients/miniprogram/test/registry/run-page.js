'use strict';
// Runs the page of the mini-program project that clients/test-publish.sh made:
// after "build npm", with node_modules/ gone, require('wxauth-miniprogram')
// resolves as in the mini-program runtime, to
// miniprogram_npm/wxauth-miniprogram/. The page logs in (wx.login through the
// wx shim, against the real server in simulator mode) and shows its openid.
//
//   node run-page.js <project folder>

const assert = require('node:assert/strict');
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const { startServer, makeDevice } = require('../helpers.js');
const { makeWx } = require('../shims/wx.js');

const NAME = 'wxauth-miniprogram';

async function main(project) {
  assert.ok(!fs.existsSync(path.join(project, 'node_modules')), 'node_modules/ is gone, as in the runtime');
  const built = path.join(project, 'miniprogram_npm', NAME, 'index.js');
  assert.ok(fs.existsSync(built), `"build npm" wrote ${built}`);
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    return request === NAME ? built : resolve.call(this, request, ...rest);
  };

  const server = await startServer();
  try {
    const dev = makeDevice(server.baseUrl, { user: 'registry-user', appid: 'wxsimulator0000000' });
    let page;
    global.wx = makeWx(dev);
    global.App = () => {};
    global.getApp = () => ({ globalData: { baseUrl: server.baseUrl } });
    global.Page = (definition) => {
      page = Object.assign({ setData(d) { Object.assign(this.data, d); } }, definition);
    };
    require(path.join(project, 'app.js'));
    require(path.join(project, 'pages', 'index', 'index.js'));
    assert.ok(page, 'the page registered itself with Page()');

    await page.onLoad();

    assert.match(page.data.openid, /^o/, 'the page shows the openid wxauth answered');
    assert.equal(dev.loginCalls, 1, 'one wx.login()');
    console.log(`logged in from the installed package: openid ${page.data.openid}`);
  } finally {
    await server.stop();
  }
}

main(path.resolve(process.argv[2])).catch((err) => {
  console.error(err);
  process.exit(1);
});

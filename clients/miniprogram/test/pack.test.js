'use strict';
// `npm pack`, installed into an empty mini-program project as a user would:
// the folder "build npm" copies (package.json's `miniprogram`) is there, loads
// in Node and logs in against the real server through the wx shim; and the
// example mini-program (examples/miniprogram, the README's code) type-checks
// with `tsc --noEmit --strict` against the installed package and
// miniprogram-api-typings.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, makeDevice } = require('./helpers.js');
const { makeWx } = require('./shims/wx.js');

const PKG = path.resolve(__dirname, '..');
const EXAMPLE = path.resolve(PKG, '../../examples/miniprogram');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(cmd, args, cwd) {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    assert.fail(`${cmd} ${args.join(' ')}\n${e.stdout || ''}${e.stderr || ''}`);
  }
}

/** Copies a folder's files (not node_modules) into another. */
function copyTree(from, to) {
  fs.cpSync(from, to, { recursive: true, filter: (src) => !/node_modules|miniprogram_npm/.test(path.relative(from, src)) });
}

test('npm pack, installed into an empty mini-program project', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxauth-pack-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const server = await startServer();
  t.after(() => server.stop());

  // pack: exactly the built folder, package.json and README
  const packed = JSON.parse(run(NPM, ['pack', '--json', '--pack-destination', dir], PKG))[0];
  assert.deepEqual(
    packed.files.map((f) => f.path).sort(),
    ['README.md', 'miniprogram_dist/index.d.ts', 'miniprogram_dist/index.js', 'package.json']
  );

  // an empty mini-program project, and the package installed into it
  const project = path.join(dir, 'project');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'empty-mp', private: true }));
  fs.writeFileSync(path.join(project, 'project.config.json'), JSON.stringify({ appid: 'touristappid', compileType: 'miniprogram' }));
  fs.writeFileSync(path.join(project, 'app.json'), JSON.stringify({ pages: ['pages/index/index'] }));
  run(NPM, ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(dir, packed.filename)], project);

  const installed = path.join(project, 'node_modules', 'wxauth-miniprogram');
  const pj = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'));

  await t.test('package.json names the built folder, the entry and the types', () => {
    assert.equal(pj.miniprogram, 'miniprogram_dist');
    assert.equal(pj.main, 'miniprogram_dist/index.js');
    assert.equal(pj.types, 'miniprogram_dist/index.d.ts');
    assert.deepEqual(fs.readdirSync(path.join(installed, pj.miniprogram)).sort(), ['index.d.ts', 'index.js']);
    assert.ok(fs.existsSync(path.join(installed, pj.main)));
    assert.ok(fs.existsSync(path.join(installed, pj.types)));
  });

  await t.test('"build npm" copies the miniprogram folder; it loads and logs in through the wx shim', async () => {
    // what the developer tools do: miniprogram_npm/<name>/ = the package's miniprogram folder;
    // require('wxauth-miniprogram') in the mini-program then loads miniprogram_npm/wxauth-miniprogram/index.js
    const built = path.join(project, 'miniprogram_npm', pj.name);
    fs.cpSync(path.join(installed, pj.miniprogram), built, { recursive: true });
    const { createClient, WxauthError } = require(path.join(built, 'index.js'));
    assert.equal(typeof WxauthError, 'function');
    const dev = makeDevice(server.baseUrl, { user: 'packed-user', appid: 'wxsimulator0000000' });
    const client = createClient({ baseUrl: server.baseUrl, wx: makeWx(dev) });
    const res = await client.request({ url: '/auth/me' });
    assert.equal(res.statusCode, 200);
    assert.match(res.data.openid, /\S/);
    assert.equal(dev.loginCalls, 1);
  });

  await t.test('the example mini-program type-checks against the installed package (tsc --noEmit --strict)', () => {
    copyTree(EXAMPLE, project);
    // the typings from this package's dev dependencies, as the example's own would be
    fs.symlinkSync(path.join(PKG, 'node_modules', 'miniprogram-api-typings'), path.join(project, 'node_modules', 'miniprogram-api-typings'), 'dir');
    const tsc = path.join(PKG, 'node_modules', 'typescript', 'bin', 'tsc');
    run(process.execPath, [tsc, '--noEmit', '--strict', '-p', project], project);
  });
});

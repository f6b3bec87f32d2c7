'use strict';
// Types: each runtime's shim against that runtime's published typings, and the
// client's declarations accepting the real runtime objects (types/), with
// `tsc --noEmit --strict`; and miniprogram_dist/ (committed, what "build npm"
// copies) is exactly what src/index.ts builds to.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const PKG = path.resolve(__dirname, '..');
const TSC = path.join(PKG, 'node_modules', 'typescript', 'bin', 'tsc');

/** Runs tsc; fails the test with its output. */
function tsc(args) {
  try {
    execFileSync(process.execPath, [TSC, ...args], { cwd: PKG, encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    assert.fail('tsc ' + args.join(' ') + '\n' + (e.stdout || '') + (e.stderr || ''));
  }
}

const CHECKS = [
  ['wx and qq', 'miniprogram-api-typings', 'tsconfig.wx.json'],
  ['tt', '@douyin-microapp/typings', 'tsconfig.tt.json'],
  ['uni', '@dcloudio/types', 'tsconfig.uni.json'],
  ['Taro', '@tarojs/taro', 'tsconfig.taro.json'],
  ['my (Alipay)', '@mini-types/alipay', 'tsconfig.my.json'],
  ['swan, ks and Feishu tt (no published typings)', 'the client\'s CallbackRuntime', 'tsconfig.unpublished.json'],
];

for (const [runtime, typings, config] of CHECKS) {
  test(`tsc --strict: the ${runtime} shim and client types against ${typings}`, () => {
    tsc(['-p', path.join('test', 'types', config), '--noEmit', '--strict']);
  });
}

test('miniprogram_dist/ is what src/index.ts builds to', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'wxauth-build-'));
  try {
    tsc(['-p', 'tsconfig.build.json', '--outDir', out]);
    const built = fs.readdirSync(out).sort();
    assert.deepEqual(fs.readdirSync(path.join(PKG, 'miniprogram_dist')).sort(), built);
    for (const f of built) {
      assert.equal(
        fs.readFileSync(path.join(PKG, 'miniprogram_dist', f), 'utf8'),
        fs.readFileSync(path.join(out, f), 'utf8'),
        `miniprogram_dist/${f} is stale: run \`npm run build\` in clients/miniprogram`
      );
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});

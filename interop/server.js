// Starts the real wxauth binary in simulator mode for the interop tests.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// default: this repository's debug build
export const BIN = process.env.WXAUTH_BIN || fileURLToPath(new URL('../target/debug/wxauth', import.meta.url));

/** A fresh temp directory holding an empty key folder `keys/`. */
export function tempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxauth-interop-'));
  fs.mkdirSync(path.join(dir, 'keys'));
  return dir;
}

/** `wxauth keygen --alg ALG --dir DIR --kid KID`; returns the kid it printed. */
export function keygen(alg, dir, kid) {
  return execFileSync(BIN, ['keygen', '--alg', alg, '--dir', dir, '--kid', kid], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

/**
 * Start wxauth (simulator mode, port 0) with `cwd` as working directory; resolves
 * once it logs `listening on http://127.0.0.1:PORT`.
 */
export function startServer(cwd, env = {}) {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(WXAUTH_|WECHAT_|RUST_LOG$)/.test(k))
  );
  const child = spawn(BIN, ['serve'], {
    cwd,
    env: { ...clean, WXAUTH_BIND: '127.0.0.1:0', RUST_LOG: 'info', WXAUTH_SHUTDOWN_TIMEOUT: '1', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let log = '';
  return new Promise((resolve, reject) => {
    const fail = (err) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}\n--- wxauth stderr ---\n${log}`));
    };
    const timer = setTimeout(() => fail(new Error('wxauth did not start within 15 s')), 15000);
    const early = (code, sig) => fail(new Error(`wxauth exited (${code ?? sig}) before listening`));
    child.once('exit', early);
    child.once('error', fail);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (!m || !timer) return;
      clearTimeout(timer);
      child.removeListener('exit', early);
      resolve({
        baseUrl: m[1],
        pid: child.pid,
        get log() { return log; },
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    });
  });
}

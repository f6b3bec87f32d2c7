// Baidu (swan), Kuaishou (ks) and Feishu (tt) publish no typings on the npm
// registry: their shims are checked against the client's own CallbackRuntime.
import { createClient } from '../..';
import { makeSwan } from '../shims/swan.js';
import { makeKs } from '../shims/ks.js';
import { makeFeishu } from '../shims/feishu.js';
import type { Device } from '../shims/device';

declare const dev: Device;
export const runtimes: string[] = [
  createClient({ baseUrl: 'https://auth.example.com', swan: makeSwan(dev) }).runtime,
  createClient({ baseUrl: 'https://auth.example.com', ks: makeKs(dev) }).runtime,
  createClient({ baseUrl: 'https://auth.example.com', feishu: makeFeishu(dev) }).runtime,
];

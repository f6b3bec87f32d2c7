// The client's declared runtime types accept WeChat's `wx` as
// miniprogram-api-typings declares it, and the wx and qq test shims.
import { createClient } from '../..';
import { makeWx } from '../shims/wx.js';
import { makeQq } from '../shims/qq.js';
import type { Device } from '../shims/device';

declare const dev: Device;
const real = createClient({ baseUrl: 'https://auth.example.com', wx });
const realAsQq = createClient({ baseUrl: 'https://auth.example.com', qq: wx });
const shims = [
  createClient({ baseUrl: 'https://auth.example.com', wx: makeWx(dev) }),
  createClient({ baseUrl: 'https://auth.example.com', qq: makeQq(dev) }),
];
export const runtimes: string[] = [real.runtime, realAsQq.runtime, ...shims.map((c) => c.runtime)];

// The client's declared runtime types accept Douyin's `tt` as
// @douyin-microapp/typings declares it, and the test shim.
import { createClient } from '../..';
import { makeTt } from '../shims/tt.js';
import type { Device } from '../shims/device';

declare const dev: Device;
const real = createClient({ baseUrl: 'https://auth.example.com', tt });
const shim = createClient({ baseUrl: 'https://auth.example.com', tt: makeTt(dev) });
export const runtimes: string[] = [real.runtime, shim.runtime];

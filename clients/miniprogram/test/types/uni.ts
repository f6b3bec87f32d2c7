// The client's declared runtime types accept uni-app's `uni` as
// @dcloudio/types declares it, and the test shim.
import { createClient } from '../..';
import { makeUni } from '../shims/uni.js';
import type { Device } from '../shims/device';

declare const dev: Device;
const real = createClient({ baseUrl: 'https://auth.example.com', uni });
const shim = createClient({ baseUrl: 'https://auth.example.com', uni: makeUni(dev) });
export const runtimes: string[] = [real.runtime, shim.runtime];

// The client's declared runtime types accept Alipay's `my` as
// @mini-types/alipay declares it, and the test shim.
import { createClient } from '../..';
import { makeMy } from '../shims/my.js';
import type { Device } from '../shims/device';

declare const dev: Device;
const real = createClient({ baseUrl: 'https://auth.example.com', my });
const shim = createClient({ baseUrl: 'https://auth.example.com', my: makeMy(dev) });
export const runtimes: string[] = [real.runtime, shim.runtime];

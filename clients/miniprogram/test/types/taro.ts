// The client's declared runtime types accept `Taro` as @tarojs/taro declares
// it, and the test shim.
import Taro from '@tarojs/taro';
import { createClient } from '../..';
import { makeTaro } from '../shims/taro.js';
import type { Device } from '../shims/device';

declare const dev: Device;
const real = createClient({ baseUrl: 'https://auth.example.com', Taro, appid: 'tt0123456789abcdef' });
const shim = createClient({ baseUrl: 'https://auth.example.com', Taro: makeTaro(dev) });
export const runtimes: string[] = [real.runtime, shim.runtime];

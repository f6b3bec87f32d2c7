import { createClient } from 'wxauth-miniprogram';

/** The wxauth server. `cargo run` in the wxauth repository serves its simulator here. */
export const BASE_URL = 'http://127.0.0.1:8080';

/**
 * Against the simulator: login codes come from its `/sim/login` (the developer
 * tools' wx.login() gives real WeChat codes, which only WeChat can exchange)
 * and the app is its WeChat one. Set to false against a server that has this
 * mini-program's appid and secret: then the client calls wx.login() and reads
 * the appid from wx.getAccountInfoSync().
 */
const SIMULATOR = true;

/** What wx.login() would give, from the simulator, for the user "alice". */
function simulatorCode(appid: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    wx.request({
      url: BASE_URL + '/sim/login',
      method: 'POST',
      data: { user: 'alice', appid },
      success: (res) => {
        const body = res.data as { code?: string };
        if (res.statusCode === 200 && body && body.code) resolve(body.code);
        else reject(new Error('/sim/login answered ' + res.statusCode));
      },
      fail: (err) => reject(new Error(err.errMsg)),
    });
  });
}

/** One client for the whole mini-program. */
export const auth = createClient(
  SIMULATOR
    ? { baseUrl: BASE_URL, appid: 'wxsimulator0000000', getCode: simulatorCode }
    : { baseUrl: BASE_URL }
);

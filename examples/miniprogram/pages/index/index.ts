import { WxauthError } from 'wxauth-miniprogram';
import { auth } from '../../utils/auth';

Page({
  data: { openid: '', appid: '', platform: '', phone: '', error: '' },

  onLoad() {
    this.load();
  },

  async load() {
    try {
      // GET /auth/me with the bearer token; the client logs in first if needed.
      const me = await auth.me();
      this.setData({ openid: me.openid, appid: me.appid, platform: me.platform, error: '' });

      // Your own API, if it verifies wxauth tokens (JWK Set or the Rust guard):
      // const res = await auth.request({ url: 'https://api.example.com/orders', method: 'POST', data: { item: 1 } });
      // if (res.statusCode === 200) ...
    } catch (err) {
      this.setData({ error: describe(err) });
    }
  },

  // <button open-type="getPhoneNumber" bindgetphonenumber="onPhone">
  async onPhone(e: WechatMiniprogram.ButtonGetPhoneNumber) {
    if (!e.detail.code) return; // the user declined
    try {
      const info = await auth.phone(e.detail.code);
      this.setData({ phone: info.phoneNumber }); // also purePhoneNumber, countryCode
    } catch (err) {
      this.setData({ error: describe(err) });
    }
  },

  onLogout() {
    auth.logout(); // forgets the token; the next request logs in again
    this.setData({ openid: '', appid: '', platform: '', phone: '' });
  },
});

/** A line for the user from any error the client gives. */
function describe(err: unknown): string {
  if (!(err instanceof WxauthError)) return String(err);
  switch (err.code) {
    case 'network_error':
      return 'No answer: offline, or the server is not in the request legal domains';
    case 'unknown_app':
      return 'The server does not serve this mini-program (appid ' + err.appid + ')';
    case 'unsupported_platform':
      return 'Not available on this platform';
    case 'rate_limited':
      return 'Too many tries: wait ' + err.retryAfter + ' s';
    case 'user_blocked':
      return 'This account is blocked';
    default:
      return err.code + (err.detail ? ': ' + err.detail : '');
  }
}

import { auth } from './utils/auth';

App({
  onLaunch() {
    // Optional: log in at once. Without it the first request logs in.
    auth.login().catch((err) => console.warn('login failed', err.code, err.detail));
  },
});

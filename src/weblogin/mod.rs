//! WeChat's web logins (README "One person, every surface"): the H5 page
//! of an official account and a website's QR login send the browser to
//! WeChat's authorize page and get it back with a code. What wxauth needs
//! for that, statelessly: which redirect URIs an app allows ([`redirect`])
//! and the signed `state` that binds a code's return to this server, the
//! app and the redirect URI ([`state`]). Uses `keyring` only.

pub mod redirect;
pub mod state;

pub use redirect::{MAX_REDIRECT_URI, RedirectRule, check_redirect};
pub use state::{STATE_LIFETIME, StateError, check_state, issue_state};

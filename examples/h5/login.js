// The whole H5 login, with no framework:
//   1. "Log in" sends the browser to wxauth's /auth/authorize, which sends
//      it on to WeChat's authorize page (the simulator's, under cargo run);
//   2. WeChat sends it back here with ?code=...&state=...;
//   3. this page posts {code, appid, state, redirect_uri} to /auth/login,
//      keeps the token, and calls /auth/me with it.
// Settings come from index.html's <meta name="wxauth-server"> and
// <meta name="wxauth-appid">, never from the page's address: a link
// naming another server would make the page send that server its token
// and the next login's code and state, which it could redeem here.
"use strict";

const params = new URLSearchParams(location.search);
const setting = (name) => document.querySelector(`meta[name="${name}"]`).content;
const WXAUTH = setting("wxauth-server").replace(/\/+$/, "");
const APPID = setting("wxauth-appid");
const TOKEN_KEY = "wxauth.token";
const PENDING_KEY = "wxauth.pending";

const $ = (id) => document.getElementById(id);

function show(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

// This page's address (and nothing else).
function pageUrl() {
  return new URL(location.pathname, location.origin);
}

// This page's address with a one-time nonce: the
// redirect_uri. The state wxauth signs is bound to it, and the page accepts
// a code only if it comes back with the nonce it saved when it started, so
// a link carrying someone else's code and state (login CSRF) is refused.
function redirectUri(nonce) {
  const url = pageUrl();
  url.searchParams.set("n", nonce);
  return url.toString();
}

function startLogin() {
  const nonce = Array.from(crypto.getRandomValues(new Uint8Array(16)),
    (b) => b.toString(16).padStart(2, "0")).join("");
  const redirect = redirectUri(nonce);
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ nonce, redirect }));
  const authorize = new URL(WXAUTH + "/auth/authorize");
  authorize.searchParams.set("appid", APPID);
  authorize.searchParams.set("redirect_uri", redirect);
  location.assign(authorize.toString());
}

async function finishLogin(code, state) {
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || "null");
  sessionStorage.removeItem(PENDING_KEY);
  // The address bar keeps no code.
  history.replaceState(null, "", pageUrl().toString());
  if (!pending || pending.nonce !== params.get("n")) {
    show("This login was not started on this page: start again.", true);
    return;
  }
  const answer = await fetch(WXAUTH + "/auth/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ code, appid: APPID, state, redirect_uri: pending.redirect }),
  });
  const body = await answer.json();
  if (!answer.ok) {
    show(`Login refused: ${body.code} (${body.detail})`, true);
    return;
  }
  localStorage.setItem(TOKEN_KEY, body.access_token);
}

async function showMe() {
  const token = localStorage.getItem(TOKEN_KEY);
  $("login").hidden = Boolean(token);
  $("logout").hidden = !token;
  $("me").hidden = true;
  if (!token) {
    if (!$("status").className) show("Not logged in.");
    return;
  }
  const answer = await fetch(WXAUTH + "/auth/me", {
    headers: { Authorization: "Bearer " + token },
  });
  const body = await answer.json();
  if (answer.status === 401) {
    // Expired, revoked or banned: log in again.
    localStorage.removeItem(TOKEN_KEY);
    show("The session ended: log in again.", true);
    $("login").hidden = false;
    $("logout").hidden = true;
    return;
  }
  show(`Logged in (${body.platform}).`);
  $("me").textContent = JSON.stringify(body, null, 2);
  $("me").hidden = false;
}

async function main() {
  $("server").textContent = WXAUTH;
  $("appid").textContent = APPID;
  $("login").addEventListener("click", startLogin);
  $("logout").addEventListener("click", () => {
    localStorage.removeItem(TOKEN_KEY);
    show("Logged out.");
    showMe();
  });
  const code = params.get("code");
  if (code) {
    await finishLogin(code, params.get("state"));
  } else if (params.has("state")) {
    // WeChat sends the state alone when the user declines.
    history.replaceState(null, "", pageUrl().toString());
    show("The login was cancelled.", true);
  }
  await showMe();
}

main().catch((error) => show(`Could not reach wxauth: ${error}`, true));

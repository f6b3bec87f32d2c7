//! The running server: [`Application::build`] binds the listener (port 0
//! picks a free one, which tests use), loads the keys, wires the routes, and
//! reports its address; [`Application::run_until_stopped`] serves until
//! SIGINT/SIGTERM, giving in-flight requests `WXAUTH_SHUTDOWN_TIMEOUT`.

use crate::clock::SharedClock;
use crate::config::{SIMULATOR_SECRET, Settings, WeChatMode};
use crate::error::ApiError;
use crate::guard::Guard;
use crate::keyring::{self, KeyAlg, KeyReloader, Keyring, KeyringError, SharedKeyring};
use crate::metrics::Metrics;
use crate::routes::{self, AppState};
use crate::sim::Simulator;
use crate::token::{CACHE_CAPACITY, TokenIssuer, TokenPolicy, TokenVerifier};
use crate::wechat::WeChatClient;
use actix_web::dev::{Server, Service as _};
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::middleware::{Condition, Logger};
use actix_web::{App, HttpServer, ResponseError, web};
use futures_util::future::{Either, ready};
use secrecy::SecretString;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

/// The access log format: peer, method, path without its query (the query of
/// a WeChat-style URL holds codes and secrets), status, bytes, milliseconds.
const ACCESS_LOG_FORMAT: &str = r#"%a "%{METHOD}xi %U" %s %b %Dms"#;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The listen address could not be bound.
    #[error("WXAUTH_BIND: cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// No usable keys.
    #[error("{0}")]
    Keys(#[from] KeyringError),
    /// The development key could not be written.
    #[error("cannot create a development key in {dir}: {source}")]
    DevKey {
        /// The key folder.
        dir: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The HTTP client could not be built (TLS roots missing).
    #[error("cannot build the HTTP client for WeChat: {0}")]
    HttpClient(#[from] reqwest::Error),
    /// The metrics registry could not be built.
    #[error("cannot set up metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// Any other I/O failure while starting.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A bound, ready-to-run wxauth server.
pub struct Application {
    addr: SocketAddr,
    signing_kid: String,
    reloader: Arc<KeyReloader>,
    reload_task: tokio::task::JoinHandle<()>,
    server: Server,
}

impl Application {
    /// Binds `settings.bind`, loads the keys and wires the app. In simulator
    /// mode a key folder without keys gets a development key.
    pub async fn build(settings: Settings, clock: SharedClock) -> Result<Self, StartupError> {
        crate::token::install_crypto_provider();
        let listener = TcpListener::bind(settings.bind).map_err(|source| StartupError::Bind {
            addr: settings.bind,
            source,
        })?;
        let addr = listener.local_addr()?;

        let keyring = load_keys(&settings)?;
        let signing_kid = keyring.signing().kid().to_owned();
        let keyring = SharedKeyring::new(keyring);
        let metrics = Metrics::new()?;
        let reloader = Arc::new(
            KeyReloader::new(
                keyring.clone(),
                settings.keys_dir.clone(),
                settings.signing_kid.clone(),
            )
            .with_metrics(metrics.clone()),
        );

        let (base, appid, secret) = match &settings.wechat {
            WeChatMode::Production { appid, secret } => (
                settings.api_base.clone().unwrap_or_default(),
                appid.clone(),
                secret.clone(),
            ),
            WeChatMode::Simulator => (
                settings
                    .api_base
                    .clone()
                    .unwrap_or_else(|| format!("http://{addr}/sim")),
                settings.appid().to_owned(),
                SecretString::from(SIMULATOR_SECRET),
            ),
        };
        let wechat = WeChatClient::new(
            base,
            appid,
            secret,
            settings.upstream_timeout,
            settings.max_upstream,
            clock.clone(),
            metrics.clone(),
        )?;

        let policy = TokenPolicy {
            issuer: settings.issuer.clone(),
            audience: settings.appid().to_owned(),
            leeway: settings.leeway,
        };
        let verifier =
            TokenVerifier::new(keyring.clone(), policy, clock.clone()).with_cache(CACHE_CAPACITY);
        let guard = web::Data::new(
            Guard::with_reloader(verifier, reloader.clone()).with_metrics(metrics.clone()),
        );
        let state = web::Data::new(AppState {
            keyring,
            issuer: TokenIssuer::new(
                &settings.issuer,
                settings.appid(),
                settings.token_ttl,
                clock.clone(),
            ),
            wechat,
            clock: clock.clone(),
            session_max_age: settings.session_max_age,
            appid: settings.appid().to_owned(),
            metrics,
        });
        let simulator = settings
            .is_simulator()
            .then(|| web::Data::new(Simulator::new(clock.clone())));

        let access_log =
            log::log_enabled!(target: "actix_web::middleware::logger", log::Level::Info);
        let server = HttpServer::new(move || {
            let simulator = simulator.clone();
            App::new()
                .wrap_fn(|req, srv| {
                    // Refuse a declared body over the route's limit before
                    // anything reads it, whether or not the route reads bodies.
                    let limit = routes::body_limit(req.path());
                    let declared = req
                        .headers()
                        .get(CONTENT_LENGTH)
                        .and_then(|value| value.to_str().ok())
                        .and_then(|value| value.parse::<usize>().ok());
                    if declared.is_some_and(|length| length > limit) {
                        if req.path() == "/auth/login"
                            && let Some(state) = req.app_data::<web::Data<AppState>>()
                        {
                            state.metrics.login("payload_too_large");
                        }
                        let response = ApiError::PayloadTooLarge { limit }.error_response();
                        Either::Left(ready(Ok(req.into_response(response).map_into_right_body())))
                    } else {
                        let call = srv.call(req);
                        Either::Right(async move { call.await.map(|res| res.map_into_left_body()) })
                    }
                })
                // The access log formats every request's fields even when its
                // level is filtered out: mount it only when it will log.
                .wrap(Condition::new(
                    access_log,
                    Logger::new(ACCESS_LOG_FORMAT)
                        .custom_request_replace("METHOD", |req| req.method().to_string()),
                ))
                .app_data(state.clone())
                .app_data(guard.clone())
                .configure(routes::configure)
                .configure(|cfg| {
                    if let Some(simulator) = simulator {
                        cfg.app_data(simulator);
                        crate::sim::configure(cfg);
                    }
                })
                .default_service(web::to(routes::not_found))
        })
        .shutdown_timeout(settings.shutdown_timeout)
        .listen(listener)?
        .run();

        let reload_task = reloader.spawn(settings.keys_reload);
        Ok(Self {
            addr,
            signing_kid,
            reloader,
            reload_task,
            server,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The kid that signed at start.
    pub fn signing_kid(&self) -> &str {
        &self.signing_kid
    }

    /// A handle to stop the server from elsewhere.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// What rescans the key folder (periodically, on SIGHUP, on unknown kids).
    pub fn key_reloader(&self) -> Arc<KeyReloader> {
        Arc::clone(&self.reloader)
    }

    /// Serves until stopped; then stops rescanning keys.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.reload_task.abort();
        result
    }
}

/// Loads the key folder; in simulator mode, makes a development key first if
/// the folder has none.
fn load_keys(settings: &Settings) -> Result<Keyring, StartupError> {
    let dir = &settings.keys_dir;
    let loaded = match Keyring::load(dir, settings.signing_kid.as_deref()) {
        Err(KeyringError::NoKeys { .. }) if settings.is_simulator() => {
            let kid = keyring::default_kid(chrono::Utc::now());
            let path = keyring::write_new_key(dir, &kid, KeyAlg::Eddsa).map_err(|source| {
                StartupError::DevKey {
                    dir: dir.display().to_string(),
                    source,
                }
            })?;
            log::warn!(
                "simulator mode: generated development key {} (never use it in production)",
                path.display()
            );
            Keyring::load(dir, settings.signing_kid.as_deref())?
        }
        other => other?,
    };
    let (keyring, broken) = loaded;
    for file in broken {
        log::error!("skipping key file {}: {}", file.path.display(), file.error);
    }
    Ok(keyring)
}

//! The running server: [`Application::build`] binds the listener (port 0
//! picks a free one, which tests use), loads the keys, wires the routes, and
//! reports its address; [`Application::run_until_stopped`] serves until
//! SIGINT/SIGTERM, giving in-flight requests `WXAUTH_SHUTDOWN_TIMEOUT`.

use crate::apps::Apps;
use crate::clock::SharedClock;
use crate::config::{Mode, SIMULATOR_APPID, SIMULATOR_APPS, SIMULATOR_SECRET, Settings};
use crate::edge::{Connections, Edge};
use crate::guard::Guard;
use crate::keyring::{
    self, KeyAlg, KeyReloader, Keyring, KeyringError, SharedKeyring, SigningRule,
};
use crate::metrics::Metrics;
use crate::platform::{AppConfig, Platform, Transport};
use crate::revocation::SharedRevocations;
use crate::routes::{self, AppState};
use crate::server::ServerSettings;
use crate::sessions::Sessions;
use crate::sim::Simulator;
use crate::token::{CACHE_CAPACITY, TokenIssuer, TokenPolicy, TokenVerifier};
use actix_web::dev::{Server, Service as _};
use actix_web::{App, web};
use futures_util::future::{Either, ready};
use secrecy::SecretString;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

/// How often the rate limiter forgets clients whose allowance is full.
const FORGET_IDLE_CLIENTS: Duration = Duration::from_secs(10);

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
    /// The revocation file cannot be read or does not parse.
    #[error("WXAUTH_REVOCATIONS_FILE: {0}")]
    Revocations(String),
    /// A setting that does not fit the others.
    #[error("{0}")]
    Config(crate::config::ConfigError),
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
    forget_task: tokio::task::JoinHandle<()>,
    server: Server,
}

impl Application {
    /// Binds `settings.bind`, loads the keys and wires the app. In simulator
    /// mode a key folder without keys gets a development key.
    pub async fn build(settings: Settings, clock: SharedClock) -> Result<Self, StartupError> {
        crate::token::install_crypto_provider();
        let bind = settings.listen.bind;
        let listener =
            TcpListener::bind(bind).map_err(|source| StartupError::Bind { addr: bind, source })?;
        let addr = listener.local_addr()?;

        let rule = settings.keys.signing_rule();
        let keyring = load_keys(&settings, &rule, clock.now())?;
        let signing_kid = keyring.signing().kid().to_owned();
        let keyring = SharedKeyring::new(keyring);
        let metrics = Metrics::new()?;
        let revocations = match &settings.revocations.file {
            Some(file) => SharedRevocations::load(file).map_err(StartupError::Revocations)?,
            None => SharedRevocations::none(),
        };
        let reloader = Arc::new(
            KeyReloader::new(
                keyring.clone(),
                settings.keys.folder.dir.clone(),
                rule,
                clock.clone(),
            )
            .with_revocations(revocations.clone())
            .with_metrics(metrics.clone()),
        );

        let mode = settings.mode().map_err(StartupError::Config)?;
        let simulator = matches!(mode, Mode::Simulator { .. })
            .then(|| web::Data::new(Simulator::new(clock.clone())));
        let (configs, default) = match mode {
            Mode::Apps(apps) => (apps, None),
            Mode::Simulator { api_base } => (simulator_apps(api_base, addr), Some(SIMULATOR_APPID)),
        };
        let transport = Transport::new(
            settings.upstream_timeout(),
            settings.max_upstream,
            metrics.clone(),
        )?;
        let apps = Arc::new(Apps::new(configs, default, &transport, &clock));

        let policy = TokenPolicy::for_apps(&settings.issuer, apps.appids(), settings.leeway);
        let verifier = TokenVerifier::new(keyring.clone(), policy, clock.clone())
            .with_cache(CACHE_CAPACITY)
            .with_revocations(revocations.clone());
        let guard = web::Data::new(
            Guard::with_reloader(verifier, reloader.clone()).with_metrics(metrics.clone()),
        );
        let issuer = TokenIssuer::new(&settings.issuer, settings.token_ttl, clock.clone());
        let state = web::Data::new(AppState {
            keyring: keyring.clone(),
            sessions: Sessions::new(
                keyring,
                issuer,
                Arc::clone(&apps),
                clock.clone(),
                settings.session_max_age,
            )
            .with_revocations(revocations),
            apps,
            metrics,
        });
        let mut limits = routes::BODY_LIMITS.to_vec();
        if simulator.is_some() {
            limits.extend_from_slice(crate::sim::BODY_LIMITS);
        }
        let edge = web::Data::new(
            Edge::new(
                settings.edge.client_timeout(),
                settings.edge.client_rate,
                settings.edge.trusted_proxies.clone(),
                limits,
            )
            .with_clock(clock.clone())
            .with_signature_rate(settings.edge.signature_rate),
        );
        let connections = Arc::new(Connections::new(&edge, settings.edge.max_connections));

        let workers = ServerSettings::workers();
        let client_timeout = settings.edge.client_timeout();
        let limiter_edge = edge.clone();
        let access_log = crate::logging::access_log_enabled();
        let app = move || {
            let simulator = simulator.clone();
            let edge = edge.clone();
            App::new()
                // The edge screens every request before routing; a refusal
                // is an ApiError response like any other.
                .wrap_fn(move |mut req, srv| match edge.screen(&mut req) {
                    Ok(()) => Either::Left(srv.call(req)),
                    Err(error) => Either::Right(ready(Ok(req.error_response(error)))),
                })
                // Outermost: every login's answer is counted, the edge's
                // refusals included.
                .wrap_fn(|req, srv| {
                    let login = routes::is_login(&req)
                        .then(|| req.app_data::<web::Data<AppState>>().cloned())
                        .flatten();
                    let call = srv.call(req);
                    async move {
                        let response = call.await;
                        if let Some(state) = login {
                            routes::count_login(&state, &response);
                        }
                        response
                    }
                })
                // Outermost: the access log sees every answer. Mounted only
                // when its level is on, so it costs nothing otherwise.
                .wrap_fn(move |req, srv| {
                    let started = access_log.then(std::time::Instant::now);
                    let call = srv.call(req);
                    async move {
                        let response = call.await;
                        if let (Some(started), Ok(response)) = (started, &response) {
                            crate::logging::access(response, started.elapsed());
                        }
                        response
                    }
                })
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
        };
        let server = crate::server::serve(
            listener,
            app,
            connections,
            &ServerSettings {
                workers,
                max_connections: settings.edge.max_connections,
                shutdown_timeout: Duration::from_secs(settings.shutdown_timeout.unsigned_abs()),
                client_timeout,
            },
        )?;

        let reload_task = reloader.spawn(settings.keys_reload());
        let forget_task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(FORGET_IDLE_CLIENTS);
            loop {
                ticker.tick().await;
                limiter_edge.limiter().forget_idle();
            }
        });
        Ok(Self {
            addr,
            signing_kid,
            reloader,
            reload_task,
            forget_task,
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
        self.forget_task.abort();
        result
    }
}

/// The simulator's three apps, each reaching the simulator's own API for its
/// platform through the same client a real app uses (SPEC section 6).
fn simulator_apps(wechat_base: Option<String>, addr: SocketAddr) -> Vec<AppConfig> {
    SIMULATOR_APPS
        .iter()
        .map(|(platform, appid)| AppConfig {
            platform: *platform,
            appid: (*appid).to_owned(),
            secret: SecretString::from(SIMULATOR_SECRET),
            api_base: match platform {
                Platform::Wechat => wechat_base
                    .clone()
                    .unwrap_or_else(|| format!("http://{addr}/sim")),
                other => format!("http://{addr}/sim/{other}"),
            },
        })
        .collect()
}

/// Loads the key folder; in simulator mode, makes a development key first if
/// the folder has none.
fn load_keys(settings: &Settings, rule: &SigningRule, now: i64) -> Result<Keyring, StartupError> {
    let dir = &settings.keys.folder.dir;
    let loaded = match Keyring::load_with(dir, rule, now) {
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
            Keyring::load_with(dir, rule, now)?
        }
        other => other?,
    };
    let (keyring, broken) = loaded;
    for file in broken {
        log::error!("skipping key file {}: {}", file.path.display(), file.error);
    }
    Ok(keyring)
}

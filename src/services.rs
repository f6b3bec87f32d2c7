//! What the server holds, built once from the validated [`Config`]: the
//! keyring, the revocation list, the apps, sessions, the guard, the edge,
//! the metrics and (in simulator mode) the simulator; and [`Services::app`],
//! the actix `App` that mounts the routes onto them.

use crate::apps::Apps;
use crate::clock::SharedClock;
use crate::config::{Config, Mode, SIMULATOR_APPID, SIMULATOR_APPS, SIMULATOR_SECRET};
use crate::edge::{Connections, Edge};
use crate::guard::Guard;
use crate::keyring::{
    self, KeyAlg, KeyReloader, Keyring, KeyringError, SharedKeyring, SigningRule,
};
use crate::metrics::Metrics;
use crate::platform::{AppConfig, Platform, Transport};
use crate::reload::Reloader;
use crate::revocation::{RevocationError, RevocationWatch, SharedRevocations};
use crate::routes::cors::Cors;
use crate::routes::{self, AppState};
use crate::sessions::Sessions;
use crate::sim::Simulator;
use crate::token::{CACHE_CAPACITY, TokenIssuer, TokenPolicy, TokenVerifier};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, web};
use secrecy::SecretString;
use std::net::SocketAddr;
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
    Revocations(#[from] RevocationError),
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
    #[error("cannot build the HTTP client for the platforms: {0}")]
    HttpClient(#[from] reqwest::Error),
    /// The metrics registry could not be built.
    #[error("cannot set up metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// Any other I/O failure while starting.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Everything the server holds; cheap to clone (each part is shared).
#[derive(Clone)]
pub struct Services {
    /// What the handlers share.
    pub state: web::Data<AppState>,
    /// The token guard of the Bearer routes.
    pub guard: web::Data<Guard>,
    /// What screens every request before routing.
    pub edge: web::Data<Edge>,
    /// What every accepted connection passes first (the connection table
    /// and the budget of held bytes).
    pub connections: Arc<Connections>,
    /// Which web pages may call the API from a browser.
    pub cors: web::Data<Cors>,
    /// The simulator, in simulator mode only.
    pub simulator: Option<web::Data<Simulator>>,
    /// What rescans the key folder when a token names an unknown kid.
    pub reloader: Arc<KeyReloader>,
    /// What rereads every watched file (keys, revocations) on the timer and
    /// SIGHUP.
    pub watched: Arc<Reloader>,
}

impl Services {
    /// Loads the keys and the revocation list, and builds every part from
    /// `config`. `addr` is the bound address (the simulator's apps call it).
    pub fn build(
        config: &Config,
        addr: SocketAddr,
        clock: &SharedClock,
    ) -> Result<Self, StartupError> {
        let settings = &config.settings;
        let rule = settings.keys.signing_rule();
        let keyring = SharedKeyring::new(load_keys(config, &rule, clock.now())?);
        let metrics = Metrics::new()?;
        let revocations = match &settings.revocations.file {
            Some(file) => SharedRevocations::load(file)?,
            None => SharedRevocations::none(),
        };
        let reloader = Arc::new(
            KeyReloader::new(
                keyring.clone(),
                settings.keys.folder.dir.clone(),
                rule,
                clock.clone(),
            )
            .with_metrics(metrics.clone()),
        );
        let watched = Arc::new(Reloader::new().watch(reloader.clone()).watch(Arc::new(
            RevocationWatch::new(revocations.clone()).with_metrics(metrics.clone()),
        )));
        let apps = Arc::new(served_apps(config, addr, clock, &metrics)?);

        let policy = TokenPolicy::for_apps(&settings.issuer, apps.appids(), settings.leeway);
        let verifier = TokenVerifier::new(keyring.clone(), policy, clock.clone())
            .with_cache(CACHE_CAPACITY)
            .with_revocations(revocations.clone());
        let guard = Guard::with_reloader(verifier, reloader.clone())
            .with_watched(watched.clone())
            .with_metrics(metrics.clone());
        let issuer = TokenIssuer::new(&settings.issuer, settings.token_ttl, clock.clone());
        let sessions = Sessions::new(
            keyring.clone(),
            issuer,
            Arc::clone(&apps),
            clock.clone(),
            settings.session_max_age,
        )
        .with_revocations(revocations)
        .with_authorize_base(match config.is_simulator() {
            // The simulated authorize page, on whatever host the browser
            // reached this server at (a relative Location).
            true => "/sim",
            false => crate::sessions::WECHAT_AUTHORIZE_BASE,
        });
        let cors = Cors::for_apps(&apps);

        let simulator = config
            .is_simulator()
            .then(|| web::Data::new(Simulator::new(clock.clone())));
        let mut limits = routes::BODY_LIMITS.to_vec();
        if simulator.is_some() {
            limits.extend_from_slice(crate::sim::BODY_LIMITS);
        }
        let edge = Edge::new(
            settings.edge.client_timeout(),
            settings.edge.client_rate,
            settings.edge.trusted_proxies.clone(),
            limits,
        )
        .with_clock(clock.clone())
        .with_signature_rate(settings.edge.signature_rate);
        let connections = Arc::new(Connections::new(&edge, settings.edge.max_connections));
        Ok(Self {
            state: web::Data::new(AppState {
                keyring,
                sessions,
                apps,
                metrics,
                public_url: settings.public_url.clone(),
            }),
            cors: web::Data::new(cors),
            guard: web::Data::new(guard),
            edge: web::Data::new(edge),
            connections,
            simulator,
            reloader,
            watched,
        })
    }

    /// The app one worker serves. Middlewares run outermost first: the
    /// access log sees every answer; CORS answers a web page's preflight
    /// (neither a login nor rate limited); the login counter sees every
    /// login's answer (the edge's refusals included); then the edge screens
    /// the request.
    pub fn app(
        self,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    > {
        let simulator = self.simulator;
        App::new()
            .app_data(self.state)
            .app_data(self.guard)
            .app_data(self.edge)
            .app_data(self.cors)
            .wrap(from_fn(crate::edge::screen))
            .wrap(from_fn(routes::count_logins))
            .wrap(from_fn(routes::cors::cors))
            .wrap(from_fn(crate::logging::access_log))
            .configure(routes::configure)
            .configure(|cfg| {
                if let Some(simulator) = simulator {
                    cfg.app_data(simulator);
                    crate::sim::configure(cfg);
                }
            })
            .default_service(web::to(routes::not_found))
    }

    /// Starts the background work: rescanning keys and revocations every
    /// `reload`, and forgetting idle clients of the rate limiter.
    pub fn spawn(&self, reload: Duration) -> Vec<tokio::task::JoinHandle<()>> {
        let edge = self.edge.clone();
        vec![
            self.watched.spawn(reload),
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(FORGET_IDLE_CLIENTS);
                loop {
                    ticker.tick().await;
                    edge.limiter().forget_idle();
                }
            }),
        ]
    }
}

/// The configured apps, or the simulator's; each with its client.
fn served_apps(
    config: &Config,
    addr: SocketAddr,
    clock: &SharedClock,
    metrics: &Metrics,
) -> Result<Apps, StartupError> {
    let settings = &config.settings;
    let (configs, default) = match &config.mode {
        Mode::Apps(apps) => (apps.clone(), None),
        Mode::Simulator { api_base } => (
            simulator_apps(api_base.clone(), addr),
            Some(SIMULATOR_APPID),
        ),
    };
    let transport = Transport::new(
        settings.upstream_timeout(),
        settings.max_upstream,
        metrics.clone(),
    )?;
    Ok(Apps::new(configs, default, &transport, clock))
}

/// The simulator's apps (one per platform and WeChat login surface), each
/// reaching the simulator's own API for its platform through the same
/// client a real app uses (docs/API.md, "Simulator").
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
                // WeChat's web and app logins: WeChat's API, simulated.
                web if web.is_web_surface() => format!("http://{addr}/sim"),
                other => format!("http://{addr}/sim/{other}"),
            },
            redirect_uris: match platform.needs_state() {
                true => crate::sim::redirect_rules(),
                false => Vec::new(),
            },
            alipay: crate::sim::alipay_app_keys(*platform),
        })
        .collect()
}

/// Loads the key folder; in simulator mode, makes a development key first if
/// the folder has none.
fn load_keys(config: &Config, rule: &SigningRule, now: i64) -> Result<Keyring, StartupError> {
    let dir = &config.settings.keys.folder.dir;
    let loaded = match Keyring::load_with(dir, rule, now) {
        Err(KeyringError::NoKeys { .. }) if config.is_simulator() => {
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

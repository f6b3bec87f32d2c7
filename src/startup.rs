//! The running server: [`Application::build`] binds the listener (port 0
//! picks a free one, which tests use), builds the [`Services`] and serves
//! them; [`Application::run_until_stopped`] serves until SIGINT/SIGTERM,
//! giving in-flight requests `WXAUTH_SHUTDOWN_TIMEOUT`.

use crate::clock::SharedClock;
use crate::config::Config;
use crate::keyring::KeyReloader;
use crate::reload::Reloader;
use crate::server::ServerSettings;
use crate::services::Services;
use actix_web::dev::Server;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

pub use crate::services::StartupError;

/// A bound, ready-to-run wxauth server.
pub struct Application {
    addr: SocketAddr,
    signing_kid: String,
    reloader: Arc<KeyReloader>,
    watched: Arc<Reloader>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    server: Server,
}

impl Application {
    /// Binds `config`'s address, builds the services and the server, and
    /// starts the background work. In simulator mode a key folder without
    /// keys gets a development key.
    pub async fn build(config: Config, clock: SharedClock) -> Result<Self, StartupError> {
        crate::token::install_crypto_provider();
        let settings = &config.settings;
        let bind = settings.listen.bind;
        let listener =
            TcpListener::bind(bind).map_err(|source| StartupError::Bind { addr: bind, source })?;
        let addr = listener.local_addr()?;

        let services = Services::build(&config, addr, &clock)?;
        let signing_kid = services.state.keyring.current().signing().kid().to_owned();
        let client_timeout = settings.edge.client_timeout();
        let app = {
            let services = services.clone();
            move || services.clone().app()
        };
        let server = crate::server::serve(
            listener,
            app,
            Arc::clone(&services.connections),
            &ServerSettings {
                workers: ServerSettings::workers(),
                max_connections: settings.edge.max_connections,
                shutdown_timeout: settings.shutdown_timeout(),
                client_timeout,
            },
        )?;
        let tasks = services.spawn(settings.keys_reload());
        Ok(Self {
            addr,
            signing_kid,
            watched: Arc::clone(&services.watched),
            reloader: services.reloader,
            tasks,
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

    /// What rereads every watched file (keys, revocations) on the timer and
    /// SIGHUP.
    pub fn reloader(&self) -> Arc<Reloader> {
        Arc::clone(&self.watched)
    }

    /// Serves until stopped; then stops the background work.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        for task in self.tasks {
            task.abort();
        }
        result
    }
}

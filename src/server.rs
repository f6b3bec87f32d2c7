//! The HTTP server: actix-web's own parts (actix-server, actix-http's
//! `HttpService`), assembled by hand as `HttpServer` would, so that every
//! accepted connection passes through the edge's handshake
//! ([`crate::edge::Connections::accept`]) before actix-http reads a byte.
//!
//! What is served is the caller's business (an `App` factory); what protects
//! the server from its clients is the edge's. This module only joins them.

use crate::edge::{Connections, EdgeIo};
use actix_http::{HttpService, Request, Response, body::MessageBody};
use actix_service::{
    IntoServiceFactory, ServiceFactory, ServiceFactoryExt as _, fn_service, map_config,
};
use actix_web::dev::{AppConfig, Server};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;

/// How long an idle keep-alive connection stays open.
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// How long a connection being closed may linger (HttpServer's default).
const CLIENT_DISCONNECT: Duration = Duration::from_secs(1);

/// How the server runs: the parts of `HttpServer`'s settings wxauth sets.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Worker threads (one per core by default).
    pub workers: usize,
    /// Open client connections per process (`WXAUTH_MAX_CONNECTIONS`),
    /// counted by the edge ([`crate::edge::Connections`]).
    pub max_connections: usize,
    /// What in-flight requests get after SIGTERM.
    pub shutdown_timeout: Duration,
    /// `WXAUTH_CLIENT_TIMEOUT`: actix's own bound on the first request head.
    pub client_timeout: Duration,
}

impl ServerSettings {
    /// One worker per available core.
    pub fn workers() -> usize {
        std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
    }
}

/// Serves `app` on `listener`, each connection first accepted by
/// `connections`. The bounds are `HttpServer::new`'s.
pub fn serve<F, I, S, B>(
    listener: TcpListener,
    app: F,
    connections: Arc<Connections>,
    settings: &ServerSettings,
) -> std::io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as actix_service::Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let addr: SocketAddr = listener.local_addr()?;
    crate::edge::set_backlog(&listener)?;
    let workers = settings.workers.max(1);
    // The edge's table counts connections for the whole process and, when
    // full, evicts one waiting on its client for the newcomer; actix's own
    // per-worker cap is only a backstop, so it must not be the one reached
    // (then newcomers would queue unseen behind a single client's sockets).
    let per_worker = settings.max_connections.max(1);
    let client_timeout = settings.client_timeout;
    let builder = actix_server::Server::build();
    let shutdown = builder.graceful_shutdown_signal();
    Ok(builder
        .workers(workers)
        .max_concurrent_connections(per_worker)
        .shutdown_timeout(settings.shutdown_timeout.as_secs())
        .listen("wxauth", listener, move || {
            let shutdown = shutdown.clone();
            let connections = Arc::clone(&connections);
            let app = app()
                .into_factory()
                .map_err(|error| error.into().error_response());
            fn_service(move |io: TcpStream| {
                let connections = Arc::clone(&connections);
                async move { connections.accept(io).await }
            })
            .and_then(
                HttpService::build()
                    // As HttpServer does: idle keep-alive connections close
                    // at once on SIGTERM, and a refused body gets a second
                    // to drain before the close (no RST while the client
                    // still sends).
                    .graceful_shutdown_signal(move || {
                        let shutdown = shutdown.clone();
                        async move { shutdown.notified().await }
                    })
                    .client_disconnect_timeout(CLIENT_DISCONNECT)
                    .client_request_timeout(client_timeout)
                    .keep_alive(KEEP_ALIVE)
                    .local_addr(addr)
                    .on_connect_ext(|io: &EdgeIo, data| {
                        data.insert(io.shared());
                    })
                    .h1(map_config(app, |_| AppConfig::default())),
            )
        })?
        .run())
}

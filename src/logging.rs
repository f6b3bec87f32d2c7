//! The process's logger: `RUST_LOG` filters (env_logger's syntax), and
//! `WXAUTH_LOG_FORMAT` picks env_logger-style text lines or one JSON object a
//! line (`ts`, `level`, `target`, `msg`, and the access log's request fields)
//! for log platforms.
//!
//! Lines a client can cause by sending garbage (actix-http's parse errors,
//! logged at ERROR) are demoted to DEBUG: they are not the operator's
//! problem, and at ERROR any client could fill the log.

use crate::config::{LogFormat, LogSettings};
use actix_web::HttpMessage as _;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use log::{Level, Log, Metadata, Record};
use std::io::Write as _;

/// Targets whose ERROR lines are caused by clients, not by the server.
const CLIENT_CAUSED: &[&str] = &["actix_http::h1", "actix_http::h2"];

/// Installs the logger for `settings`; fails on a filter it cannot parse
/// (env_logger would skip a bad directive with a warning, and serve with a
/// half-understood filter).
pub fn init(settings: &LogSettings) -> Result<(), String> {
    env_filter::Builder::new()
        .try_parse(&settings.filter)
        .map_err(|e| {
            format!(
                "RUST_LOG: {:?} is not a log filter ({e}); e.g. info or wxauth=debug,actix_web=info",
                settings.filter
            )
        })?;
    let format = settings.log_format;
    let logger = env_logger::Builder::new()
        .parse_filters(&settings.filter)
        .write_style(env_logger::WriteStyle::Never)
        .format(move |buf, record| {
            let ts = buf.timestamp_millis().to_string();
            let line = match format {
                LogFormat::Text => text_line(&ts, record),
                LogFormat::Json => json_line(&ts, record),
            };
            buf.write_all(line.as_bytes())
        })
        .build();
    log::set_max_level(logger.filter());
    log::set_boxed_logger(Box::new(Demoting(logger))).map_err(|e| e.to_string())
}

/// env_logger's logger, with a client's garbage demoted to DEBUG (see
/// [`CLIENT_CAUSED`]) before it filters and formats.
struct Demoting(env_logger::Logger);

/// The level a record is logged at: its own, but DEBUG for a client's
/// garbage (see [`CLIENT_CAUSED`]).
fn effective_level(target: &str, level: Level) -> Level {
    if level <= Level::Warn
        && CLIENT_CAUSED
            .iter()
            .any(|prefix| target.starts_with(prefix))
    {
        Level::Debug
    } else {
        level
    }
}

impl Log for Demoting {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let level = effective_level(metadata.target(), metadata.level());
        self.0.enabled(
            &Metadata::builder()
                .level(level)
                .target(metadata.target())
                .build(),
        )
    }

    fn log(&self, record: &Record<'_>) {
        let level = effective_level(record.target(), record.level());
        if level == record.level() {
            self.0.log(record);
        } else {
            self.0.log(
                &Record::builder()
                    .args(*record.args())
                    .level(level)
                    .target(record.target())
                    .module_path(record.module_path())
                    .file(record.file())
                    .line(record.line())
                    .key_values(record.key_values())
                    .build(),
            );
        }
    }

    fn flush(&self) {
        self.0.flush();
    }
}

/// env_logger's default shape without colours: `[ts LEVEL target] msg`.
/// The record's key-values are not repeated: the message says them (the
/// access log's line is written for people), the JSON lines carry them.
fn text_line(ts: &str, record: &Record<'_>) -> String {
    format!(
        "[{ts} {:<5} {}] {}\n",
        record.level(),
        record.target(),
        record.args()
    )
}

/// One JSON object: `ts`, `level`, `target`, `msg`, then the record's
/// key-values (the access log's `method`, `path`, `status`, ...).
fn json_line(ts: &str, record: &Record<'_>) -> String {
    let mut object = serde_json::Map::new();
    object.insert("ts".into(), ts.into());
    object.insert("level".into(), record.level().as_str().into());
    object.insert("target".into(), record.target().into());
    object.insert("msg".into(), record.args().to_string().into());
    let mut fields = Fields::default();
    let _ = record.key_values().visit(&mut fields);
    for (key, value) in fields.0 {
        object.entry(key).or_insert(value);
    }
    let mut line = serde_json::Value::Object(object).to_string();
    line.push('\n');
    line
}

/// A record's key-values, as JSON values.
#[derive(Default)]
struct Fields(Vec<(String, serde_json::Value)>);

impl<'kvs> log::kv::VisitSource<'kvs> for Fields {
    fn visit_pair(
        &mut self,
        key: log::kv::Key<'kvs>,
        value: log::kv::Value<'kvs>,
    ) -> Result<(), log::kv::Error> {
        let value = if let Some(number) = value.to_u64() {
            number.into()
        } else if let Some(number) = value.to_i64() {
            number.into()
        } else if let Some(number) = value.to_f64() {
            serde_json::Number::from_f64(number)
                .map_or_else(|| value.to_string().into(), Into::into)
        } else {
            value.to_string().into()
        };
        self.0.push((key.as_str().to_owned(), value));
        Ok(())
    }
}

/// The access log's target.
pub const ACCESS_TARGET: &str = "wxauth::access";

/// Whether the access log writes anything at the current filter.
pub fn access_log_enabled() -> bool {
    log::log_enabled!(target: ACCESS_TARGET, Level::Info)
}

/// Middleware: one [`access`] line for every answer, when the access log's
/// level is on.
pub async fn access_log<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let started = access_log_enabled().then(std::time::Instant::now);
    let response = next.call(req).await;
    if let (Some(started), Ok(response)) = (started, &response) {
        access(response, started.elapsed());
    }
    response
}

/// One access log line: the client (as the rate limiter counts it), method,
/// path without its query (a WeChat-style URL carries codes and secrets),
/// status and milliseconds, as text and as JSON fields.
pub fn access<B>(response: &actix_web::dev::ServiceResponse<B>, took: std::time::Duration) {
    let request = response.request();
    let client = request
        .extensions()
        .get::<crate::edge::ClientAddr>()
        .map(|client| client.0.to_string())
        .or_else(|| request.peer_addr().map(|peer| peer.ip().to_string()))
        .unwrap_or_else(|| "-".to_owned());
    let method = request.method().as_str();
    // A quote in the path would end the text line's quoted field early.
    let path = request.path().replace('"', "%22");
    let status = response.status().as_u16();
    let duration_ms = u64::try_from(took.as_micros()).unwrap_or(u64::MAX) as f64 / 1000.0;
    log::info!(
        target: ACCESS_TARGET,
        method = method, path = path.as_str(), status = status, duration_ms = duration_ms, client = client.as_str();
        "{client} \"{method} {path}\" {status} {duration_ms:.3}ms"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_caused_errors_are_demoted_and_others_are_not() {
        assert_eq!(
            effective_level("actix_http::h1::dispatcher", Level::Error),
            Level::Debug
        );
        assert_eq!(
            effective_level("wxauth::keyring", Level::Error),
            Level::Error
        );
        assert_eq!(
            effective_level("actix_http::h1::dispatcher", Level::Trace),
            Level::Trace
        );
    }

    #[test]
    fn text_lines_do_not_repeat_the_key_values() {
        let line = text_line(
            "2026-01-01T00:00:00.000Z",
            &Record::builder()
                .args(format_args!("\"GET /auth/me\" 401 0.040ms"))
                .target("wxauth::access")
                .level(Level::Info)
                .key_values(&[("status", 401u64)])
                .build(),
        );
        assert_eq!(
            line,
            "[2026-01-01T00:00:00.000Z INFO  wxauth::access] \"GET /auth/me\" 401 0.040ms\n"
        );
    }

    #[test]
    fn json_lines_carry_the_fields_and_key_values() {
        let line = json_line(
            "2026-01-01T00:00:00.000Z",
            &Record::builder()
                .args(format_args!("GET /healthz 200"))
                .target("wxauth::access")
                .level(Level::Info)
                .key_values(&[("status", 200u64)])
                .build(),
        );
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["level"], "INFO");
        assert_eq!(value["target"], "wxauth::access");
        assert_eq!(value["msg"], "GET /healthz 200");
        assert_eq!(value["status"], 200);
        assert!(chrono::DateTime::parse_from_rfc3339(value["ts"].as_str().unwrap()).is_ok());
    }
}

//! HTTP plumbing shared by the public routes and the simulator: JSON bodies
//! that must be objects, whose every failure is our problem+json, and
//! resources that answer HEAD and a 405 naming the methods they allow.

use crate::error::ApiError;
use actix_web::error::{JsonPayloadError, PayloadError};
use actix_web::{HttpResponse, Resource, guard as route_guard, web};
use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::marker::PhantomData;

/// A JSON extractor configuration with `limit` whose every failure is our
/// problem+json: 413 past the limit, 400 for the rest.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |error, _req| json_error(error, limit).into())
}

fn json_error(error: JsonPayloadError, limit: usize) -> ApiError {
    match error {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::PayloadTooLarge { limit }
        }
        // Bytes received past the limit (a chunked body declares no length),
        // or a body refused at the edge (see `crate::edge`).
        JsonPayloadError::Payload(PayloadError::Overflow) => ApiError::PayloadTooLarge { limit },
        JsonPayloadError::ContentType => {
            ApiError::InvalidRequest("Content-Type must be application/json".into())
        }
        // A missing field is named (the name is ours); any other data error
        // is described without serde's message, which quotes the value.
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            let message = e.to_string();
            match message.split_once(" at line ") {
                Some((missing, _)) if missing.starts_with("missing field `") => {
                    ApiError::InvalidRequest(format!("invalid body: {missing}"))
                }
                _ => ApiError::InvalidRequest(format!(
                    "invalid body: a field is missing, empty or of the wrong type, or the body is not an object (line {}, column {})",
                    e.line(),
                    e.column()
                )),
            }
        }
        JsonPayloadError::Deserialize(e) => ApiError::InvalidRequest(format!(
            "the body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        )),
        _ => ApiError::InvalidRequest("the body could not be read".into()),
    }
}

/// A route for GET that answers HEAD too (RFC 9110 section 9.3.2: HEAD is
/// GET without the body; load balancers' health checks use it). actix-http
/// leaves the body out of HEAD answers.
pub fn get_or_head() -> actix_web::Route {
    web::route().guard(route_guard::Any(route_guard::Get()).or(route_guard::Head()))
}

/// A resource whose other methods get a 405 problem naming the methods it
/// allows (RFC 9110 section 15.5.6 requires the `Allow` header).
pub fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow })
    }))
}

/// A request body that must be a JSON object. serde lets a struct also
/// deserialize from an array (`["c"]` as `{"code": "c"}`); our API takes
/// objects only, so anything else is `invalid_request`.
pub struct JsonObject<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for JsonObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectOnly<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectOnly<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(ObjectOnly(PhantomData))
            .map(JsonObject)
    }
}

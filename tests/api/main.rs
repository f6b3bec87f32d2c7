//! The API over real HTTP: every test starts the real app on a port-0 bind,
//! with a fake WeChat (wiremock) on loopback and a clock the test moves.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)] // test code: a failed unwrap is a failed test

mod helpers;

mod hostile;

mod activation;
mod apps;
mod cli;
mod discovery;
mod edge;
mod faults;
mod guard;
mod jwks;
mod limits;
mod login;
mod logs;
mod messages;
mod metrics;
mod platforms;
mod refresh;
mod revocation;
mod rotation;
mod simulator;
mod startup;
mod token;
mod verify;
mod web_login;
mod wx;

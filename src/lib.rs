//! triage: a protocol-aware load balancer and integration gateway for hospital networks.
//!
//! The library is the whole gateway; the binary (`main.rs`) only parses the command line,
//! sets up logging and signals. Layout, by concept:
//! - [`config`]: file model, validation with `FILE:LINE:COL` diagnostics, embedded default;
//! - [`runtime`]: snapshots swapped on reload, listeners kept across reloads, shutdown;
//! - [`listener`]: accept loops, allow lists, connection limits, one span per connection;
//! - [`proto`]: one handler per protocol; [`relay`]: the shared byte relay;
//! - [`pool`]: servers, selection, persistence; [`health`]: checks and their scheduler;
//! - [`upstream`]: connecting with redispatch; [`proxy_protocol`]: PROXY headers;
//!   [`timer`]: one timer for a connection's successive deadlines;
//! - [`sim`]: built-in simulated backends; [`logging`]: the log line and its batched writer;
//! - [`admin`]: the admin HTTP API and System Overview page; [`metrics`]: Prometheus metrics.
#![forbid(unsafe_code)]

pub mod admin;
pub mod bufpool;
pub mod cancel;
pub mod cli;
pub mod config;
pub mod dicom;
pub mod error;
pub mod fasthash;
pub mod health;
pub mod hl7;
pub mod httpfwd;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod metrics_cache;
pub mod pool;
pub mod proto;
pub mod proxy_protocol;
pub mod relay;
pub mod route;
pub mod runtime;
pub mod service;
pub mod sim;
pub mod timer;
pub mod timer_floor;
pub mod upstream;
pub mod xds;

pub use config::Config;
pub use runtime::Runtime;

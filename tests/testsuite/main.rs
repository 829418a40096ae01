//! Ordinary tests, in one binary: the signing rules the vectors cannot show, the command line's contract, and
//! properties over arbitrary inputs.

mod careless;
mod cases;
mod cli;
mod common;
mod concurrency;
mod diff;
mod docs;
mod example_provider;
mod explain;
mod files;
mod fresh_ids;
mod gateway;
mod hardening;
mod hostile;
mod journal;
mod layers;
mod legacy;
mod live;
mod live_safety;
mod malformed;
mod nesting;
mod properties;
mod record;
mod record_fuzz;
mod record_points;
mod reports;
mod run;
mod scenarios;
mod sdk_models;
mod secrets;
mod shipping;
mod signing;
mod tls;
mod wire;

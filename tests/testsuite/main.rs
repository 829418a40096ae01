//! Ordinary tests, in one binary: the signing rules the vectors cannot show, the command line's contract, and
//! properties over arbitrary inputs.

mod careless;
mod cases;
mod cli;
mod common;
mod concurrency;
mod container;
mod diff;
mod example_provider;
mod explain;
mod hardening;
mod hostile;
mod journal;
mod knobs;
mod layers;
mod legacy;
mod live;
mod malformed;
mod properties;
mod record;
mod reports;
mod run;
mod scenarios;
mod secrets;
mod shipping;
mod signing;
mod standalone;
mod tls;
mod wire;

//! Ordinary tests, in one binary: the signing rules the vectors cannot show, the command line's contract, and
//! properties over arbitrary inputs.

mod careless;
mod cases;
mod cli;
mod common;
mod concurrency;
mod example_provider;
mod hardening;
mod hostile;
mod layers;
mod legacy;
mod live;
mod malformed;
mod properties;
mod record;
mod run;
mod secrets;
mod signing;
mod tls;
mod wire;

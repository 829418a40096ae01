//! Ordinary tests, in one binary: the signing rules the vectors cannot show, the command line's contract, and
//! properties over arbitrary inputs.

mod careless;
mod cases;
mod cli;
mod common;
mod concurrency;
mod hardening;
mod hostile;
mod legacy;
mod live;
mod malformed;
mod properties;
mod run;
mod secrets;
mod signing;
mod tls;
mod wire;

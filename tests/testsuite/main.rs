//! Ordinary tests, in one binary: the signing rules the vectors cannot show, the command line's contract, and
//! properties over arbitrary inputs.

mod cli;
mod common;
mod properties;
mod signing;

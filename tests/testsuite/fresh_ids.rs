//! `terminus serve` without a named seed answers ids of its own: two fresh mocks do not give the same request id
//! to their first call (a client caching by request id across test runs saw collisions the real API never makes);
//! `--seed` gives the same ids again.

use std::io::Write;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::binary::first_line;
use crate::common::raw::{Answer, read_answer};
use crate::common::signed_terminate;

/// A running `terminus serve` on a free loopback port; killed when dropped.
struct Serve {
    child: Child,
    address: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str]) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_terminus"))
        .args(["serve", "--listen", "127.0.0.1:0", "--quiet"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("terminus serve starts");
    let line = first_line(child.stdout.take().expect("stdout is piped")).expect("a first line");
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .trim_end_matches('/')
        .to_owned();
    Serve { child, address }
}

/// The RequestId of the first `TerminateInstances` of a fresh default-world mock.
fn first_request_id(args: &[&str]) -> String {
    let server = serve(args);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let mut stream = TcpStream::connect(&server.address).expect("connects");
    stream
        .write_all(&signed_terminate(&["ins-nothere1"], false, false, now))
        .expect("sends");
    let mut buffer = Vec::new();
    let Answer::Response(response) = read_answer(
        &mut stream,
        &mut buffer,
        Instant::now() + Duration::from_secs(20),
        false,
    ) else {
        panic!("no answer");
    };
    let body: Value = serde_json::from_slice(&response.body).expect("JSON");
    body["Response"]["RequestId"]
        .as_str()
        .unwrap_or_else(|| panic!("no RequestId in {body}"))
        .to_owned()
}

#[test]
fn two_fresh_mocks_answer_different_request_ids() {
    assert_ne!(first_request_id(&[]), first_request_id(&[]));
}

#[test]
fn the_same_seed_answers_the_same_request_ids() {
    let first = first_request_id(&["--seed", "7"]);
    assert_eq!(first, first_request_id(&["--seed", "7"]));
    assert_ne!(first, first_request_id(&["--seed", "8"]));
}

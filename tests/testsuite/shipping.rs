//! What a CI job needs from `terminus serve`: the address it got on port 0, in a first line of a stable form
//! (`listening on http://127.0.0.1:PORT`) and in a `--ready-file`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::binary::first_line;

/// The server, killed when dropped.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_on_port_0_says_where_it_listens_in_its_first_line_and_its_ready_file() {
    let ready =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ready-{}", std::process::id()));
    let _ = std::fs::remove_file(&ready);
    let mut serve = Serve(
        Command::new(env!("CARGO_BIN_EXE_terminus"))
            .args(["serve", "--listen", "127.0.0.1:0", "--ready-file"])
            .arg(&ready)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("terminus serve starts"),
    );
    let line = first_line(serve.0.stdout.take().expect("stdout is piped"))
        .expect("terminus serve prints a first line");
    let url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the first line is `listening on URL`: {line:?}"));
    let port: u16 = url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("a loopback URL with a port: {url:?}"));
    assert_ne!(port, 0, "the port the system chose, not 0");
    assert_eq!(
        std::fs::read_to_string(&ready).expect("the ready file is there once the line is"),
        format!("{url}\n")
    );
    let client = crate::common::http_client()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let answer = client
        .get(format!("{url}/__terminus/world"))
        .send()
        .expect("the server answers at that URL");
    assert_eq!(answer.status(), 200);
    let _ = std::fs::remove_file(&ready);
}

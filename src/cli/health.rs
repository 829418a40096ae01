//! `terminus health URL`: asks a running `terminus serve` whether it is up (`GET /__terminus/health`), for a
//! container's `HEALTHCHECK` and CI wait loops where there is no curl. Exit status 0 when it answers
//! `200 {"status": "ok"}`, 1 otherwise (the reason on stderr), 2 for a URL it cannot use.
//!
//! One plain HTTP/1.1 request over std's blocking socket, every step under the deadline and the answer read to at
//! most [`MOST_ANSWER_BYTES`]: a probe must never hang or grow, whatever answers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::unusable;

/// Ask a running `terminus serve` whether it is up (GET /__terminus/health, no token needed): exit 0 when it
/// answers, 1 when it does not.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The server, as `terminus serve` printed it (plain http://host:port).
    #[arg(default_value = "http://127.0.0.1:18080")]
    url: String,
    /// How long to wait for the whole answer.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

/// The health answer is a few bytes; anything longer is not terminus.
const MOST_ANSWER_BYTES: usize = 64 * 1024;

pub(super) fn run(args: Args) -> ExitCode {
    let authority = match authority_of(&args.url) {
        Ok(authority) => authority,
        Err(error) => return unusable(error),
    };
    match probe(authority, args.timeout) {
        Ok(()) => {
            out!("ok: {} is up", args.url);
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("unhealthy: {}: {why}", args.url);
            ExitCode::FAILURE
        }
    }
}

/// `host:port` of a plain `http://` URL (port 80 when none is given); its path, if any, is not used.
fn authority_of(url: &str) -> Result<&str, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("{url}: only plain http:// URLs can be probed (https: probe the plain listener)")
    })?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("{url}: no host to probe"));
    }
    Ok(authority)
}

/// Sends the request and judges the answer, all within `timeout`.
fn probe(authority: &str, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or_else(|| format!("no answer within {}", humantime::format_duration(timeout)))
    };
    let address = super::bench::socket_address(authority)?;
    let mut stream = TcpStream::connect_timeout(&address, left()?)
        .map_err(|error| format!("cannot connect to {address}: {error}"))?;
    stream
        .set_write_timeout(Some(left()?))
        .and_then(|()| {
            stream.write_all(
                format!(
                    "GET /__terminus/health HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
                )
                .as_bytes(),
            )
        })
        .map_err(|error| format!("cannot send the request: {error}"))?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        stream
            .set_read_timeout(Some(left()?))
            .map_err(|error| format!("cannot wait for the answer: {error}"))?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => {
                answer.extend_from_slice(&chunk[..read]);
                if answer.len() > MOST_ANSWER_BYTES {
                    return Err(format!("the answer is over {MOST_ANSWER_BYTES} bytes"));
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => {
                left()?;
                return Err(format!("cannot read the answer: {error}"));
            }
        }
    }
    judge(&answer)
}

/// Whether `answer` is `200` with a JSON body whose `status` is `ok`.
fn judge(answer: &[u8]) -> Result<(), String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let head_length = match response.parse(answer) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Err("the answer ends inside its head".into()),
        Err(error) => return Err(format!("the answer is not HTTP: {error}")),
    };
    if response.code != Some(200) {
        return Err(format!(
            "answered {} {}",
            response.code.unwrap_or_default(),
            response.reason.unwrap_or_default()
        ));
    }
    let body: serde_json::Value = serde_json::from_slice(&answer[head_length..])
        .map_err(|error| format!("the answer's body is not JSON: {error}"))?;
    if body["status"] != "ok" {
        return Err(format!("the answer's status is {}", body["status"]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_http_url_with_a_host_is_probed() {
        assert_eq!(
            authority_of("http://127.0.0.1:18080"),
            Ok("127.0.0.1:18080")
        );
        assert_eq!(
            authority_of("http://localhost:1/__terminus/health"),
            Ok("localhost:1")
        );
        assert!(authority_of("https://127.0.0.1:18080").is_err());
        assert!(authority_of("127.0.0.1:18080").is_err());
        assert!(authority_of("http:///x").is_err());
        assert!(authority_of("http://user@host:1").is_err());
    }

    #[test]
    fn only_200_with_status_ok_is_healthy() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{\"status\":\"ok\"}";
        assert_eq!(judge(ok), Ok(()));
        let refused = b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(judge(refused), Err("answered 401 Unauthorized".into()));
        let other = b"HTTP/1.1 200 OK\r\ncontent-length: 19\r\n\r\n{\"status\":\"failed\"}";
        assert!(judge(other).is_err());
        assert!(judge(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(judge(b"SSH-2.0-OpenSSH\r\n").is_err());
    }
}

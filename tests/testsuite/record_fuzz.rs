//! The redaction fuzzer: `terminus record` between a client and an upstream that both plant canary secrets in
//! every position and encoding a secret can travel in, 600 exchanges from a fixed seed. No file under the
//! cassette directory (names included) may hold a canary byte in any encoding, and every client still gets its
//! answer.
//!
//! The canaries are the session's secrets as the recorder knows them: the SecretId each request is signed with,
//! the secret key (given to the recorder, as the CLI takes it from the environment), session and Bearer tokens,
//! the owner uin and AppId an answer carries, and the `--redact` strings. The check of the files is written here,
//! apart from the recorder's own (it decodes views of each file: percent, JSON `\u`, base64 runs, compressed
//! streams and bodies, and searches them).

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use terminus::harness::http1::Connection;
use terminus::message::Request;
use terminus::record::{Recorder, RecorderConfig};
use terminus::signing::leak::Known;
use terminus::signing::{self, Credentials, Scheme, SignOptions};
use terminus::tls::Trust;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const EXCHANGES: usize = 600;
const SEED: u64 = 0x7e57_ca5e_77e5_0001;
const DEADLINE: Duration = Duration::from_secs(120);

/// splitmix64: a fixed seed gives the same exchanges on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn word(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len)
            .map(|_| char::from(alphabet[self.below(alphabet.len())]))
            .collect()
    }
}

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const DIGITS: &[u8] = b"0123456789";

/// One canary, as the test knows it (it may print it: it is fake).
#[derive(Clone, Debug)]
struct Canary {
    kind: &'static str,
    value: String,
}

/// The session: a few credential sets, the `--redact` strings.
struct Session {
    credentials: Vec<(String, String, String)>,
    extras: Vec<String>,
}

impl Session {
    fn new(rng: &mut Rng) -> Self {
        let credentials = (0..3)
            .map(|_| {
                (
                    format!("AKIDcnry{}", rng.word(ALNUM, 28)),
                    format!("cnrykey{}", rng.word(ALNUM, 25)),
                    format!(
                        "cnrytok{}-{}_{}",
                        rng.word(ALNUM, 12),
                        rng.word(ALNUM, 8),
                        rng.word(ALNUM, 8)
                    ),
                )
            })
            .collect();
        // One lower-case, so that it can stand in a host name; one that looks like an action.
        let extras = vec![
            format!("cnryproj{}", rng.word(LOWER, 12)),
            format!("CnryAction{}", rng.word(ALNUM, 10)),
        ];
        Self {
            credentials,
            extras,
        }
    }

    fn canaries(&self) -> Vec<Canary> {
        let mut all = Vec::new();
        for (id, key, token) in &self.credentials {
            all.push(Canary {
                kind: "secret id",
                value: id.clone(),
            });
            all.push(Canary {
                kind: "secret key",
                value: key.clone(),
            });
            all.push(Canary {
                kind: "token",
                value: token.clone(),
            });
        }
        for extra in &self.extras {
            all.push(Canary {
                kind: "--redact string",
                value: extra.clone(),
            });
        }
        all
    }
}

/// `value` in one of the encodings a secret can take, chosen by `rng`; `text_only` leaves out the ones that are
/// not text in a header or a URL (base64 stays: it is text).
fn encoded(rng: &mut Rng, value: &str) -> String {
    match rng.below(8) {
        0 => value.to_owned(),
        // Percent-encoded, every byte, upper-case hex.
        1 => value.bytes().map(|b| format!("%{b:02X}")).collect(),
        // One letter percent-encoded, lower-case hex (`AKID%4b…`).
        2 => {
            let at = rng.below(value.len());
            value
                .bytes()
                .enumerate()
                .map(|(i, b)| {
                    if i == at {
                        format!("%{b:02x}")
                    } else {
                        char::from(b).to_string()
                    }
                })
                .collect()
        }
        // Some letters escaped, mixed cases.
        3 => value
            .bytes()
            .map(|b| match rng.below(3) {
                0 => format!("%{b:02x}"),
                1 => format!("%{b:02X}"),
                _ => char::from(b).to_string(),
            })
            .collect(),
        // Form-encoded (what `application/x-www-form-urlencoded` makes of it).
        4 => form_urlencoded::byte_serialize(value.as_bytes()).collect(),
        // Twice percent-encoded.
        5 => value.bytes().map(|b| format!("%25{b:02X}")).collect(),
        // Base64 of it inside more text, at a random alignment, standard or URL-safe.
        6 => {
            let prefix = "x".repeat(rng.below(3));
            let text = format!("{prefix}{value}:tail");
            if rng.chance(50) {
                base64::engine::general_purpose::STANDARD.encode(text)
            } else {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
            }
        }
        // Base64, its characters percent-encoded as a query would carry them.
        _ => {
            let text = format!("{value}\u{0}");
            form_urlencoded::byte_serialize(
                base64::engine::general_purpose::STANDARD
                    .encode(text)
                    .as_bytes(),
            )
            .collect()
        }
    }
}

/// `value` JSON-escaped with some letters as `\u` escapes (what a JSON encoder that escapes may write).
fn json_escaped(rng: &mut Rng, value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if rng.chance(40) {
                format!("\\u{:04x}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    // A brotli stream of uncompressed meta-blocks (RFC 7932 §9.2): WBITS 16, then per ≤ 65536-byte block
    // ISLAST=0, MNIBBLES=4, MLEN-1, ISUNCOMPRESSED=1, byte-aligned data; then ISLAST=1, ISLASTEMPTY=1.
    let mut bits = BitWriter::default();
    bits.put(0, 1); // WBITS = 16
    for block in bytes.chunks(65536) {
        bits.put(0, 1); // ISLAST
        bits.put(0, 2); // MNIBBLES = 4
        bits.put((block.len() - 1) as u64, 16);
        bits.put(1, 1); // ISUNCOMPRESSED
        bits.align();
        bits.bytes.extend_from_slice(block);
    }
    bits.put(1, 1); // ISLAST
    bits.put(1, 1); // ISLASTEMPTY
    bits.align();
    bits.bytes
}

#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    used: u32,
}

impl BitWriter {
    fn put(&mut self, value: u64, count: u32) {
        for bit in 0..count {
            if self.used == 0 {
                self.bytes.push(0);
            }
            let last = self.bytes.last_mut().unwrap();
            *last |= (((value >> bit) & 1) as u8) << self.used;
            self.used = (self.used + 1) % 8;
        }
    }
    fn align(&mut self) {
        self.used = 0;
    }
}

/// One exchange to send: the request's bytes (absolute form) and the answer the upstream will give.
struct Planned {
    request: Vec<u8>,
    answer: Vec<u8>,
    /// The answer's account ids: canaries too.
    accounts: Vec<Canary>,
}

/// Plants `canary` somewhere in the request or the answer being built.
#[derive(Default)]
struct Draft {
    query: Vec<String>,
    request_headers: Vec<(String, String)>,
    json_fields: Vec<(String, String)>,
    parts: Vec<(String, Vec<u8>)>,
    answer_headers: Vec<(String, String)>,
    answer_fields: Vec<(String, String)>,
}

fn plant(rng: &mut Rng, draft: &mut Draft, canary: &str) {
    let field = format!("F{}", rng.word(ALNUM, 6));
    match rng.below(12) {
        0 => draft
            .request_headers
            .push(("X-Echo".into(), encoded(rng, canary))),
        // A header name (percent-encoded forms are still tokens).
        1 => {
            let name = match rng.below(3) {
                0 => canary.to_owned(),
                1 => encoded_token(rng, canary),
                _ => format!("X-{}", encoded_token(rng, canary)),
            };
            draft.request_headers.push((name, "1".into()));
        }
        2 => draft.query.push(format!("{}=1", encoded(rng, canary))),
        3 => draft.query.push(format!("q={}", encoded(rng, canary))),
        4 => draft.json_fields.push((field, json_escaped(rng, canary))),
        // A URL in the body.
        5 => draft.json_fields.push((
            field,
            format!("https:\\/\\/example.com\\/cb?k={}", encoded(rng, canary)),
        )),
        6 => draft.json_fields.push((field, encoded(rng, canary))),
        // A multipart part: in its name or its content, plain or compressed.
        7 => {
            let content = match rng.below(3) {
                0 => canary.as_bytes().to_vec(),
                1 => gzip(format!("{{\"k\":\"{canary}\"}}").as_bytes()),
                _ => encoded(rng, canary).into_bytes(),
            };
            let name = if rng.chance(30) {
                encoded_token(rng, canary)
            } else {
                field
            };
            draft.parts.push((name, content));
        }
        8 => draft
            .answer_headers
            .push(("X-Echo".into(), encoded(rng, canary))),
        9 => draft
            .answer_headers
            .push((format!("X-{}", encoded_token(rng, canary)), "1".into())),
        10 => draft.answer_fields.push((field, json_escaped(rng, canary))),
        _ => draft.answer_fields.push((field, encoded(rng, canary))),
    }
}

/// An encoding of `canary` that is a valid header-name token (raw or percent-encoded).
fn encoded_token(rng: &mut Rng, canary: &str) -> String {
    loop {
        let candidate = encoded(rng, canary);
        if candidate
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"%-_.!#$&'*+^`|~".contains(&b))
        {
            return candidate;
        }
    }
}

fn plan(rng: &mut Rng, session: &Session, number: usize) -> Planned {
    // The last credential set is a permanent key (no token); the others are temporary, and every request signed
    // with one carries its token, as STS credentials are used.
    let set = rng.below(session.credentials.len());
    let (id, key, token) = session.credentials[set].clone();
    let has_token = set + 1 < session.credentials.len();
    let mut draft = Draft::default();
    let uin = format!("1000{}", rng.word(DIGITS, 8));
    let appid = format!("125{}", rng.word(DIGITS, 7));
    let mut plantable = vec![id.clone(), key.clone(), uin.clone(), appid.clone()];
    if has_token {
        plantable.push(token.clone());
    }
    plantable.extend(session.extras.iter().cloned());
    for _ in 0..1 + rng.below(4) {
        let canary = plantable[rng.below(plantable.len())].clone();
        plant(rng, &mut draft, &canary);
    }
    // The host: a provider's, sometimes with a `--redact` string in it.
    let host = if rng.chance(5) {
        format!("{}.tencentcloudapi.com", session.extras[0])
    } else {
        "cvm.tencentcloudapi.com".to_owned()
    };
    let action = if rng.chance(5) {
        session.extras[1].clone()
    } else {
        "TerminateInstances".to_owned()
    };
    let query = if draft.query.is_empty() {
        String::new()
    } else {
        format!("?{}", draft.query.join("&"))
    };
    let mut json = format!("{{\"InstanceIds\":[\"ins-{}\"]", rng.word(LOWER, 8));
    for (name, value) in &draft.json_fields {
        json.push_str(&format!(",\"{name}\":\"{value}\""));
    }
    json.push('}');
    let (content_type, body) = if draft.parts.is_empty() {
        ("application/json".to_owned(), json.into_bytes())
    } else {
        let boundary = format!("b{}", rng.word(ALNUM, 16));
        let mut body = Vec::new();
        for (name, content) in &draft.parts {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                    .as_bytes(),
            );
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        (format!("multipart/form-data; boundary={boundary}"), body)
    };
    // 0: signed, with the token as X-TC-Token; 1: the token as a Bearer; 2: signed, no token.
    let form = if has_token { rng.below(2) } else { 2 };
    let mut head = format!(
        "POST /{query} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\nX-TC-Action: {action}\r\n\
         X-TC-Version: 2017-03-12\r\nX-TC-Region: ap-guangzhou\r\nX-TC-Timestamp: 1700000000\r\n\
         X-Fuzz-Case: {number}\r\nUser-Agent: sdk/1.0 ({})\r\n",
        if rng.chance(10) {
            session.extras[0].as_str()
        } else {
            "linux"
        }
    );
    match form {
        0 => head.push_str(&format!("X-TC-Token: {token}\r\n")),
        1 => head.push_str(&format!(
            "Authorization: {}{}{token}\r\n",
            ["Bearer", "bearer", "BEARER"][rng.below(3)],
            [" ", "\t", "  "][rng.below(3)]
        )),
        _ => {}
    }
    for (name, value) in &draft.request_headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&body);
    let mut request = Request::parse(&bytes).unwrap();
    if form != 1 {
        request = signing::sign(
            &request,
            &Credentials::new(id.as_str(), key.as_str()),
            Scheme::Tc3,
            &SignOptions::default(),
        )
        .unwrap()
        .request;
    }
    request.target = format!("http://{host}{}", request.target);

    // The answer: JSON carrying the account ids, maybe compressed.
    let mut answer_json = format!(
        "{{\"Response\":{{\"Uin\":\"{uin}\",\"AppId\":{appid},\"RequestId\":\"r-{number}\""
    );
    for (name, value) in &draft.answer_fields {
        answer_json.push_str(&format!(",\"{name}\":\"{value}\""));
    }
    answer_json.push_str("}}");
    let (coding, answer_body) = match rng.below(5) {
        0 => (Some("gzip"), gzip(answer_json.as_bytes())),
        1 => (Some("deflate"), deflate(answer_json.as_bytes())),
        2 => (Some("br"), brotli(answer_json.as_bytes())),
        _ => (None, answer_json.into_bytes()),
    };
    let mut answer = String::from("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n");
    if let Some(coding) = coding {
        answer.push_str(&format!("Content-Encoding: {coding}\r\n"));
    }
    for (name, value) in &draft.answer_headers {
        answer.push_str(&format!("{name}: {value}\r\n"));
    }
    answer.push_str(&format!("Content-Length: {}\r\n\r\n", answer_body.len()));
    let mut answer = answer.into_bytes();
    answer.extend_from_slice(&answer_body);
    Planned {
        request: request.to_bytes(),
        answer,
        accounts: vec![
            Canary {
                kind: "owner uin",
                value: uin,
            },
            Canary {
                kind: "AppId",
                value: appid,
            },
        ],
    }
}

/// The upstream: answers each request with the planned answer its `X-Fuzz-Case` names.
async fn upstream(listener: tokio::net::TcpListener, answers: std::sync::Arc<Vec<Vec<u8>>>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let answers = std::sync::Arc::clone(&answers);
        tokio::spawn(async move {
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 65536];
            loop {
                let (head, length, case) = loop {
                    let mut headers = [httparse::EMPTY_HEADER; 128];
                    let mut parsed = httparse::Request::new(&mut headers);
                    if let Ok(httparse::Status::Complete(head)) = parsed.parse(&buffer) {
                        let find = |name: &str| {
                            parsed
                                .headers
                                .iter()
                                .find(|h| h.name.eq_ignore_ascii_case(name))
                                .and_then(|h| std::str::from_utf8(h.value).ok())
                                .and_then(|v| v.trim().parse::<usize>().ok())
                        };
                        break (
                            head,
                            find("content-length").unwrap_or(0),
                            find("x-fuzz-case"),
                        );
                    }
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => buffer.extend_from_slice(&chunk[..read]),
                    }
                };
                while buffer.len() < head + length {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => buffer.extend_from_slice(&chunk[..read]),
                    }
                }
                buffer.drain(..head + length);
                let answer = case
                    .and_then(|case| answers.get(case).cloned())
                    .unwrap_or_else(|| {
                        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".to_vec()
                    });
                if stream.write_all(&answer).await.is_err() {
                    return;
                }
            }
        });
    }
}

// ---- The check of the files, independent of the recorder's ----

fn percent_decoded(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%'
            && let Some(hex) = bytes.get(at + 1..at + 3)
            && let Ok(value) = u8::from_str_radix(std::str::from_utf8(hex).unwrap_or("zz"), 16)
        {
            out.push(value);
            at += 3;
        } else {
            out.push(if bytes[at] == b'+' { b' ' } else { bytes[at] });
            at += 1;
        }
    }
    out
}

fn json_unescaped(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'\\' {
            if bytes.get(at + 1) == Some(&b'u')
                && let Some(hex) = bytes.get(at + 2..at + 6)
                && let Ok(value) = u32::from_str_radix(std::str::from_utf8(hex).unwrap_or("zz"), 16)
                && let Some(c) = char::from_u32(value)
            {
                let mut utf8 = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                at += 6;
                continue;
            }
            if let Some(&next) = bytes.get(at + 1) {
                out.push(next);
                at += 2;
                continue;
            }
        }
        out.push(bytes[at]);
        at += 1;
    }
    out
}

/// Every run of base64 characters, decoded from each start offset in both alphabets.
fn base64_decodings(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let is_b64 = |b: u8| b.is_ascii_alphanumeric() || b"+/-_".contains(&b);
    let mut at = 0;
    while at < bytes.len() {
        if !is_b64(bytes[at]) {
            at += 1;
            continue;
        }
        let start = at;
        while at < bytes.len() && is_b64(bytes[at]) {
            at += 1;
        }
        if at - start < 8 {
            continue;
        }
        let run = &bytes[start..at];
        for offset in 0..4 {
            let slice = String::from_utf8_lossy(&run[offset.min(run.len())..])
                .replace('-', "+")
                .replace('_', "/");
            // Unpadded: a length of 4n+1 is never valid, drop its last character.
            let usable = if slice.len() % 4 == 1 {
                &slice[..slice.len() - 1]
            } else {
                &slice[..]
            };
            if let Ok(decoded) = lenient().decode(usable) {
                out.push(decoded);
            }
        }
    }
    out
}

/// Base64 that takes any trailing bits and no padding (a run cut at any offset still decodes).
fn lenient() -> base64::engine::GeneralPurpose {
    base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    )
}

/// Every compressed stream in the bytes, decoded.
fn decompressed(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for at in 0..bytes.len().saturating_sub(2) {
        let rest = &bytes[at..];
        let mut decoded = Vec::new();
        if rest.starts_with(&[0x1f, 0x8b]) {
            if flate2::read::MultiGzDecoder::new(rest)
                .take(1 << 26)
                .read_to_end(&mut decoded)
                .is_ok()
            {
                out.push(decoded);
            }
        } else if rest[0] == 0x78
            && matches!(rest[1], 0x01 | 0x5e | 0x9c | 0xda)
            && flate2::read::ZlibDecoder::new(rest)
                .take(1 << 26)
                .read_to_end(&mut decoded)
                .is_ok()
        {
            out.push(decoded);
        }
    }
    out
}

/// The body of a stored HTTP message decoded by its `Content-Encoding`, if it names one.
fn coded_body(bytes: &[u8]) -> Option<Vec<u8>> {
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&bytes[..split]).to_ascii_lowercase();
    let coding = head
        .lines()
        .find_map(|line| line.strip_prefix("content-encoding:"))?
        .trim()
        .to_owned();
    let body = &bytes[split + 4..];
    let mut out = Vec::new();
    let ok = match coding.as_str() {
        "gzip" => flate2::read::MultiGzDecoder::new(body)
            .read_to_end(&mut out)
            .is_ok(),
        "deflate" => flate2::read::ZlibDecoder::new(body)
            .read_to_end(&mut out)
            .is_ok(),
        "br" => brotli_decompressor::Decompressor::new(body, 4096)
            .read_to_end(&mut out)
            .is_ok(),
        _ => false,
    };
    ok.then_some(out)
}

/// Every view of `bytes` a canary could be read in.
fn views(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut level = vec![bytes.to_vec()];
    level.extend(coded_body(bytes));
    level.extend(decompressed(bytes));
    let mut all = Vec::new();
    for view in level {
        let once = percent_decoded(&view);
        let twice = percent_decoded(&once);
        let json = json_unescaped(&view);
        let json_then_percent = percent_decoded(&json);
        for text in [view, once, twice, json, json_then_percent] {
            all.extend(base64_decodings(&text));
            all.push(text);
        }
    }
    all
}

/// The canaries by their first four bytes, for a search that looks at each position once.
struct Index<'a> {
    by_prefix: std::collections::HashMap<&'a [u8], Vec<&'a Canary>>,
}

impl<'a> Index<'a> {
    fn new(canaries: &'a [Canary]) -> Self {
        let mut by_prefix: std::collections::HashMap<&[u8], Vec<&Canary>> = Default::default();
        for canary in canaries {
            by_prefix
                .entry(&canary.value.as_bytes()[..4])
                .or_default()
                .push(canary);
        }
        Self { by_prefix }
    }

    /// Every canary written in `view`.
    fn found_in(&self, view: &[u8], out: &mut Vec<&'a Canary>) {
        for at in 0..view.len().saturating_sub(3) {
            if let Some(candidates) = self.by_prefix.get(&view[at..at + 4]) {
                for canary in candidates {
                    if view[at..].starts_with(canary.value.as_bytes()) {
                        out.push(canary);
                    }
                }
            }
        }
    }
}

/// Each (file, canary) whose canary is readable in the file's name or bytes.
fn leaks(dir: &Path, canaries: &[Canary]) -> Vec<String> {
    let index = Index::new(canaries);
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let mut readable = views(name.as_bytes());
        readable.extend(views(&bytes));
        let mut here = Vec::new();
        for view in &readable {
            index.found_in(view, &mut here);
        }
        here.sort_by_key(|canary| canary.value.clone());
        here.dedup_by_key(|canary| canary.value.clone());
        found.extend(
            here.into_iter()
                .map(|canary| format!("{name}: {} {}", canary.kind, canary.value)),
        );
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_canary_reaches_any_file_under_out_in_any_encoding() {
    let mut rng = Rng(SEED);
    let session = Session::new(&mut rng);
    let planned: Vec<Planned> = (0..EXCHANGES)
        .map(|number| plan(&mut rng, &session, number))
        .collect();
    let answers = std::sync::Arc::new(planned.iter().map(|p| p.answer.clone()).collect());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_address = listener.local_addr().unwrap();
    let upstream_task = tokio::spawn(upstream(listener, answers));

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cassette");
    let recorder = Recorder::start(config(&session, &out, upstream_address)).unwrap();
    let proxy = recorder.address();
    let run = async {
        let mut answered = 0;
        for (number, exchange) in planned.iter().enumerate() {
            let mut connection = Connection::open(proxy).await.unwrap();
            let status = connection
                .exchange(&exchange.request)
                .await
                .unwrap_or_else(|error| panic!("exchange {number}: {error}"));
            assert_eq!(
                status,
                200,
                "exchange {number}: {}",
                String::from_utf8_lossy(connection.body())
            );
            answered += 1;
        }
        answered
    };
    let started = std::time::Instant::now();
    let answered = tokio::time::timeout(DEADLINE, run).await.expect("deadline");
    eprintln!("recorded in {:?}", started.elapsed());
    assert_eq!(answered, EXCHANGES, "every client gets its answer");
    let (written, refused) = (recorder.recorded(), recorder.refused());
    drop(recorder);
    upstream_task.abort();

    let mut canaries = session.canaries();
    canaries.extend(planned.iter().flat_map(|p| p.accounts.iter().cloned()));
    let started = std::time::Instant::now();
    let found = leaks(&out, &canaries);
    eprintln!(
        "{written} written, {refused} refused; checked in {:?}",
        started.elapsed()
    );
    assert!(
        found.is_empty(),
        "{} leaks ({written} written, {refused} refused); first ones:\n{}",
        found.len(),
        found
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(written + refused, EXCHANGES);
    assert!(
        written >= EXCHANGES / 3,
        "only {written} of {EXCHANGES} written: redaction should keep most exchanges"
    );
}

/// The recorder set up for the session: forwarding to the fuzzer's upstream, knowing the keys and extras.
fn config(session: &Session, out: &Path, upstream: std::net::SocketAddr) -> RecorderConfig {
    RecorderConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        out: out.to_path_buf(),
        upstream: Some(format!("http://{upstream}")),
        trust: Trust {
            public_roots: false,
            extra: vec![],
        },
        redact: session.extras.clone(),
        secrets: session
            .credentials
            .iter()
            .map(|(_, key, _)| Known::new("secret key", key.clone()))
            .collect(),
        log: None,
        request_deadline: terminus::record::proxy::REQUEST_DEADLINE,
    }
}

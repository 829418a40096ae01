//! Finding a secret in bytes, in whatever encoding it travels: the one check that stands between a key or token
//! and a file (the recorder's cassettes; a log or journal line).
//!
//! Public:
//! - [`Known`]: a secret of the session and what it is (the kind is what a report names, never the value);
//! - [`find`]: where the first known secret is in some bytes, and in which encoding, or nothing;
//! - [`replace`]: the same matching, replacing each occurrence (for redaction that keeps the text's encoding);
//! - [`bearer_token`]: the token of an `Authorization` value in any spelling of the `Bearer` scheme;
//! - [`decode_body`]: a `gzip`, `deflate` or `br` body decoded, under a size cap.
//!
//! A secret is found:
//! - raw;
//! - percent-encoded, any of its bytes escaped or not, in either case of hex digit (`AKID%4b…`), and twice
//!   encoded (`%254B`); form-encoded (`+` for a space);
//! - JSON-escaped: `\uXXXX` for any ASCII byte, `\"`, `\\`, `\/`;
//! - base64, standard or URL-safe, at any of the three alignments it can take inside a longer base64 text, and
//!   those characters percent-encoded too;
//! - inside a gzip or zlib stream anywhere in the bytes (a compressed body, a compressed part, one cut short),
//!   decoded under a cap and searched again; a stream larger than the cap, or more streams than the check opens,
//!   is reported as a finding (`secret (not ruled out)`): what cannot be checked is not passed.
//!
//! Secrets shorter than [`SHORTEST`] are not searched for: a three-letter "secret" would be found everywhere.

use std::io::Read as _;

use super::Secret;

/// The shortest secret searched for.
pub const SHORTEST: usize = 4;
/// The most bytes a compressed stream is decoded to before it is called undecodable.
pub const LARGEST_DECODED: usize = 64 * 1024 * 1024;
/// How many embedded compressed streams one search decodes; a text with more is reported, not passed (a hostile
/// body can neither make the check decode forever nor hide a stream behind decoys).
const MOST_STREAMS: usize = 64;
/// How deep compressed streams inside compressed streams are opened.
const DEEPEST: usize = 2;

/// A secret of the session, and what it is.
#[derive(Clone, Debug)]
pub struct Known {
    /// What the secret is (`secret id`, `session token`): the only thing a report says of it.
    pub kind: &'static str,
    /// The value.
    pub value: Secret,
}

impl Known {
    /// A secret of `kind`.
    pub fn new(kind: &'static str, value: impl Into<String>) -> Self {
        Self {
            kind,
            value: Secret::new(value),
        }
    }
}

/// A secret found: its kind and the encoding it was in (never its value, nor the text around it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The kind of secret ([`Known::kind`]).
    pub kind: &'static str,
    /// `raw, percent-, form- or JSON-escaped`, `base64`, or `inside a compressed stream`.
    pub encoding: &'static str,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a {} ({})", self.kind, self.encoding)
    }
}

/// The first of `secrets` found in `bytes`, in any encoding listed in the module documentation.
pub fn find(bytes: &[u8], secrets: &[Known]) -> Option<Finding> {
    Needles::new(secrets).find(bytes)
}

/// Every form of every secret, indexed by its first four bytes: built once, searched in many texts (one pass
/// over each view of a text, whatever the number of secrets).
#[derive(Clone, Debug, Default)]
pub struct Needles {
    by_prefix: std::collections::HashMap<[u8; 4], Vec<Needle>>,
}

/// One form of one secret: its bytes, the secret's kind, the encoding the form is.
type Needle = (Vec<u8>, &'static str, &'static str);

impl Needles {
    /// The needles of `secrets` (each as itself, and in its base64 forms).
    pub fn new(secrets: &[Known]) -> Self {
        let mut needles = Self::default();
        for known in secrets {
            needles.push(known);
        }
        needles
    }

    /// Adds one secret (ignored when shorter than [`SHORTEST`]).
    pub fn push(&mut self, known: &Known) {
        let value = known.value.expose().as_bytes();
        if value.len() < SHORTEST {
            return;
        }
        self.add(
            value.to_vec(),
            known.kind,
            "raw, percent-, form- or JSON-escaped",
        );
        for form in base64_forms(value) {
            self.add(form.into_bytes(), known.kind, "base64");
        }
    }

    fn add(&mut self, needle: Vec<u8>, kind: &'static str, encoding: &'static str) {
        let prefix = [needle[0], needle[1], needle[2], needle[3]];
        let list = self.by_prefix.entry(prefix).or_default();
        if !list.iter().any(|(known, ..)| *known == needle) {
            list.push((needle, kind, encoding));
        }
    }

    /// The first secret found in `bytes`, in any encoding listed in the module documentation.
    pub fn find(&self, bytes: &[u8]) -> Option<Finding> {
        if self.by_prefix.is_empty() {
            return None;
        }
        let mut streams = 0;
        self.find_in(bytes, 0, &mut streams)
    }

    fn find_in(&self, bytes: &[u8], depth: usize, streams: &mut usize) -> Option<Finding> {
        // The views a secret can be read in: as written (a secret with a `%` or `\` of its own), escapes decoded
        // once (percent, JSON), `+` as a space too, and decoded twice (`%2541`, a percent-escape JSON-escaped).
        let once = decode_escapes(bytes, false);
        let twice = decode_escapes(&once, false);
        let form = decode_escapes(bytes, true);
        for view in [bytes, &once[..], &twice[..], &form[..]] {
            if let Some(found) = self.scan(view) {
                return Some(found);
            }
        }
        if depth >= DEEPEST {
            return None;
        }
        for at in 0..bytes.len().saturating_sub(2) {
            let rest = &bytes[at..];
            let gzip = rest.starts_with(&[0x1f, 0x8b, 0x08]);
            if !gzip && !is_zlib_header(rest[0], rest[1]) {
                continue;
            }
            // What decodes, even from a stream cut short or corrupt further on: a secret in its first bytes counts.
            let (decoded, over) = inflate_prefix(rest, gzip);
            if decoded.is_empty() {
                continue;
            }
            *streams += 1;
            // What cannot be checked whole is not passed: the caller writes nothing.
            if over || *streams > MOST_STREAMS {
                return Some(Finding {
                    kind: "secret (not ruled out)",
                    encoding: if over {
                        "a compressed stream larger than the check decodes"
                    } else {
                        "more compressed streams than the check opens"
                    },
                });
            }
            if let Some(found) = self.find_in(&decoded, depth + 1, streams) {
                return Some(Finding {
                    kind: found.kind,
                    encoding: if found.encoding.starts_with("a compressed")
                        || found.encoding.starts_with("more")
                    {
                        found.encoding
                    } else {
                        "inside a compressed stream"
                    },
                });
            }
        }
        None
    }

    /// The first needle written literally in `view`.
    fn scan(&self, view: &[u8]) -> Option<Finding> {
        for at in 0..view.len().saturating_sub(SHORTEST - 1) {
            let prefix = [view[at], view[at + 1], view[at + 2], view[at + 3]];
            if let Some(list) = self.by_prefix.get(&prefix) {
                for (needle, kind, encoding) in list {
                    if view[at..].starts_with(needle) {
                        return Some(Finding { kind, encoding });
                    }
                }
            }
        }
        None
    }
}

/// `bytes` with every escape decoded once, left to right: `%XX` (either case), `\uXXXX` (ASCII), `\"`, `\\`,
/// `\/`; with `plus_is_space`, `+` as a space (a form).
fn decode_escapes(bytes: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if plus_is_space && bytes[at] == b'+' {
            out.push(b' ');
            at += 1;
            continue;
        }
        let (byte, used) = decoded_byte(&bytes[at..], false).unwrap_or((bytes[at], 1));
        out.push(byte);
        at += used;
    }
    out
}

/// The bytes a gzip or zlib stream at the start of `rest` decodes to (as far as it decodes), and whether it
/// decodes to more than [`LARGEST_DECODED`].
fn inflate_prefix(rest: &[u8], gzip: bool) -> (Vec<u8>, bool) {
    let limit = u64::try_from(LARGEST_DECODED).unwrap_or(u64::MAX) + 1;
    let mut out = Vec::new();
    // An error leaves what was read before it in `out`.
    let _ = if gzip {
        flate2::read::MultiGzDecoder::new(rest)
            .take(limit)
            .read_to_end(&mut out)
    } else {
        flate2::read::ZlibDecoder::new(rest)
            .take(limit)
            .read_to_end(&mut out)
    };
    let over = out.len() > LARGEST_DECODED;
    (out, over)
}

/// The zlib headers (RFC 1950) compressors write: a 32 KiB window, no dictionary, any of the four levels. (Any
/// header the check allows would make every tenth letter of a text a stream to try.)
fn is_zlib_header(cmf: u8, flg: u8) -> bool {
    cmf == 0x78 && matches!(flg, 0x01 | 0x5e | 0x9c | 0xda)
}

/// `bytes` with every occurrence of `needle` (in any encoding [`find`] reads without decoding a stream: raw,
/// percent-, form- or JSON-escaped) replaced by `with`, and how many were replaced.
pub fn replace(bytes: &[u8], needle: &str, with: &str) -> (Vec<u8>, usize) {
    let needle = needle.as_bytes();
    if needle.is_empty() {
        return (bytes.to_vec(), 0);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut count = 0;
    let mut at = 0;
    while at < bytes.len() {
        if let Some(end) = match_at(bytes, at, needle) {
            out.extend_from_slice(with.as_bytes());
            count += 1;
            at = end;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    (out, count)
}

/// Where `needle` ends if it is written at `at` in `bytes`, each of its bytes as itself or escaped.
fn match_at(bytes: &[u8], mut at: usize, needle: &[u8]) -> Option<usize> {
    for &wanted in needle {
        let current = *bytes.get(at)?;
        if current == wanted {
            at += 1;
            continue;
        }
        let (byte, used) = decoded_byte(&bytes[at..], true)?;
        if byte != wanted {
            // `+` is a space only in a form; literally it is itself (already compared).
            if !(current == b'+' && wanted == b' ') {
                return None;
            }
        }
        at += used;
    }
    Some(at)
}

/// The byte the text at the start of `rest` stands for, and how many bytes of text it takes: `%XX`, `%25XX` (when
/// `twice`),
/// `\uXXXX` (ASCII), `\"`, `\\`, `\/`, or the byte itself.
fn decoded_byte(rest: &[u8], twice: bool) -> Option<(u8, usize)> {
    let first = *rest.first()?;
    let hex = |at: usize, len: usize| -> Option<u32> {
        let digits = std::str::from_utf8(rest.get(at..at + len)?).ok()?;
        if digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            u32::from_str_radix(digits, 16).ok()
        } else {
            None
        }
    };
    match first {
        b'%' => {
            if let Some(value) = hex(1, 2) {
                if twice
                    && value == 0x25
                    && let Some(inner) = hex(3, 2)
                {
                    return Some((inner as u8, 5));
                }
                return Some((value as u8, 3));
            }
            Some((first, 1))
        }
        b'\\' => match rest.get(1) {
            Some(b'u') => match hex(2, 4) {
                Some(value) if value < 0x80 => Some((value as u8, 6)),
                _ => Some((first, 1)),
            },
            Some(&escaped @ (b'"' | b'\\' | b'/')) => Some((escaped, 2)),
            _ => Some((first, 1)),
        },
        _ => Some((first, 1)),
    }
}

/// The base64 text that `needle` becomes at each alignment inside a longer base64 text: only the characters that
/// depend on the needle's bytes alone, in the standard and the URL-safe alphabet.
fn base64_forms(needle: &[u8]) -> Vec<String> {
    use base64::Engine as _;
    let mut forms = Vec::new();
    for shift in 0..3usize {
        let mut padded = vec![0u8; shift];
        padded.extend_from_slice(needle);
        let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&padded);
        let start = (shift * 8).div_ceil(6);
        let end = (padded.len() * 8) / 6;
        if end <= start || end - start < SHORTEST {
            continue;
        }
        let middle = &encoded[start..end];
        forms.push(middle.to_owned());
        let url_safe = middle.replace('+', "-").replace('/', "_");
        if url_safe != middle {
            forms.push(url_safe);
        }
    }
    forms
}

/// The token of an `Authorization` value that uses the Bearer scheme, however spelled: any case of `Bearer`,
/// any run of spaces or tabs after it.
pub fn bearer_token(value: &str) -> Option<&str> {
    let value = value.trim_start_matches([' ', '\t']);
    let scheme = value.get(..6)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let rest = &value[6..];
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let token = rest.trim_matches([' ', '\t']);
    (!token.is_empty()).then_some(token)
}

/// A body in `coding` (`gzip`, `x-gzip`, `deflate` — zlib or raw — or `br`) decoded, at most `cap` bytes; an
/// error that says why otherwise (an unknown coding, a corrupt stream, more than `cap`).
pub fn decode_body(coding: &str, body: &[u8], cap: usize) -> Result<Vec<u8>, String> {
    let coding = coding.trim().to_ascii_lowercase();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::new();
    let read = match coding.as_str() {
        "gzip" | "x-gzip" => flate2::read::MultiGzDecoder::new(body)
            .take(limit)
            .read_to_end(&mut out),
        "deflate" => {
            let zlib = flate2::read::ZlibDecoder::new(body)
                .take(limit)
                .read_to_end(&mut out);
            if zlib.is_err() {
                out.clear();
                flate2::read::DeflateDecoder::new(body)
                    .take(limit)
                    .read_to_end(&mut out)
            } else {
                zlib
            }
        }
        "br" => brotli_decompressor::Decompressor::new(body, 4096)
            .take(limit)
            .read_to_end(&mut out),
        "identity" | "" => return Ok(body.to_vec()),
        other => {
            return Err(format!(
                "the content coding {other:?} is not one terminus decodes"
            ));
        }
    };
    read.map_err(|error| format!("the {coding} stream does not decode: {error}"))?;
    if out.len() > cap {
        return Err(format!(
            "the {coding} stream decodes to more than {cap} bytes"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use base64::Engine as _;

    use super::*;

    const SECRET: &str = "AKIDcanary/key+0001";

    fn known() -> Vec<Known> {
        vec![Known::new("secret id", SECRET)]
    }

    #[test]
    fn a_secret_is_found_in_every_textual_encoding() {
        let forms = [
            "x AKIDcanary/key+0001 y".to_owned(),
            "AKID%63anary%2Fkey%2B0001".to_owned(),
            "%41%4b%49%44canary%2fkey%2b0001".to_owned(),
            "AKID%2563anary%252Fkey%252B0001".to_owned(),
            r#"{"a":"AKIDcan\u0061ry\/key+0001"}"#.to_owned(),
            "q=AKIDcanary%2Fkey%2B0001&x".to_owned(),
        ];
        for form in forms {
            assert_eq!(
                find(form.as_bytes(), &known()).map(|found| found.kind),
                Some("secret id"),
                "{form}"
            );
        }
        assert_eq!(find(b"AKIDcanary/key 0001", &known()), None);
    }

    #[test]
    fn a_secret_is_found_in_base64_at_every_alignment_and_in_compressed_streams() {
        for prefix in ["", "a", "ab", "abc"] {
            let text = format!("{prefix}{SECRET}:rest");
            for encoded in [
                base64::engine::general_purpose::STANDARD.encode(&text),
                base64::engine::general_purpose::URL_SAFE.encode(&text),
            ] {
                let found = find(format!("Basic {encoded}").as_bytes(), &known());
                assert_eq!(found.map(|f| f.encoding), Some("base64"), "{encoded}");
            }
        }
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(format!("{{\"Key\":\"{SECRET}\"}}").as_bytes())
            .unwrap();
        let mut body = b"--part\r\n\r\n".to_vec();
        body.extend(gzip.finish().unwrap());
        assert_eq!(
            find(&body, &known()).map(|f| f.encoding),
            Some("inside a compressed stream")
        );
    }

    #[test]
    fn a_stream_cut_short_is_searched_as_far_as_it_decodes_and_decoys_do_not_hide_one() {
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(format!("{{\"Key\":\"{SECRET}\"}}").as_bytes())
            .unwrap();
        gzip.write_all(&vec![b'x'; 100_000]).unwrap();
        let stream = gzip.finish().unwrap();
        let cut = &stream[..stream.len() / 2];
        assert_eq!(find(cut, &known()).map(|f| f.kind), Some("secret id"));
        // Decoy streams first, then the real one: the check never passes what it did not open.
        let mut decoy = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        decoy.write_all(b"nothing here").unwrap();
        let decoy = decoy.finish().unwrap();
        let mut body = Vec::new();
        for _ in 0..100 {
            body.extend_from_slice(&decoy);
        }
        body.extend_from_slice(&stream);
        assert!(find(&body, &known()).is_some());
    }

    #[test]
    fn replace_keeps_the_text_around_each_occurrence() {
        let (out, count) = replace(
            b"a=AKID%63anary%2Fkey%2B0001&b=AKIDcanary/key+0001",
            SECRET,
            "[X]",
        );
        assert_eq!(
            (String::from_utf8(out).unwrap().as_str(), count),
            ("a=[X]&b=[X]", 2)
        );
    }

    #[test]
    fn bearer_is_recognised_in_any_spelling() {
        assert_eq!(bearer_token("Bearer tok"), Some("tok"));
        assert_eq!(bearer_token("bearer\ttok "), Some("tok"));
        assert_eq!(bearer_token("BEARER  tok"), Some("tok"));
        assert_eq!(bearer_token("Bearertok"), None);
        assert_eq!(bearer_token("TC3-HMAC-SHA256 Credential=x"), None);
    }

    #[test]
    fn bodies_decode_under_a_cap() {
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(&[b'a'; 1000]).unwrap();
        let body = gzip.finish().unwrap();
        assert_eq!(decode_body("gzip", &body, 1000).unwrap().len(), 1000);
        assert!(
            decode_body("gzip", &body, 999)
                .unwrap_err()
                .contains("more than 999")
        );
        assert!(decode_body("gzip", b"not gzip", 1000).is_err());
        assert!(decode_body("zstd", b"", 1000).unwrap_err().contains("zstd"));
    }
}

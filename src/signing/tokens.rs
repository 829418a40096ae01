//! The one recogniser of session and bearer tokens in what a client sent, so that the request log line, the
//! request journal (target, headers, body, diagnosis) and error messages never show one.
//!
//! A [`super::Secret`] guards the tokens terminus holds; these functions find the ones a *request* carries, whose
//! values terminus may not know (a token for an account the world lacks, a mistyped one). They recognise a token by
//! where it is, after decoding, in every spelling a gateway accepts:
//!
//! - a parameter whose name is `Token` once percent-decoded, in any letter case (`Token=`, `token=`, `%54oken=`,
//!   `Tok%65n=`), in a target, a form body or a string to sign (the `Signature` form signs the parameters);
//! - an `X-TC-Token` header in any case, and its line in a canonical request (`x-tc-token:…`);
//! - `Authorization: Bearer <token>` with any case and any spaces or tabs after the scheme.
//!
//! The value becomes [`TOKEN`], the snapshot convention. Everything here is linear in the text's length.
//! The public API: [`TOKEN`], [`header_value`], [`is_token_parameter`], [`parameters`] and [`text`].

use std::borrow::Cow;

/// What stands for a token.
pub const TOKEN: &str = "[TOKEN]";

/// The longest raw name that can decode to `token`: every letter percent-encoded.
const LONGEST_ENCODED_NAME: usize = 3 * "token".len();

/// A header's value as it may be shown: an `X-TC-Token` is [`TOKEN`], a Bearer authorization `Bearer [TOKEN]`.
pub fn header_value<'a>(name: &str, value: &'a str) -> Cow<'a, str> {
    if name.trim().eq_ignore_ascii_case("x-tc-token") {
        Cow::Borrowed(TOKEN)
    } else if name.trim().eq_ignore_ascii_case("authorization") && is_bearer(value) {
        Cow::Owned(format!("Bearer {TOKEN}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// `Bearer` (any case) as the whole value or followed by spaces or tabs.
fn is_bearer(value: &str) -> bool {
    let value = value.trim_start_matches([' ', '\t']).as_bytes();
    value.len() >= 6
        && value[..6].eq_ignore_ascii_case(b"bearer")
        && value
            .get(6)
            .is_none_or(|&next| next == b' ' || next == b'\t')
}

/// Whether a parameter name as sent (percent-encoded or not) is `Token` once decoded, in any case.
pub fn is_token_parameter(raw_name: &str) -> bool {
    if raw_name.len() > LONGEST_ENCODED_NAME {
        return false;
    }
    let raw = raw_name.as_bytes();
    let mut decoded = Vec::with_capacity(raw.len());
    let mut at = 0;
    while at < raw.len() {
        let escaped = (raw[at] == b'%')
            .then(|| raw.get(at + 1..at + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                at += 3;
            }
            None => {
                decoded.push(raw[at]);
                at += 1;
            }
        }
    }
    decoded.eq_ignore_ascii_case(b"token")
}

/// Bytes that end a parameter's name or value in the texts redacted here: the separators of a query or form, a
/// target's `?`, and what surrounds a parameter quoted in prose or JSON.
fn ends_parameter(byte: u8) -> bool {
    matches!(
        byte,
        b'&' | b'?' | b'"' | b'\'' | b'`' | b' ' | b'\t' | b'\r' | b'\n' | b','
    )
}

/// A target, query, form body or string to sign with the value of every token parameter replaced by [`TOKEN`].
pub fn parameters(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut name_start = 0;
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if ends_parameter(byte) {
            name_start = at + 1;
        } else if byte == b'=' {
            let value_start = at + 1;
            let value_end = bytes[value_start..]
                .iter()
                .position(|&byte| ends_parameter(byte))
                .map_or(bytes.len(), |length| value_start + length);
            if is_token_parameter(&text[name_start..at]) && value_end > value_start {
                let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
                out.push_str(&text[copied..value_start]);
                out.push_str(TOKEN);
                copied = value_end;
            }
            at = value_end;
            name_start = value_end;
            continue;
        }
        at += 1;
    }
    match out {
        Some(mut out) => {
            out.push_str(&text[copied..]);
            Cow::Owned(out)
        }
        None => Cow::Borrowed(text),
    }
}

/// Free text built from a request (a canonical request, a string to sign, a diagnosis, an error): token
/// parameters, `x-tc-token:` lines and Bearer authorizations replaced by [`TOKEN`].
pub fn text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push('\n');
        }
        let lower = line.to_ascii_lowercase();
        if let Some(at) = lower.find("x-tc-token:") {
            out.push_str(&line[..at + "x-tc-token:".len()]);
            out.push_str(TOKEN);
        } else if let Some(at) = lower.find("authorization:")
            && is_bearer(&line[at + "authorization:".len()..])
        {
            out.push_str(&line[..at + "authorization:".len()]);
            out.push_str(" Bearer ");
            out.push_str(TOKEN);
        } else {
            out.push_str(&parameters(line));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_parameter_is_recognised_in_every_spelling_and_nothing_else_is() {
        for (given, shown) in [
            ("/?Action=X&Token=abc&B=1", "/?Action=X&Token=[TOKEN]&B=1"),
            ("/?Token=abc", "/?Token=[TOKEN]"),
            ("Token=abc", "Token=[TOKEN]"),
            ("a=1&%54oken=abc", "a=1&%54oken=[TOKEN]"),
            ("a=1&Tok%65n=abc", "a=1&Tok%65n=[TOKEN]"),
            ("a=1&%74%6F%6B%65%6E=abc", "a=1&%74%6F%6B%65%6E=[TOKEN]"),
            ("a=1&token=abc", "a=1&token=[TOKEN]"),
            (
                "GETcvm.host/?A=1&Token=abc&Z=2",
                "GETcvm.host/?A=1&Token=[TOKEN]&Z=2",
            ),
            ("quoted \"Token=abc\" here", "quoted \"Token=[TOKEN]\" here"),
            ("a=Token=abc", "a=Token=abc"),
            ("XToken=abc&SessionToken=d", "XToken=abc&SessionToken=d"),
            ("Token%3Dabc=x", "Token%3Dabc=x"),
            ("Token=", "Token="),
        ] {
            assert_eq!(parameters(given), shown, "{given}");
        }
    }

    #[test]
    fn token_headers_are_recognised_in_any_case_and_spacing() {
        assert_eq!(header_value("x-Tc-TOKEN", "abc"), TOKEN);
        for value in ["Bearer abc", "bearer\tabc", "  BEARER   abc", "Bearer"] {
            assert_eq!(
                header_value("Authorization", value),
                "Bearer [TOKEN]",
                "{value:?}"
            );
        }
        for value in ["TC3-HMAC-SHA256 Credential=x", "Bearerabc"] {
            assert_eq!(header_value("authorization", value), value);
        }
        assert_eq!(header_value("X-TC-Action", "abc"), "abc");
    }

    #[test]
    fn free_text_loses_token_lines_and_parameters() {
        let canonical = "POST\n/\n\ncontent-type:application/json\nhost:h\nx-tc-token:abc\n\nx";
        assert!(!text(canonical).contains("abc"), "{}", text(canonical));
        assert_eq!(
            text("authorization:Bearer\tabc"),
            "authorization: Bearer [TOKEN]"
        );
        assert_eq!(text("A=1&Token=abc"), "A=1&Token=[TOKEN]");
    }
}

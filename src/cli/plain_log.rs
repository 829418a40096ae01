//! The text form of `terminus serve`'s request lines (target `terminus::request`), written in one pass.
//!
//! Byte for byte what `tracing_subscriber::fmt()` writes by default without colours (a test below compares the
//! two on text and numbers of every kind), but at one line per request `perf` showed the default's way of getting
//! there costing more than the provider's own work: the timestamp formatted field by field, every field through
//! `Debug` and an escaping writer, each piece through a style wrapper even with colours off. Here the timestamp's
//! seconds are formatted once a second, and text that needs no escaping is written as it is. Every other line,
//! and every line in colour (a terminal) or inside a span, is the default formatter's own.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{DefaultFields, Format, Full, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime as DefaultClock};
use tracing_subscriber::fmt::{FmtContext, FormatEvent};
use tracing_subscriber::registry::LookupSpan;

/// The event formatter of `--log-format text`.
#[derive(Debug, Default)]
pub(super) struct PlainLog {
    default: Format<Full, DefaultClock>,
}

impl<S> FormatEvent<S, DefaultFields> for PlainLog
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, DefaultFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        if writer.has_ansi_escapes()
            || meta.target() != "terminus::request"
            || ctx.event_scope().is_some()
        {
            return self.default.format_event(ctx, writer, event);
        }
        write_timestamp(&mut writer, SystemTime::now())?;
        writer.write_char(' ')?;
        writer.write_str(level_name(*meta.level()))?;
        writer.write_char(' ')?;
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        let mut fields = Fields {
            writer: &mut writer,
            first: true,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_char('\n')
    }
}

/// The level as the default formatter writes it: five columns, right-aligned.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => " INFO",
        Level::WARN => " WARN",
        Level::ERROR => "ERROR",
    }
}

thread_local! {
    /// The last second formatted on this thread (`2026-11-27T14:54:45`), with its Unix time.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// `2026-11-27T14:54:45.283819Z`: RFC 3339 in UTC with microseconds, as [`DefaultClock`] writes it.
fn write_timestamp(writer: &mut impl fmt::Write, now: SystemTime) -> fmt::Result {
    let Ok(since_epoch) = now.duration_since(UNIX_EPOCH) else {
        return DefaultClock.format_time(&mut Writer::new(writer));
    };
    let seconds = since_epoch.as_secs();
    SECOND.with_borrow_mut(|(cached, text)| {
        if *cached != seconds {
            const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
                time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
            let formatted = i64::try_from(seconds)
                .ok()
                .and_then(|seconds| time::OffsetDateTime::from_unix_timestamp(seconds).ok())
                .and_then(|at| at.format(FORMAT).ok());
            let Some(formatted) = formatted else {
                return DefaultClock.format_time(&mut Writer::new(writer));
            };
            *text = formatted;
            *cached = seconds;
        }
        writer.write_str(text)?;
        write!(writer, ".{:06}Z", since_epoch.subsec_micros())
    })
}

/// Writes an event's fields as the default `DefaultFields` does: the message first as it is (ANSI escapes
/// escaped), then `name=value` with each value as `Debug` shows it, separated by spaces.
struct Fields<'w, 'a> {
    writer: &'w mut Writer<'a>,
    first: bool,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    fn separate(&mut self) -> fmt::Result {
        if self.first {
            self.first = false;
            Ok(())
        } else {
            self.writer.write_char(' ')
        }
    }

    fn message(&mut self, text: &str) -> fmt::Result {
        if text.chars().any(escaped_in_messages) {
            text.chars().try_for_each(|ch| match ch {
                '\x1b' | '\x07' | '\x08' | '\x0c' | '\x7f' => {
                    write!(self.writer, "\\x{:02x}", ch as u32)
                }
                ch if escaped_in_messages(ch) => write!(self.writer, "\\u{{{:x}}}", ch as u32),
                ch => self.writer.write_char(ch),
            })
        } else {
            self.writer.write_str(text)
        }
    }
}

/// The characters the default formatter escapes in a message: ESC, BEL, BS, FF, DEL and the C1 controls.
fn escaped_in_messages(ch: char) -> bool {
    matches!(
        ch,
        '\x1b' | '\x07' | '\x08' | '\x0c' | '\x7f' | '\u{80}'..='\u{9f}'
    )
}

/// Text whose `Debug` form is itself in quotes: printable ASCII without `"` or `\`.
fn quotes_plainly(text: &str) -> bool {
    text.bytes()
        .all(|byte| (b' '..=b'~').contains(&byte) && byte != b'"' && byte != b'\\')
}

/// The most capacity the message buffer keeps between lines.
const MESSAGE_KEPT: usize = 4096;

thread_local! {
    /// A message's text, formatted here first to see whether it needs escaping.
    static MESSAGE: RefCell<String> = const { RefCell::new(String::new()) };
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        self.result = self.separate().and_then(|()| {
            if field.name() == "message" {
                self.message(value)
            } else if quotes_plainly(value) {
                self.writer.write_str(field.name())?;
                self.writer.write_str("=\"")?;
                self.writer.write_str(value)?;
                self.writer.write_char('"')
            } else {
                write!(self.writer, "{}={value:?}", field.name())
            }
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.result.is_err() {
            return;
        }
        self.result = self.separate().and_then(|()| {
            self.writer.write_str(field.name())?;
            self.writer.write_char('=')?;
            write!(self.writer, "{value}")
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        self.result = self.separate().and_then(|()| {
            if field.name() == "message" {
                MESSAGE.with_borrow_mut(|text| {
                    text.clear();
                    write!(text, "{value:?}")?;
                    let written = self.message(text);
                    if text.capacity() > MESSAGE_KEPT {
                        *text = String::new();
                    }
                    written
                })
            } else if let Some(name) = field.name().strip_prefix("r#") {
                write!(self.writer, "{name}={value:?}")
            } else {
                write!(self.writer, "{}={value:?}", field.name())
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Lines written by a subscriber, shared with the test.
    #[derive(Clone, Default)]
    struct Written(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Written {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Written {
        type Writer = Written;
        fn make_writer(&'a self) -> Written {
            self.clone()
        }
    }

    /// Every kind of line the server writes, and text that needs quoting or escaping.
    fn events() {
        let plain = "TerminateInstances";
        let quoted = "say \"hi\" \\ back";
        let unicode = "Grüße, 世界, \u{200b}zero width, tab\there";
        let control = "bell\x07 esc\x1b[31m red \u{85} next line\nnew line \x7f";
        tracing::info!(
            target: "terminus::request",
            provider = "tencent",
            action = plain,
            secret_id = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            verdict = "error",
            status = 200_u16,
            code = "UnsupportedOperation.InstanceStateTerminated",
            latency_us = 17_u64,
            "{} {} {} {}",
            "POST",
            "/?a=1",
            200,
            "UnsupportedOperation.InstanceStateTerminated"
        );
        tracing::warn!(
            target: "terminus::request",
            action = quoted,
            secret_id = unicode,
            code = control,
            mistake = "-",
            diagnosis = %"signed over \"host\" with a port",
            negative = -3_i64,
            flag = true,
            ratio = 0.5_f64,
            "{}",
            control
        );
        tracing::error!(target: "terminus::request", "{}", unicode);
        tracing::debug!(target: "terminus::request", r#type = "raw name", "a raw name");
        tracing::trace!(target: "terminus::request", "");
        tracing::info!(target: "terminus::mock", "another target: {}", control);
        tracing::info!(target: "terminus::request", empty = "", "{}", quoted);
    }

    /// The lines `events` writes through `format`, with every timestamp replaced by `T`.
    fn lines_through<E>(format: E) -> String
    where
        E: for<'w> FormatEvent<tracing_subscriber::Registry, DefaultFields> + Send + Sync + 'static,
    {
        let written = Written::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(Level::TRACE)
            .with_ansi(false)
            .with_writer(written.clone())
            .event_format(format)
            .finish();
        tracing::subscriber::with_default(subscriber, events);
        let text = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
        // A message's new line starts a line without a timestamp.
        text.lines()
            .map(|line| match line.split_once(' ') {
                Some((time, rest))
                    if time.len() == 27 && time.ends_with('Z') && time.as_bytes()[19] == b'.' =>
                {
                    format!("T {rest}\n")
                }
                _ => format!("{line}\n"),
            })
            .collect()
    }

    #[test]
    fn lines_are_byte_for_byte_the_default_formatters() {
        let ours = lines_through(PlainLog::default());
        let theirs = lines_through(tracing_subscriber::fmt::format());
        assert_eq!(ours, theirs);
        assert_eq!(
            ours.lines().filter(|line| line.starts_with("T ")).count(),
            7,
            "{ours}"
        );
    }

    #[test]
    fn the_timestamp_is_the_default_clocks_form() {
        // A time, five microseconds later (from the cache), and a second earlier; the expected seconds are
        // `date -u -d @1795013685 +%Y-%m-%dT%H:%M:%S` and `@1795013684`.
        let at = UNIX_EPOCH + std::time::Duration::new(1_795_013_685, 283_819_999);
        let mut first = String::new();
        write_timestamp(&mut first, at).unwrap();
        let mut again = String::new();
        write_timestamp(&mut again, at + std::time::Duration::from_micros(5)).unwrap();
        let mut earlier = String::new();
        write_timestamp(&mut earlier, at - std::time::Duration::from_secs(1)).unwrap();
        assert_eq!(first, "2026-11-18T14:54:45.283819Z");
        assert_eq!(again, "2026-11-18T14:54:45.283824Z");
        assert_eq!(earlier, "2026-11-18T14:54:44.283819Z");
    }
}

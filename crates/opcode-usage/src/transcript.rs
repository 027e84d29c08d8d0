//! What one transcript line says about usage, read without building a JSON tree of the line.
//!
//! Most of a transcript's bytes are lines that carry no usage (prompts, tool results, attachments,
//! API request shapes): a substring check skips them before any parsing. An assistant line is read into
//! a typed view of the few fields that matter; its content blocks are skipped by the parser.

use std::borrow::Cow;

use memchr::memmem::Finder;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// What a line holds, for the index.
#[derive(Debug, PartialEq)]
pub(crate) enum Seen {
    /// An assistant message with usage.
    Message(Message),
    /// The CLI's running total of the session's cost.
    CliCost(f64),
    /// Nothing that counts.
    Nothing,
}

/// One assistant message's usage.
#[derive(Debug, PartialEq)]
pub(crate) struct Message {
    pub(crate) message_id: Option<String>,
    pub(crate) request_id: Option<String>,
    pub(crate) uuid: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) model: String,
    pub(crate) ts_ms: i64,
    pub(crate) day: String,
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
    pub(crate) cache_creation_tokens: u64,
    pub(crate) cache_read_tokens: u64,
    /// The cost the line itself states (older CLIs wrote `costUSD`).
    pub(crate) cost_usd: Option<f64>,
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(rename = "sessionId", borrow)]
    session_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    uuid: Option<Cow<'a, str>>,
    #[serde(rename = "requestId", borrow)]
    request_id: Option<Cow<'a, str>>,
    #[serde(rename = "requestRef", borrow)]
    request_ref: Option<Cow<'a, str>>,
    #[serde(rename = "costUSD")]
    cost_usd: Option<f64>,
    #[serde(rename = "totalCostUSD")]
    total_cost_usd: Option<f64>,
    #[serde(borrow)]
    message: Option<ApiMessage<'a>>,
}

#[derive(Deserialize)]
struct ApiMessage<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Usage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct Cwd<'a> {
    #[serde(borrow)]
    cwd: Option<Cow<'a, str>>,
}

/// Reads lines; holds the substring finders so they are built once.
#[derive(Debug)]
pub(crate) struct LineReader {
    usage: Finder<'static>,
    cost: Finder<'static>,
    cwd: Finder<'static>,
}

impl LineReader {
    pub(crate) fn new() -> Self {
        LineReader {
            usage: Finder::new(b"\"usage\""),
            cost: Finder::new(b"\"totalCostUSD\""),
            cwd: Finder::new(b"\"cwd\""),
        }
    }

    /// The project directory a line names (`cwd`), if it names one.
    pub(crate) fn cwd(&self, line: &[u8]) -> Option<String> {
        self.cwd.find(line)?;
        serde_json::from_slice::<Cwd<'_>>(line).ok()?.cwd.map(Cow::into_owned)
    }

    /// What `line` (without its newline) says. A line that is not JSON, or not one this reads, is
    /// [`Seen::Nothing`].
    pub(crate) fn read(&self, line: &[u8]) -> Seen {
        let has_usage = self.usage.find(line).is_some();
        if !has_usage && self.cost.find(line).is_none() {
            return Seen::Nothing;
        }
        let Ok(parsed) = serde_json::from_slice::<Line<'_>>(line) else { return Seen::Nothing };
        match parsed.kind.as_deref() {
            Some("cost-state") => parsed.total_cost_usd.map_or(Seen::Nothing, Seen::CliCost),
            Some("assistant") if has_usage => message(parsed).map_or(Seen::Nothing, Seen::Message),
            _ => Seen::Nothing,
        }
    }
}

fn message(line: Line<'_>) -> Option<Message> {
    let api = line.message?;
    let usage = api.usage?;
    let (input, output) = (usage.input_tokens.unwrap_or(0), usage.output_tokens.unwrap_or(0));
    let (cache_creation, cache_read) =
        (usage.cache_creation_input_tokens.unwrap_or(0), usage.cache_read_input_tokens.unwrap_or(0));
    if input == 0 && output == 0 && cache_creation == 0 && cache_read == 0 {
        return None; // synthetic messages (API errors, interruptions) cost nothing
    }
    let when = OffsetDateTime::parse(line.timestamp.as_deref()?, &Rfc3339).ok()?.to_offset(time::UtcOffset::UTC);
    let day = when.date();
    Some(Message {
        message_id: api.id.map(Cow::into_owned),
        request_id: line.request_id.or(line.request_ref).map(Cow::into_owned),
        uuid: line.uuid.map(Cow::into_owned),
        session_id: line.session_id.map(Cow::into_owned),
        model: api.model.map_or_else(|| "unknown".to_owned(), Cow::into_owned),
        ts_ms: (when.unix_timestamp_nanos() / 1_000_000) as i64,
        day: format!("{:04}-{:02}-{:02}", day.year(), day.month() as u8, day.day()),
        input_tokens: input,
        output_tokens: output,
        cache_creation_tokens: cache_creation,
        cache_read_tokens: cache_read,
        cost_usd: line.cost_usd,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assistant_line_of_the_genuine_cli_is_read_and_other_lines_are_skipped() {
        let reader = LineReader::new();
        let line = br#"{"parentUuid":"p","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-opus-5-5","content":[{"type":"text","text":"has \"usage\" in it"}],"usage":{"input_tokens":10,"cache_creation_input_tokens":2,"cache_read_input_tokens":3,"output_tokens":6,"server_tool_use":{"web_search_requests":0}}},"requestRef":"r1","type":"assistant","uuid":"u1","timestamp":"2026-11-28T23:32:40.949Z","sessionId":"s1"}"#;
        let Seen::Message(m) = reader.read(line) else { panic!("not read") };
        assert_eq!((m.message_id.as_deref(), m.request_id.as_deref()), (Some("msg_1"), Some("r1")));
        assert_eq!((m.input_tokens, m.output_tokens, m.cache_creation_tokens, m.cache_read_tokens), (10, 6, 2, 3));
        assert_eq!((m.day.as_str(), m.ts_ms), ("2026-11-28", 1_795_908_760_949));
        assert_eq!(reader.read(br#"{"type":"cost-state","totalCostUSD":0.5}"#), Seen::CliCost(0.5));
        assert_eq!(reader.read(br#"{"type":"user","message":{"content":"\"usage\""}}"#), Seen::Nothing);
        assert_eq!(reader.read(br#"{"type":"assistant","message":{"usage":{"input_tokens":0}}}"#), Seen::Nothing);
        assert_eq!(reader.read(b"not json \"usage\""), Seen::Nothing);
        assert_eq!(reader.cwd(br#"{"cwd":"/home/dev/p","x":1}"#).as_deref(), Some("/home/dev/p"));
    }

    #[test]
    fn a_timestamp_with_an_offset_counts_on_its_utc_day() {
        let line = br#"{"type":"assistant","timestamp":"2026-01-01T23:30:00-02:00","message":{"id":"m","model":"x","usage":{"input_tokens":1}}}"#;
        let Seen::Message(m) = LineReader::new().read(line) else { panic!("not read") };
        assert_eq!(m.day, "2026-01-02");
    }
}

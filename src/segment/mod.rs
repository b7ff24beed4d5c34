//! Segment messages: typed, lenient parsing of one message (`identify`, `track`, `page`, `group`,
//! `screen`, `alias`, or any other `type`).
//!
//! This module only reads; it never decides what a message means for User.com (that is
//! [`crate::mapping`]). How messages arrive together (batch envelopes, files, the per-message
//! limits) is [`batch`].
//!
//! # Leniency rules
//!
//! Real clients disagree on details (see `../shared/captures/`): analytics-python sends `null` for
//! absent fields, analytics-node omits them and adds `_metadata`, some senders use numeric ids.
//! So [`parse`]:
//!
//! - treats `null` and a missing key the same way, for every field;
//! - accepts ids (`userId`, `anonymousId`, `messageId`, `groupId`, `previousId`) as strings or
//!   numbers (numbers are stringified with serde_json's formatting: `42` → `"42"`); an empty or
//!   whitespace-only id counts as absent (it cannot name anything in User.com);
//! - accepts timestamps in RFC 3339 with `Z` or an offset and any number of fractional digits
//!   (0–9, more are truncated by chrono), plus three near misses seen in the wild: an offset
//!   without a colon (`+0000`, `+00`), no offset at all (read as UTC), and a bare date (midnight
//!   UTC). The original string is kept next to the parsed instant. A number is unix seconds, or
//!   milliseconds above 10^11 ([`Timestamp::from_number`]);
//! - accepts `version` as a number (`2`) or a string (`"1.1"`);
//! - tolerates unknown keys (they stay reachable through [`Message::raw`]) and keeps `context`
//!   open-ended ([`Context`] reads the keys the mapping needs; everything else is still there);
//! - matches `type` case-insensitively (`"Identify"` is an identify); an unknown `type` string
//!   parses fine as [`Kind::Other`] (the mapping skips it).
//!
//! What is an error ([`ParseError`], always naming the field): a message that is not an object, a
//! missing or non-string `type`, a known field with the wrong JSON type (an id that is an object,
//! `traits` that is a list, `event` that is a number, ...), and a timestamp that cannot be read.
//! We reject rather than guess on those because a silently dropped field would be data loss the
//! sender never hears about, while a rejected message lands in the dead-letter file with the reason.
//!
//! # Allocation
//!
//! [`Message`] borrows from the JSON value it was parsed from: maps, strings and timestamps are
//! references, and only numeric ids are turned into owned strings. Parsing therefore costs a
//! handful of lookups and the timestamp parse, which keeps the mapping path cheap.

pub mod batch;

use std::borrow::Cow;
use std::fmt;
use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Map, Number, Value};

/// An empty JSON object, lent out for absent `traits`, `properties`, `context`, `integrations`.
static EMPTY: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);

/// The Segment call type of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind<'a> {
    Identify,
    Track,
    Page,
    Screen,
    Group,
    Alias,
    /// Any other `type` string, as sent (the mapping skips these).
    Other(&'a str),
}

impl<'a> Kind<'a> {
    /// Reads a `type` string; known types match case-insensitively.
    pub fn from_type(s: &'a str) -> Self {
        const KNOWN: [(&str, Kind<'static>); 6] = [
            ("identify", Kind::Identify),
            ("track", Kind::Track),
            ("page", Kind::Page),
            ("screen", Kind::Screen),
            ("group", Kind::Group),
            ("alias", Kind::Alias),
        ];
        KNOWN
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map_or(Kind::Other(s), |&(_, k)| k)
    }

    /// The canonical lower-case name (`"identify"`, ...), or the original string for `Other`.
    pub fn as_str(&self) -> &'a str {
        match self {
            Kind::Identify => "identify",
            Kind::Track => "track",
            Kind::Page => "page",
            Kind::Screen => "screen",
            Kind::Group => "group",
            Kind::Alias => "alias",
            Kind::Other(s) => s,
        }
    }
}

impl fmt::Display for Kind<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed timestamp: the string as sent, and the instant it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp<'a> {
    /// The original string, untouched.
    pub raw: &'a str,
    /// The instant, in UTC.
    pub utc: DateTime<Utc>,
    /// The offset the sender wrote (`+00:00` for `Z`, for no offset and for a bare date).
    pub offset: FixedOffset,
    /// Whether `raw` already is strict RFC 3339 (upper-case `T` separator, `Z` or `±hh:mm`).
    strict: bool,
}

impl<'a> Timestamp<'a> {
    /// Parses one of the accepted forms (see the module docs); `None` when it is none of them.
    pub fn parse(raw: &'a str) -> Option<Self> {
        let (dt, strict) = parse_datetime(raw)?;
        Some(Timestamp {
            raw,
            utc: dt.with_timezone(&Utc),
            offset: *dt.offset(),
            strict,
        })
    }

    /// The timestamp as RFC 3339: the original string when it already is, otherwise re-written
    /// with the sender's offset (`Z` for UTC) and only as many fractional digits as needed.
    pub fn rfc3339(&self) -> Cow<'a, str> {
        if self.strict {
            Cow::Borrowed(self.raw)
        } else {
            Cow::Owned(
                self.utc
                    .with_timezone(&self.offset)
                    .to_rfc3339_opts(SecondsFormat::AutoSi, true),
            )
        }
    }

    /// Unix seconds, rounded down (`…:44.757` → `…:44`, also before 1970).
    pub fn unix_seconds(&self) -> i64 {
        self.utc.timestamp()
    }

    /// A timestamp for an instant we computed (no string was sent for it): shown in UTC.
    pub fn at(utc: DateTime<Utc>) -> Timestamp<'static> {
        Timestamp {
            raw: "",
            utc,
            offset: FixedOffset::east_opt(0).expect("UTC is a valid offset"),
            strict: false,
        }
    }

    /// A numeric timestamp: unix seconds, or milliseconds when its magnitude says so.
    ///
    /// Why a guard and not one unit: Segment's spec says ISO-8601, but senders that pass a number
    /// pass `Date.now()` (milliseconds) as often as unix seconds. Read as seconds, milliseconds
    /// land around the year 55,000; read as milliseconds, seconds land in January 1970. A value
    /// above 10^11 (the year 5138 in seconds, March 1973 in milliseconds) is taken as
    /// milliseconds, anything else as seconds; fractions are kept.
    pub fn from_number(n: f64) -> Option<Timestamp<'static>> {
        if !n.is_finite() {
            return None;
        }
        let millis = if n.abs() > 1e11 { n } else { n * 1000.0 };
        if millis.abs() > 8.0e15 {
            return None;
        }
        let utc = DateTime::<Utc>::from_timestamp_millis(millis.floor() as i64)?;
        Some(Timestamp::at(utc))
    }
}

fn parse_datetime(s: &str) -> Option<(DateTime<FixedOffset>, bool)> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        // chrono also accepts a space or a lower-case `t`/`z`; those get re-written.
        let strict = s.as_bytes().get(10) == Some(&b'T') && !s.ends_with('z');
        return Some((dt, strict));
    }
    // `%#z` accepts `+hhmm`, `+hh:mm` and `+hh`.
    if let Ok(dt) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%#z") {
        return Some((dt, false));
    }
    let utc = FixedOffset::east_opt(0)?;
    if let Ok(naive) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some((naive.and_utc().with_timezone(&utc), false));
    }
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some((
            date.and_hms_opt(0, 0, 0)?.and_utc().with_timezone(&utc),
            false,
        ));
    }
    None
}

/// The Tracking API `version`: documented as a number, shown as a string in Segment's examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version<'a> {
    Number(&'a Number),
    Text(&'a str),
}

/// The message's `context`, kept open-ended: [`Context::map`] holds every key as sent, and the
/// accessors read the ones the mapping uses. Accessors are forgiving: a key of the wrong JSON
/// type reads as absent (context is informational; a bad `context.ip` must not sink a message).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Context<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Context<'a> {
    /// Every context key as sent (empty when the message has no context).
    pub fn map(&self) -> &'a Map<String, Value> {
        self.map
    }

    /// Any context key.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    /// A top-level string key; empty strings read as absent.
    pub fn str(&self, key: &str) -> Option<&'a str> {
        non_empty_str(self.map.get(key))
    }

    /// A string inside a nested object (`context.page.url` is `nested_str("page", "url")`).
    pub fn nested_str(&self, object: &str, key: &str) -> Option<&'a str> {
        non_empty_str(self.map.get(object)?.as_object()?.get(key))
    }

    /// `context.userAgent`.
    pub fn user_agent(&self) -> Option<&'a str> {
        self.str("userAgent")
    }

    /// `context.ip`.
    pub fn ip(&self) -> Option<&'a str> {
        self.str("ip")
    }

    /// `context.locale`.
    pub fn locale(&self) -> Option<&'a str> {
        self.str("locale")
    }

    /// `context.timezone`.
    pub fn timezone(&self) -> Option<&'a str> {
        self.str("timezone")
    }

    /// `context.os.name`.
    pub fn os_name(&self) -> Option<&'a str> {
        self.nested_str("os", "name")
    }

    /// `context.device.name`, else `context.device.model`.
    pub fn device_name(&self) -> Option<&'a str> {
        self.nested_str("device", "name")
            .or_else(|| self.nested_str("device", "model"))
    }

    /// `context.device.type`.
    pub fn device_type(&self) -> Option<&'a str> {
        self.nested_str("device", "type")
    }

    /// `context.page.url`.
    pub fn page_url(&self) -> Option<&'a str> {
        self.nested_str("page", "url")
    }

    /// `context.page.path`.
    pub fn page_path(&self) -> Option<&'a str> {
        self.nested_str("page", "path")
    }

    /// `context.page.referrer`.
    pub fn page_referrer(&self) -> Option<&'a str> {
        self.nested_str("page", "referrer")
    }

    /// `context.page.search`.
    pub fn page_search(&self) -> Option<&'a str> {
        self.nested_str("page", "search")
    }

    /// `context.page.title`.
    pub fn page_title(&self) -> Option<&'a str> {
        self.nested_str("page", "title")
    }

    /// `context.screen.{width,height}` as non-negative whole numbers (`1920.0` counts as 1920).
    pub fn screen_size(&self) -> Option<(u64, u64)> {
        let screen = self.map.get("screen")?.as_object()?;
        Some((
            whole_number(screen.get("width")?)?,
            whole_number(screen.get("height")?)?,
        ))
    }
}

/// The context values an identify maps, read in one pass (see [`Context::fields`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContextFields<'a> {
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub locale: Option<&'a str>,
    pub timezone: Option<&'a str>,
    pub os_name: Option<&'a str>,
    pub device_name: Option<&'a str>,
    pub device_type: Option<&'a str>,
    pub page_url: Option<&'a str>,
    pub screen_size: Option<(u64, u64)>,
}

impl<'a> Context<'a> {
    /// Everything [`ContextFields`] holds, with the same rules as the single accessors
    /// ([`Context::user_agent`], [`Context::device_name`], ...) but one walk over the context.
    pub fn fields(&self) -> ContextFields<'a> {
        let [user_agent, ip, locale, timezone, os, device, screen, page] = scan(
            self.map,
            &[
                "userAgent",
                "ip",
                "locale",
                "timezone",
                "os",
                "device",
                "screen",
                "page",
            ],
        );
        let sub = |v: Option<&'a Value>| v.and_then(Value::as_object);
        let [device_name, device_model, device_type] = sub(device)
            .map(|d| scan(d, &["name", "model", "type"]))
            .unwrap_or_default();
        ContextFields {
            user_agent: non_empty_str(user_agent),
            ip: non_empty_str(ip),
            locale: non_empty_str(locale),
            timezone: non_empty_str(timezone),
            os_name: sub(os).and_then(|o| non_empty_str(o.get("name"))),
            device_name: non_empty_str(device_name).or(non_empty_str(device_model)),
            device_type: non_empty_str(device_type),
            page_url: sub(page).and_then(|p| non_empty_str(p.get("url"))),
            screen_size: sub(screen).and_then(|s| {
                let [w, h] = scan(s, &["width", "height"]);
                Some((whole_number(w?)?, whole_number(h?)?))
            }),
        }
    }
}

fn whole_number(v: &Value) -> Option<u64> {
    let n = v.as_number()?;
    if let Some(u) = n.as_u64() {
        return Some(u);
    }
    let f = n.as_f64()?;
    // `as` saturates; the range check keeps the conversion exact.
    (f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64).then_some(f as u64)
}

fn non_empty_str(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// One Segment message, borrowed from the JSON it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Message<'a> {
    /// The call type (`type`).
    pub kind: Kind<'a>,
    /// `userId`; numbers stringified, empty → `None`.
    pub user_id: Option<Cow<'a, str>>,
    /// `anonymousId`; numbers stringified, empty → `None`.
    pub anonymous_id: Option<Cow<'a, str>>,
    /// `messageId`.
    pub message_id: Option<Cow<'a, str>>,
    /// `groupId` (group calls).
    pub group_id: Option<Cow<'a, str>>,
    /// `previousId` (alias calls).
    pub previous_id: Option<Cow<'a, str>>,
    /// `event` (track calls), as sent (may be empty; the mapping decides).
    pub event: Option<&'a str>,
    /// `name` (page and screen calls).
    pub name: Option<&'a str>,
    /// `category` (page and screen calls).
    pub category: Option<&'a str>,
    /// `timestamp`.
    pub timestamp: Option<Timestamp<'a>>,
    /// `originalTimestamp`.
    pub original_timestamp: Option<Timestamp<'a>>,
    /// `sentAt` (per message; batch-level `sentAt` belongs to the envelope).
    pub sent_at: Option<Timestamp<'a>>,
    /// `receivedAt`.
    pub received_at: Option<Timestamp<'a>>,
    /// `version`.
    pub version: Option<Version<'a>>,
    /// `traits` (identify, group); empty when absent.
    pub traits: &'a Map<String, Value>,
    /// `properties` (track, page, screen); empty when absent.
    pub properties: &'a Map<String, Value>,
    /// `context`, open-ended.
    pub context: Context<'a>,
    /// `integrations`; empty when absent.
    pub integrations: &'a Map<String, Value>,
    /// The whole message object, for keys this type does not name (`_metadata`, `channel`, ...).
    pub raw: &'a Map<String, Value>,
}

impl<'a> Message<'a> {
    /// The User.com `custom_id` this message is about: `userId`, else `anonymousId`.
    pub fn custom_id(&self) -> Option<&str> {
        self.user_id.as_deref().or(self.anonymous_id.as_deref())
    }

    /// When the event happened, by Segment's rules:
    ///
    /// 1. `timestamp`, when the sender set it;
    /// 2. else `receivedAt − (sentAt − originalTimestamp)`: the device's clock is only trusted
    ///    for the time between the event and the send, so a device whose clock is off by an hour
    ///    still lands at the true time (Segment's clock-skew correction);
    /// 3. else `originalTimestamp`; else `receivedAt`; else none (User.com uses its own now).
    ///
    /// An event cannot have happened after it was received: a result later than `receivedAt` is
    /// clamped to it, so a device clock in the future never pins `last_seen` ahead of time.
    pub fn event_time(&self) -> Option<Timestamp<'a>> {
        let received = self.received_at.as_ref().map(|r| r.utc);
        let time = match (
            &self.timestamp,
            &self.original_timestamp,
            &self.sent_at,
            received,
        ) {
            (Some(t), ..) => *t,
            (None, Some(original), Some(sent), Some(received)) => {
                Timestamp::at(received - (sent.utc - original.utc))
            }
            (None, Some(original), ..) => *original,
            (None, None, _, Some(received)) => Timestamp::at(received),
            (None, None, _, None) => return None,
        };
        match received {
            Some(received) if time.utc > received => Some(Timestamp::at(received)),
            _ => Some(time),
        }
    }
}

/// Why a value is not a Segment message we can read. Every variant names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("a Segment message must be a JSON object, got {found}")]
    NotAnObject { found: &'static str },
    #[error("message has no `type` field")]
    MissingType,
    #[error("message field `{field}` must be {expected}, got {found}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    #[error("message field `{field}` is not an ISO-8601 timestamp: {value:?}")]
    BadTimestamp { field: &'static str, value: String },
}

impl ParseError {
    /// The message field at fault (`None` when the message is not an object at all).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            ParseError::NotAnObject { .. } => None,
            ParseError::MissingType => Some("type"),
            ParseError::WrongType { field, .. } | ParseError::BadTimestamp { field, .. } => {
                Some(field)
            }
        }
    }
}

/// The JSON type name of a value, for error messages.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Looks up several keys in one pass over `obj`: `out[i]` is the value of `keys[i]`.
///
/// Messages and their nested objects are small (a dozen keys); one walk with short string
/// comparisons is cheaper than hashing every key we ask about, and parsing runs once per event.
pub(crate) fn scan<'a, const N: usize>(
    obj: &'a Map<String, Value>,
    keys: &[&str; N],
) -> [Option<&'a Value>; N] {
    let mut out = [None; N];
    for (k, v) in obj {
        if let Some(i) = keys.iter().position(|key| *key == k.as_str()) {
            out[i] = Some(v);
        }
    }
    out
}

/// Present and not `null`.
fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

/// A message's `messageId` as text, by the same rule the parser uses: a non-blank string, or a
/// number (stringified); anything else has none. Delivery applies duplicates of it once, and
/// `plan` shows it.
pub fn message_id(raw: &Value) -> Option<String> {
    id(raw.get("messageId"), "messageId")
        .ok()
        .flatten()
        .map(Cow::into_owned)
}

fn id<'a>(v: Option<&'a Value>, key: &'static str) -> Result<Option<Cow<'a, str>>, ParseError> {
    match present(v) {
        None => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(Cow::Borrowed(s))),
        Some(Value::Number(n)) => Ok(Some(Cow::Owned(n.to_string()))),
        Some(other) => Err(ParseError::WrongType {
            field: key,
            expected: "a string or a number",
            found: json_type(other),
        }),
    }
}

fn text<'a>(v: Option<&'a Value>, key: &'static str) -> Result<Option<&'a str>, ParseError> {
    match present(v) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ParseError::WrongType {
            field: key,
            expected: "a string",
            found: json_type(other),
        }),
    }
}

fn object<'a>(
    v: Option<&'a Value>,
    key: &'static str,
) -> Result<&'a Map<String, Value>, ParseError> {
    match present(v) {
        None => Ok(&EMPTY),
        Some(Value::Object(m)) => Ok(m),
        Some(other) => Err(ParseError::WrongType {
            field: key,
            expected: "an object",
            found: json_type(other),
        }),
    }
}

fn timestamp<'a>(
    v: Option<&'a Value>,
    key: &'static str,
) -> Result<Option<Timestamp<'a>>, ParseError> {
    match present(v) {
        None => Ok(None),
        Some(Value::String(s)) => Timestamp::parse(s).map(Some).ok_or_else(|| {
            // Keep the error line readable when someone sends a novel.
            let value: String = s.chars().take(64).collect();
            ParseError::BadTimestamp { field: key, value }
        }),
        Some(Value::Number(n)) => n
            .as_f64()
            .and_then(Timestamp::from_number)
            .map(Some)
            .ok_or_else(|| ParseError::BadTimestamp {
                field: key,
                value: n.to_string(),
            }),
        Some(other) => Err(ParseError::WrongType {
            field: key,
            expected: "an ISO-8601 string or unix seconds/milliseconds",
            found: json_type(other),
        }),
    }
}

fn version(v: Option<&Value>) -> Result<Option<Version<'_>>, ParseError> {
    match present(v) {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(Some(Version::Number(n))),
        Some(Value::String(s)) => Ok(Some(Version::Text(s))),
        Some(other) => Err(ParseError::WrongType {
            field: "version",
            expected: "a number or a string",
            found: json_type(other),
        }),
    }
}

/// The message keys [`parse`] reads, in the order their errors are reported.
const KEYS: [&str; 18] = [
    "type",
    "userId",
    "anonymousId",
    "messageId",
    "groupId",
    "previousId",
    "event",
    "name",
    "category",
    "timestamp",
    "originalTimestamp",
    "sentAt",
    "receivedAt",
    "version",
    "traits",
    "properties",
    "context",
    "integrations",
];

/// Parses one Segment message (not a batch envelope). See the module docs for what is tolerated.
pub fn parse(raw: &Value) -> Result<Message<'_>, ParseError> {
    let obj = raw.as_object().ok_or(ParseError::NotAnObject {
        found: json_type(raw),
    })?;
    let [ty, user_id, anonymous_id, message_id, group_id, previous_id, event, name, category, ts, original_ts, sent_at, received_at, ver, traits, properties, context, integrations] =
        scan(obj, &KEYS);
    let kind = match ty {
        None | Some(Value::Null) => return Err(ParseError::MissingType),
        Some(Value::String(s)) => Kind::from_type(s),
        Some(other) => {
            return Err(ParseError::WrongType {
                field: "type",
                expected: "a string",
                found: json_type(other),
            })
        }
    };
    Ok(Message {
        kind,
        user_id: id(user_id, "userId")?,
        anonymous_id: id(anonymous_id, "anonymousId")?,
        message_id: id(message_id, "messageId")?,
        group_id: id(group_id, "groupId")?,
        previous_id: id(previous_id, "previousId")?,
        event: text(event, "event")?,
        name: text(name, "name")?,
        category: text(category, "category")?,
        timestamp: timestamp(ts, "timestamp")?,
        original_timestamp: timestamp(original_ts, "originalTimestamp")?,
        sent_at: timestamp(sent_at, "sentAt")?,
        received_at: timestamp(received_at, "receivedAt")?,
        version: version(ver)?,
        traits: object(traits, "traits")?,
        properties: object(properties, "properties")?,
        context: Context {
            map: object(context, "context")?,
        },
        integrations: object(integrations, "integrations")?,
        raw: obj,
    })
}

#[cfg(test)]
mod tests;

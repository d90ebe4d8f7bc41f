//! Which parts of a CloudTrail record are secret, and cutting them out.
//!
//! STS responses log the session token and a few services log other secret material; graphtrail never
//! stores, prints or exports them. This walk is the only place that decides what is secret: it runs on
//! every record before anything keeps it, so it is compiled (it was a fifth of an ingest worker's time in
//! Python). A secret is found anywhere in the record, under any spelling of its key, and inside JSON or
//! `key=value` text that an export flattened into a string (CloudTrail Lake's map<string,string> columns).

use std::borrow::Cow;
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use regex::Regex;
use serde_json::Value;

pub const REDACTED: &str = "<redacted by graphtrail>";

/// Keys whose (non-empty) value is secret material, whatever it holds; compared lower-cased.
const SECRET_KEYS: [&str; 12] = [
    "sessiontoken",
    "secretaccesskey",
    "secretkey",
    "privatekey",
    "keymaterial",
    "secretstring",
    "secretbinary",
    "tokenvalue",
    "samlassertion",
    "samlresponse",
    "clientsecret",
    "passphrase",
];
/// Keys ending in "token" that name pagination or idempotency handles, not credentials.
const HARMLESS_TOKENS: [&str; 5] = [
    "nexttoken",
    "continuationtoken",
    "paginationtoken",
    "clienttoken",
    "idempotencytoken",
];
/// Top-level fields CloudTrail defines as plain values with no secret material: not walked. Every other
/// field (the payload blocks, userIdentity, anything unknown) is.
pub(crate) const PLAIN_FIELDS: [&str; 20] = [
    "eventVersion",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "requestID",
    "eventID",
    "readOnly",
    "eventType",
    "apiVersion",
    "managementEvent",
    "recipientAccountId",
    "sharedEventID",
    "vpcEndpointId",
    "vpcEndpointAccountId",
    "eventCategory",
    "sessionCredentialFromConsole",
];

/// Words of which a text that hides a secret key must hold one (ASCII, matched ignoring case).
static FRAGMENTS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build([
            "token",
            "secret",
            "password",
            "privatekey",
            "keymaterial",
            "saml",
            "passphrase",
        ])
        .expect("fixed patterns")
});
/// A secret key followed by its value, in text that is not JSON: `sessionToken=…` (Trino's rendering of a
/// map, query strings), `'password': …` (a Python repr).
static SECRET_ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(session_?token|secret_?access_?key|secret_?key|password|passphrase|private_?key|key_?material|client_?secret|saml_?(assertion|response)|token_?value|access_?token|refresh_?token|id_?token|web_?identity_?token)["']?\s*[=:]"#,
    )
    .expect("fixed pattern")
});

/// What a value is, as far as the rules care.
pub(crate) enum Shape {
    Empty,
    Text,
    Other,
}

/// Whether a value of `shape` under `key` is secret: exact key names always are; keys that merely contain
/// "password" or end in "token" are when they hold text (`masterUserPassword` is, `passwordResetRequired:
/// false` is not).
pub(crate) fn is_secret(key: &str, shape: Shape) -> bool {
    match key_kind(key) {
        KeyKind::Plain => false,
        KeyKind::Secret => !matches!(shape, Shape::Empty),
        KeyKind::SecretIfText => matches!(shape, Shape::Text),
    }
}

/// `is_secret` for a Python value, looking at the value only when the key could name a secret.
pub(crate) fn is_secret_item(key: &str, item: &Bound<'_, PyAny>) -> bool {
    match key_kind(key) {
        KeyKind::Plain => false,
        KeyKind::Secret => !matches!(shape_of(item), Shape::Empty),
        KeyKind::SecretIfText => matches!(shape_of(item), Shape::Text),
    }
}

/// What a key says about its value, before the value is looked at.
pub(crate) enum KeyKind {
    Plain,
    Secret,
    SecretIfText,
}

/// Compared as Python's `str.lower` would, without lower-casing a copy: most keys are camelCase ASCII, and
/// for ASCII `lower` is ASCII's. Other keys are lower-cased first (a Kelvin sign lower-cases to a `k`).
pub(crate) fn key_kind(key: &str) -> KeyKind {
    if !key.is_ascii() {
        return key_kind_lowered(&key.to_lowercase());
    }
    let same = |name: &&str| name.eq_ignore_ascii_case(key);
    if SECRET_KEYS.iter().any(same) {
        return KeyKind::Secret;
    }
    let bytes = key.as_bytes();
    let holds_password = bytes.windows(8).any(|window| window.eq_ignore_ascii_case(b"password"));
    let ends_in_token = bytes.len() >= 5 && bytes[bytes.len() - 5..].eq_ignore_ascii_case(b"token");
    if holds_password || (ends_in_token && !HARMLESS_TOKENS.iter().any(same)) {
        KeyKind::SecretIfText
    } else {
        KeyKind::Plain
    }
}

fn key_kind_lowered(lowered: &str) -> KeyKind {
    if SECRET_KEYS.contains(&lowered) {
        KeyKind::Secret
    } else if lowered.contains("password") || (lowered.ends_with("token") && !HARMLESS_TOKENS.contains(&lowered)) {
        KeyKind::SecretIfText
    } else {
        KeyKind::Plain
    }
}

/// A cheap first look: a string that could hold a structure (JSON, `key=value`) naming a secret.
fn may_hide_secret(text: &str) -> bool {
    if memchr::memchr3(b'{', b'[', b'=', text.as_bytes()).is_none() {
        return false;
    }
    if text.is_ascii() {
        FRAGMENTS.is_match(text)
    } else {
        FRAGMENTS.is_match(&text.to_lowercase()) // non-ASCII letters may lower-case into a fragment
    }
}

/// The replacement for a string that hides a secret: JSON is redacted inside and written out again;
/// other text is dropped when it assigns a value to a secret key. None: keep the string as it is (most
/// strings, and values that merely mention a word, such as the ARN of a Secrets Manager secret).
pub(crate) fn text_replacement(text: &str) -> Option<String> {
    if may_hide_secret(text) {
        redact_text(text)
    } else {
        None
    }
}

fn redact_text(text: &str) -> Option<String> {
    let stripped = text.trim_matches(is_python_space);
    if stripped.starts_with('{') || stripped.starts_with('[') {
        if let Ok(mut parsed @ (Value::Object(_) | Value::Array(_))) = serde_json::from_str::<Value>(stripped) {
            redact_value(&mut parsed);
            return serde_json::to_string(&parsed).ok();
        }
    }
    SECRET_ASSIGNMENT.is_match(text).then(|| REDACTED.to_owned())
}

/// Python's `str.isspace`, which `str.strip` uses: Unicode white space plus the four separators.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The same rules over JSON parsed out of a string.
fn redact_value(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                let shape = match item {
                    Value::Null => Shape::Empty,
                    Value::String(text) if text.is_empty() => Shape::Empty,
                    Value::Object(inner) if inner.is_empty() => Shape::Empty,
                    Value::Array(inner) if inner.is_empty() => Shape::Empty,
                    Value::String(_) => Shape::Text,
                    _ => Shape::Other,
                };
                if is_secret(key, shape) {
                    *item = Value::String(REDACTED.to_owned());
                } else {
                    redact_item(item);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_item),
        _ => {}
    }
}

fn redact_item(item: &mut Value) {
    match item {
        Value::Object(_) | Value::Array(_) => redact_value(item),
        Value::String(text) => {
            if let Some(replacement) = text_replacement(text) {
                *text = replacement;
            }
        }
        _ => {}
    }
}

/// The Python string's text; lone surrogates (which no parser of ours produces) become U+FFFD.
fn text_of<'a>(text: &'a Bound<'_, PyString>) -> Cow<'a, str> {
    match text.to_str() {
        Ok(borrowed) => Cow::Borrowed(borrowed),
        Err(_) => Cow::Owned(text.to_string_lossy().into_owned()),
    }
}

pub(crate) fn shape_of(value: &Bound<'_, PyAny>) -> Shape {
    if value.is_none() {
        Shape::Empty
    } else if let Ok(text) = value.cast::<PyString>() {
        if text.len().unwrap_or(1) == 0 {
            Shape::Empty
        } else {
            Shape::Text
        }
    } else if let Ok(dict) = value.cast::<PyDict>() {
        if dict.is_empty() {
            Shape::Empty
        } else {
            Shape::Other
        }
    } else if let Ok(list) = value.cast::<PyList>() {
        if list.is_empty() {
            Shape::Empty
        } else {
            Shape::Other
        }
    } else {
        Shape::Other
    }
}

/// A dict's replacements are collected during the walk and written after it (a dict must not change
/// while it is iterated).
fn redact_dict(dict: &Bound<'_, PyDict>, skip_plain: bool) -> PyResult<()> {
    let mut replacements: Vec<(Bound<'_, PyAny>, String)> = Vec::new();
    for (key, item) in dict.iter() {
        if let Ok(name) = key.cast::<PyString>() {
            let name = text_of(name);
            if skip_plain && PLAIN_FIELDS.contains(&name.as_ref()) {
                continue;
            }
            if is_secret_item(&name, &item) {
                replacements.push((key, REDACTED.to_owned()));
                continue;
            }
        }
        if let Some(replacement) = redact_python_item(&item)? {
            replacements.push((key, replacement));
        }
    }
    for (key, replacement) in replacements {
        dict.set_item(key, replacement)?;
    }
    Ok(())
}

fn redact_list(list: &Bound<'_, PyList>) -> PyResult<()> {
    for (index, item) in list.iter().enumerate() {
        if let Some(replacement) = redact_python_item(&item)? {
            list.set_item(index, replacement)?;
        }
    }
    Ok(())
}

/// Walks a structure in place; for a string that must change, returns its replacement.
fn redact_python_item(item: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    if let Ok(dict) = item.cast::<PyDict>() {
        redact_dict(dict, false)?;
    } else if let Ok(list) = item.cast::<PyList>() {
        redact_list(list)?;
    } else if let Ok(text) = item.cast::<PyString>() {
        return Ok(text_replacement(&text_of(text)));
    }
    Ok(None)
}

/// Replace, in place, every secret in `value` (dicts, lists, and JSON or `key=value` text held in strings).
#[pyfunction]
pub fn redact_secrets<'py>(value: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    redact_python_item(&value)?;
    Ok(value)
}

/// Replace, in place, every secret in a whole record, leaving the plain top-level fields unread.
#[pyfunction]
pub fn redact_record<'py>(record: Bound<'py, PyDict>) -> PyResult<Bound<'py, PyDict>> {
    redact_dict(&record, true)?;
    Ok(record)
}

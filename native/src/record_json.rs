//! A record as the JSON the case stores, with its secrets cut out, in one pass over the parsed record.
//!
//! Redacting and then serializing walked every record twice (the walk, then orjson's dump); writing while
//! redacting walks it once. The output is byte for byte what `orjson.dumps` writes for the redacted record.
//! Anything a parsed log record does not hold (a key that is not text, an integer past 64 bits, a string
//! with a lone surrogate, a tuple, nesting deeper than orjson allows) makes this give up and return None:
//! the caller then takes orjson's path, which accepts or rejects such a record the way it always has.

use std::io::Write;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::redact::{is_secret_item, text_replacement, PLAIN_FIELDS, REDACTED};

/// Why the walk stopped: a value orjson's path should judge, or an error raised by Python.
enum Stop {
    Unusual,
    Raised(PyErr),
}

impl From<PyErr> for Stop {
    fn from(error: PyErr) -> Self {
        Stop::Raised(error)
    }
}

type Walk = Result<(), Stop>;

/// orjson refuses deeper nesting ("Recursion limit reached"); past this the record goes its way.
const MAX_DEPTH: usize = 254;

struct Writer {
    out: Vec<u8>,
    depth: usize,
    identity: Option<(usize, usize)>,
}

impl Writer {
    fn value(&mut self, value: &Bound<'_, PyAny>, redact: bool) -> Walk {
        if value.is_none() {
            self.out.extend_from_slice(b"null");
        } else if let Ok(text) = value.cast::<PyString>() {
            self.string(text.to_str().map_err(|_| Stop::Unusual)?);
        } else if let Ok(dict) = value.cast::<PyDict>() {
            self.dict(dict, redact, false)?;
        } else if let Ok(list) = value.cast::<PyList>() {
            self.list(list, redact)?;
        } else if let Ok(flag) = value.cast::<PyBool>() {
            self.out
                .extend_from_slice(if flag.is_true() { b"true" } else { b"false" });
        } else if value.cast::<PyInt>().is_ok() {
            self.integer(value)?;
        } else if let Ok(number) = value.cast::<PyFloat>() {
            self.float(number.value());
        } else {
            return Err(Stop::Unusual); // a tuple, a set, bytes...: not what a parser yields
        }
        Ok(())
    }

    fn dict(&mut self, dict: &Bound<'_, PyDict>, redact: bool, top_level: bool) -> Walk {
        self.enter()?;
        self.out.push(b'{');
        let mut replacements: Vec<(Bound<'_, PyAny>, String)> = Vec::new();
        for (index, (key, item)) in dict.iter().enumerate() {
            let name = key.cast::<PyString>().map_err(|_| Stop::Unusual)?;
            let name = name.to_str().map_err(|_| Stop::Unusual)?;
            if index > 0 {
                self.out.push(b',');
            }
            self.string(name);
            self.out.push(b':');
            let start = self.out.len();
            let redact_here = redact && !(top_level && PLAIN_FIELDS.contains(&name));
            if redact_here && is_secret_item(name, &item) {
                self.string(REDACTED);
                replacements.push((key.clone(), REDACTED.to_owned()));
            } else if let Some(replacement) = self.item(&item, redact_here)? {
                replacements.push((key.clone(), replacement));
            }
            if top_level && name == "userIdentity" {
                self.identity = Some((start, self.out.len()));
            }
        }
        self.out.push(b'}');
        self.depth -= 1;
        for (key, replacement) in replacements {
            dict.set_item(key, replacement)?;
        }
        Ok(())
    }

    fn list(&mut self, list: &Bound<'_, PyList>, redact: bool) -> Walk {
        self.enter()?;
        self.out.push(b'[');
        let mut replacements: Vec<(usize, String)> = Vec::new();
        for (index, item) in list.iter().enumerate() {
            if index > 0 {
                self.out.push(b',');
            }
            if let Some(replacement) = self.item(&item, redact)? {
                replacements.push((index, replacement));
            }
        }
        self.out.push(b']');
        self.depth -= 1;
        for (index, replacement) in replacements {
            list.set_item(index, replacement)?;
        }
        Ok(())
    }

    /// Writes a dict's or list's item; a string that hides a secret is written redacted and its
    /// replacement returned, for the caller to put in place.
    fn item(&mut self, item: &Bound<'_, PyAny>, redact: bool) -> Result<Option<String>, Stop> {
        if redact {
            if let Ok(text) = item.cast::<PyString>() {
                let text = text.to_str().map_err(|_| Stop::Unusual)?;
                if let Some(replacement) = text_replacement(text) {
                    self.string(&replacement);
                    return Ok(Some(replacement));
                }
                self.string(text);
                return Ok(None);
            }
        }
        self.value(item, redact)?;
        Ok(None)
    }

    fn enter(&mut self) -> Walk {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Stop::Unusual);
        }
        Ok(())
    }

    fn integer(&mut self, value: &Bound<'_, PyAny>) -> Walk {
        if let Ok(number) = value.extract::<i64>() {
            write!(self.out, "{number}").expect("writing to a Vec");
        } else if let Ok(number) = value.extract::<u64>() {
            write!(self.out, "{number}").expect("writing to a Vec");
        } else {
            return Err(Stop::Unusual); // orjson refuses integers past 64 bits
        }
        Ok(())
    }

    /// The shortest text that reads back as the same number, spelled as orjson spells it (`1e+16`);
    /// NaN and infinities, which JSON cannot hold, as null.
    fn float(&mut self, number: f64) {
        if !number.is_finite() {
            self.out.extend_from_slice(b"null");
            return;
        }
        let mut buffer = ryu::Buffer::new();
        let text = buffer.format_finite(number).as_bytes();
        match text.iter().position(|&byte| byte == b'e') {
            Some(at) if text.get(at + 1) != Some(&b'-') => {
                self.out.extend_from_slice(&text[..=at]);
                self.out.push(b'+');
                self.out.extend_from_slice(&text[at + 1..]);
            }
            _ => self.out.extend_from_slice(text),
        }
    }

    /// A JSON string as orjson writes it: quotes, backslashes and control characters escaped, the
    /// rest (non-ASCII included) as UTF-8.
    fn string(&mut self, text: &str) {
        let out = &mut self.out;
        out.push(b'"');
        let bytes = text.as_bytes();
        let mut clean_from = 0;
        while let Some(at) = next_to_escape(bytes, clean_from) {
            out.extend_from_slice(&bytes[clean_from..at]);
            let byte = bytes[at];
            let escape: &[u8] = match byte {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                _ => b"",
            };
            if escape.is_empty() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(byte >> 4) as usize]);
                out.push(HEX[(byte & 0xf) as usize]);
            } else {
                out.extend_from_slice(escape);
            }
            clean_from = at + 1;
        }
        out.extend_from_slice(&bytes[clean_from..]);
        out.push(b'"');
    }
}

/// Where the next byte JSON must escape (a quote, a backslash, a control character) is, from `from` on,
/// looking at eight bytes at a time: most strings have none.
fn next_to_escape(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut at = from;
    while at + 8 <= bytes.len() {
        let word = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"));
        let control = word.wrapping_sub(ONES * 0x20) & !word; // a byte below 0x20
        let quote = (word ^ (ONES * b'"' as u64)).wrapping_sub(ONES) & !(word ^ (ONES * b'"' as u64));
        let backslash = (word ^ (ONES * b'\\' as u64)).wrapping_sub(ONES) & !(word ^ (ONES * b'\\' as u64));
        if (control | quote | backslash) & HIGHS != 0 {
            break; // one of these eight is one: find it byte by byte
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)
        .map(|offset| at + offset)
}

/// The record, secrets redacted in place, as (JSON bytes, start, end) where start..end is the
/// `userIdentity` value within the JSON (0, 0 when there is none); None when orjson's path must judge it.
#[pyfunction]
pub fn redacted_record_json<'py>(record: &Bound<'py, PyDict>) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let mut writer = Writer {
        out: Vec::with_capacity(2048),
        depth: 0,
        identity: None,
    };
    match writer.dict(record, true, true) {
        Ok(()) => {
            let (start, end) = writer.identity.unwrap_or((0, 0));
            let json = PyBytes::new(record.py(), &writer.out);
            Ok(Some(PyTuple::new(
                record.py(),
                [
                    json.into_any(),
                    start.into_pyobject(record.py())?.into_any(),
                    end.into_pyobject(record.py())?.into_any(),
                ],
            )?))
        }
        Err(Stop::Unusual) => Ok(None),
        Err(Stop::Raised(error)) => Err(error),
    }
}

/// A top-level value of a record (a parameter block), as `redacted_record_json` writes it inside the
/// record: (JSON bytes, replacement), where replacement is the redacted text that takes the place of a
/// string hiding a secret (None otherwise; dicts and lists are redacted in place). None when orjson's
/// path must judge it.
#[pyfunction]
pub fn redacted_value_json<'py>(value: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let mut writer = Writer {
        out: Vec::with_capacity(512),
        depth: 1, // inside the record, as the whole record's walk meets it
        identity: None,
    };
    match writer.item(value, true) {
        Ok(replacement) => {
            let py = value.py();
            let replacement = match replacement {
                Some(text) => PyString::new(py, &text).into_any(),
                None => py.None().into_bound(py),
            };
            Ok(Some(PyTuple::new(
                py,
                [PyBytes::new(py, &writer.out).into_any(), replacement],
            )?))
        }
        Err(Stop::Unusual) => Ok(None),
        Err(Stop::Raised(error)) => Err(error),
    }
}

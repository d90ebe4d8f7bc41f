//! Records that recur but for their ids and time, recognised by their bytes.
//!
//! Most of a trail is one caller making one call again and again: on the simulated 5-account corpus more
//! than half of the records equal an earlier record but for `eventID`, `eventTime`, `requestID` and
//! `sharedEventID`. Such a record says what the earlier one said, so ingest need not build it as Python
//! objects, normalize it and resolve its action again: it takes the earlier record's reading with the new
//! ids and time. This module only compares bytes and splices the stored JSON; whether a reading may be
//! reused is decided in Python (`graphtrail.recurring`), once per record that recurs.
//!
//! For the calls it is given (S3 object and KMS calls, which name another object or encryption context
//! each time), a record that is no copy is compared once more with its parameter blocks masked too; a
//! copy of that kind comes with its blocks' bytes and the stored JSON around them, for Python to read.
//!
//! Only a file that is exactly `{"Records": [{...}, ...]}` in UTF-8 is split here; anything else goes the
//! Python reader's way, whole. The scan checks the JSON of the document's and the records' outlines only:
//! a record that is new to the memo is parsed by orjson (the reader falls back to the whole document if
//! one fails), and a record the memo knows has the same bytes as one orjson parsed, but for its varying
//! values, which must be plain text.

use std::collections::HashMap;

use foldhash::fast::RandomState;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

/// The fields in which recurring records may differ, by their index in masked records and stencils:
/// eventID, eventTime, requestID and sharedEventID, plain text; and, for the calls the memo was given,
/// the parameter blocks, any JSON (`graphtrail.recurring.VARYING_BLOCKS` names them in this order).
const EVENT_ID: usize = 0;
const EVENT_TIME: usize = 1;
const REQUEST_ID: usize = 2;
const SHARED_EVENT_ID: usize = 3;
const FIRST_BLOCK: usize = 4;
const FIELDS: usize = 7;

fn varying_field(key: &[u8], blocks: bool) -> Option<usize> {
    match key {
        b"eventID" => Some(EVENT_ID),
        b"eventTime" => Some(EVENT_TIME),
        b"requestID" => Some(REQUEST_ID),
        b"sharedEventID" => Some(SHARED_EVENT_ID),
        b"requestParameters" if blocks => Some(FIRST_BLOCK),
        b"additionalEventData" if blocks => Some(FIRST_BLOCK + 1),
        b"resources" if blocks => Some(FIRST_BLOCK + 2),
        _ => None,
    }
}

type Values = [Option<Span>; FIELDS];

/// An (eventSource, eventName) whose copies may differ in their parameter blocks.
type Call = (Box<[u8]>, Box<[u8]>);

/// Bytes that never occur in UTF-8: they separate a masked record's parts and stand for a varying value.
const SEPARATOR: u8 = 0xFF;
const VARYING_VALUE: u8 = 0xFE;

/// A record seen once; one whose reading Python handed over for its later copies; or one whose reading
/// Python would not hand over (it could depend on the ids or time).
enum Seen {
    Once,
    Template(Stencil),
    Refused,
}

/// The reading of a record, and its stored JSON with the places of the varying values.
struct Stencil {
    reading: Py<PyAny>,
    json: Vec<u8>,
    spans: Vec<(Span, usize)>, // each varying value in `json`, quotes included, and which field it is
    blocks: bool,              // its copies differ in their parameter blocks too: Python redacts and writes them
}

type Span = (usize, usize);

/// Records split between two looks at how many came as readings.
const WINDOW: usize = 4096;
/// Splitting costs a few microseconds a record and a reading saves some twenty, so when fewer than one
/// record in this many came as a reading, the memo rests...
const WORTHWHILE: usize = 8;
/// ...for this many times the bytes of the window that did not pay (the Python reader reads them).
const REST: usize = 8;

/// The memo of one ingest worker: records seen, keyed by their bytes with the varying values masked.
#[pyclass(module = "graphtrail._native")]
pub struct RecurringRecords {
    seen: HashMap<Box<[u8]>, Seen, RandomState>,
    pending: Vec<(Box<[u8]>, bool)>, // masked records of the last split seen before (blocks masked or not),
    // whose readings Python may `learn`
    calls: Vec<Call>,
    bytes: usize,
    budget: usize,
    window: Window,
    resting: usize, // bytes of content still to leave to the Python reader
}

/// Records, readings and bytes split since the last look.
#[derive(Default)]
struct Window {
    records: usize,
    readings: usize,
    bytes: usize,
    warm: bool, // past the first window, which starts from an empty memo and is not judged
}

#[pymethods]
impl RecurringRecords {
    /// `calls`: the (eventSource, eventName) pairs whose records may also differ in their parameter blocks
    /// (`requestParameters`, `additionalEventData`, `resources`) and still share a reading.
    #[new]
    #[pyo3(signature = (budget, calls = Vec::new()))]
    fn new(budget: usize, calls: Vec<(String, String)>) -> Self {
        RecurringRecords {
            seen: HashMap::with_hasher(RandomState::default()),
            pending: Vec::new(),
            calls: calls
                .into_iter()
                .map(|(source, name)| (source.into_bytes().into(), name.into_bytes().into()))
                .collect(),
            bytes: 0,
            budget,
            window: Window::default(),
            resting: 0,
        }
    }

    /// The records of a `{"Records": [...]}` document, in order, or None for any other content.
    ///
    /// A record whose reading is known comes as `(reading, eventID, eventTime, sharedEventID or None,
    /// stored JSON)`. A record of one of the memo's calls whose reading is known but for its parameter
    /// blocks comes as `(reading, eventID, eventTime, sharedEventID or None, requestID or None, pieces,
    /// blocks, token, its bytes)`: `blocks` are its blocks' (field, bytes) in the order they come, whose
    /// redacted JSON goes between the `pieces` of the stored JSON. Any other record comes as `(its bytes,
    /// token, block token)`. A token of 0 or more asks the caller to `learn` the record's reading (it was
    /// seen before), a block token its reading but for its blocks; -1 asks nothing. None too, for a
    /// while, when too few records of a trail recur for splitting to pay.
    fn split<'py>(&mut self, py: Python<'py>, content: &[u8]) -> PyResult<Option<Bound<'py, PyList>>> {
        self.pending.clear();
        if self.resting > 0 {
            self.resting = self.resting.saturating_sub(content.len());
            return Ok(None);
        }
        if std::str::from_utf8(content).is_err() {
            return Ok(None);
        }
        let Some(records) = Scanner::new(content).document() else {
            return Ok(None);
        };
        let out = PyList::empty(py);
        let mut readings = 0;
        for (record, members) in &records {
            let item = self.classify(py, &content[record.0..record.1], content, members)?;
            readings += usize::from(item.len() > 3);
            out.append(item)?;
        }
        self.look(records.len(), readings, content.len());
        Ok(Some(out))
    }

    /// Hand over the reading of the record `token` names, with its stored JSON: its later copies then
    /// come as that reading. None says the reading may not be reused: later copies come as records
    /// again, without a token.
    #[pyo3(signature = (token, reading, record_json))]
    fn learn(&mut self, token: usize, reading: Option<Py<PyAny>>, record_json: &[u8]) -> PyResult<()> {
        let Some((masked, blocks)) = self.pending.get(token) else {
            return Err(pyo3::exceptions::PyIndexError::new_err(
                "no such record in the last split",
            ));
        };
        let blocks = *blocks;
        let spans = Scanner::new(record_json)
            .record()
            .and_then(|members| varying_spans(record_json, &members, blocks));
        let seen = match (reading, spans) {
            (Some(reading), Some(spans)) => {
                self.bytes += record_json.len();
                Seen::Template(Stencil {
                    reading,
                    json: record_json.to_vec(),
                    spans,
                    blocks,
                })
            }
            _ => Seen::Refused,
        };
        self.seen.insert(masked.clone(), seen);
        Ok(())
    }

    /// How many records' readings are held (for tests and benchmarks).
    fn __len__(&self) -> usize {
        self.seen
            .values()
            .filter(|seen| matches!(seen, Seen::Template(_)))
            .count()
    }
}

impl RecurringRecords {
    fn classify<'py>(
        &mut self,
        py: Python<'py>,
        record: &[u8],
        content: &[u8],
        members: &[Member],
    ) -> PyResult<Bound<'py, PyTuple>> {
        let Some((masked, values)) = mask(content, members, false) else {
            return miss(py, record, -1, -1);
        };
        if let Some(Seen::Template(stencil)) = self.seen.get(masked.as_slice()) {
            return hit(py, stencil, content, &values);
        }
        let token = self.note(masked, false);
        if !self.varies_in_blocks(content, members) {
            return miss(py, record, token, -1);
        }
        let Some((mut masked, values)) = mask(content, members, true) else {
            return miss(py, record, token, -1);
        };
        if values[FIRST_BLOCK..].iter().all(Option::is_none) {
            return miss(py, record, token, -1); // no blocks: nothing varies but what the first tier masks
        }
        masked.extend_from_slice(&[VARYING_VALUE, SEPARATOR]); // a key of the second tier, never of the first
        if let Some(Seen::Template(stencil)) = self.seen.get(masked.as_slice()) {
            return block_hit(py, stencil, content, &values, token, record);
        }
        let block_token = self.note(masked, true);
        miss(py, record, token, block_token)
    }

    /// Count a sighting of a record that came as no reading: the token to `learn` its reading by when it
    /// was seen before, else -1.
    fn note(&mut self, masked: Vec<u8>, blocks: bool) -> i64 {
        match self.seen.get(masked.as_slice()) {
            Some(Seen::Once) => {
                self.pending.push((masked.into_boxed_slice(), blocks));
                (self.pending.len() - 1) as i64
            }
            Some(_) => -1,
            None => {
                if self.bytes + masked.len() > self.budget {
                    self.forget();
                }
                self.bytes += masked.len();
                self.seen.insert(masked.into_boxed_slice(), Seen::Once);
                -1
            }
        }
    }

    /// Whether the record is one of the calls whose copies may differ in their blocks.
    fn varies_in_blocks(&self, content: &[u8], members: &[Member]) -> bool {
        if self.calls.is_empty() {
            return false;
        }
        let text_of = |wanted: &[u8]| {
            members
                .iter()
                .find(|member| &content[member.key.0..member.key.1] == wanted)
                .map(|member| &content[member.value.0..member.value.1])
                .filter(|raw| plain_text(raw))
                .map(|raw| &raw[1..raw.len() - 1])
        };
        let (Some(source), Some(name)) = (text_of(b"eventSource"), text_of(b"eventName")) else {
            return false;
        };
        self.calls
            .iter()
            .any(|(call_source, call_name)| **call_source == *source && **call_name == *name)
    }

    /// Count a split, and rest when the window's records did not pay.
    fn look(&mut self, records: usize, readings: usize, bytes: usize) {
        self.window.records += records;
        self.window.readings += readings;
        self.window.bytes += bytes;
        if self.window.records >= WINDOW {
            if self.window.warm && self.window.readings * WORTHWHILE < self.window.records {
                self.resting = self.window.bytes * REST;
            }
            self.window = Window {
                warm: true,
                ..Window::default()
            };
        }
    }

    /// Make room: records seen once go first; the readings too when they alone fill half the budget.
    fn forget(&mut self) {
        self.seen.retain(|_, seen| matches!(seen, Seen::Template(_)));
        self.bytes = self
            .seen
            .iter()
            .map(|(masked, seen)| match seen {
                Seen::Template(stencil) => masked.len() + stencil.json.len(),
                _ => masked.len(),
            })
            .sum();
        if self.bytes > self.budget / 2 {
            self.seen.clear();
            self.bytes = 0;
        }
    }
}

fn miss<'py>(py: Python<'py>, record: &[u8], token: i64, block_token: i64) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(
        py,
        [
            PyBytes::new(py, record).into_any(),
            token.into_pyobject(py)?.into_any(),
            block_token.into_pyobject(py)?.into_any(),
        ],
    )
}

/// A copy's value of a varying id, as text: plain ASCII between its quotes (see `plain_text`); None when
/// the record has no such field.
fn id_text<'py>(py: Python<'py>, content: &[u8], value: Option<Span>) -> Bound<'py, PyAny> {
    match value {
        Some((start, end)) => {
            PyString::new(py, std::str::from_utf8(&content[start + 1..end - 1]).unwrap_or("")).into_any()
        }
        None => py.None().into_bound(py),
    }
}

/// A copy's stored JSON: the stencil's with the copy's ids spliced in, cut where its blocks go (one piece
/// when it has none), and the copy's blocks as (field, bytes), in the order they come.
struct Spliced<'a> {
    pieces: Vec<Vec<u8>>,
    blocks: Vec<(usize, &'a [u8])>,
}

fn splice<'a>(stencil: &'a Stencil, content: &'a [u8], values: &Values) -> Spliced<'a> {
    let mut pieces = Vec::with_capacity(1);
    let mut blocks = Vec::new();
    let mut piece = Vec::with_capacity(stencil.json.len() + 16);
    let mut at = 0;
    for &((start, end), field) in &stencil.spans {
        piece.extend_from_slice(&stencil.json[at..start]);
        // The masked records are equal, so this record has each field the stencil has; were one missing,
        // the earlier record's value would stay, never bytes from elsewhere in this file.
        let value = match values[field] {
            Some((value_start, value_end)) => &content[value_start..value_end],
            None => &stencil.json[start..end],
        };
        if field < FIRST_BLOCK {
            piece.extend_from_slice(value);
        } else {
            pieces.push(std::mem::take(&mut piece));
            blocks.push((field - FIRST_BLOCK, value));
        }
        at = end;
    }
    piece.extend_from_slice(&stencil.json[at..]);
    pieces.push(piece);
    Spliced { pieces, blocks }
}

/// A copy that differs in its blocks too: the stored JSON up to each block (ids spliced in), and the
/// blocks' bytes, for Python to parse, redact and write in between.
fn block_hit<'py>(
    py: Python<'py>,
    stencil: &Stencil,
    content: &[u8],
    values: &Values,
    token: i64,
    record: &[u8],
) -> PyResult<Bound<'py, PyTuple>> {
    let spliced = splice(stencil, content, values);
    let pieces = PyList::new(py, spliced.pieces.iter().map(|piece| PyBytes::new(py, piece)))?;
    let blocks = PyList::new(
        py,
        spliced
            .blocks
            .into_iter()
            .map(|(field, value)| (field, PyBytes::new(py, value))),
    )?;
    PyTuple::new(
        py,
        [
            stencil.reading.clone_ref(py).into_bound(py),
            id_text(py, content, values[EVENT_ID]),
            id_text(py, content, values[EVENT_TIME]),
            id_text(py, content, values[SHARED_EVENT_ID]),
            id_text(py, content, values[REQUEST_ID]),
            pieces.into_any(),
            blocks.into_any(),
            token.into_pyobject(py)?.into_any(),
            PyBytes::new(py, record).into_any(),
        ],
    )
}

fn hit<'py>(py: Python<'py>, stencil: &Stencil, content: &[u8], values: &Values) -> PyResult<Bound<'py, PyTuple>> {
    if stencil.blocks {
        // Never: a stencil with blocks is learnt from a record masked with its blocks, whose masked form
        // no record masked without them can have (the masks differ in the blocks' places).
        return Err(pyo3::exceptions::PyAssertionError::new_err(
            "a copy without blocks met a stencil with blocks",
        ));
    }
    let spliced = splice(stencil, content, values); // no blocks: one piece, the whole stored JSON
    PyTuple::new(
        py,
        [
            stencil.reading.clone_ref(py).into_bound(py),
            id_text(py, content, values[EVENT_ID]),
            id_text(py, content, values[EVENT_TIME]),
            id_text(py, content, values[SHARED_EVENT_ID]),
            PyBytes::new(py, &spliced.pieces[0]).into_any(),
        ],
    )
}

/// The record's members with the varying values masked (its parameter blocks too, with `blocks`), and where
/// those values are; None when they cannot vary safely: a field twice, an id that is not a GUID, a time not
/// in CloudTrail's own form, or an id that is not plain text (the Python reader then reads the record as
/// any other).
fn mask(content: &[u8], members: &[Member], blocks: bool) -> Option<(Vec<u8>, Values)> {
    let mut masked = Vec::with_capacity(2048);
    let mut values: Values = [None; FIELDS];
    for member in members {
        let key = &content[member.key.0..member.key.1];
        let value = member.value;
        masked.extend_from_slice(key);
        masked.push(SEPARATOR);
        match varying_field(key, blocks) {
            Some(field) => {
                if values[field].is_some() || (field < FIRST_BLOCK && !plain_text(&content[value.0..value.1])) {
                    return None;
                }
                values[field] = Some(value);
                masked.push(VARYING_VALUE);
                masked.push(field as u8);
            }
            None => masked.extend_from_slice(&content[value.0..value.1]),
        }
        masked.push(SEPARATOR);
    }
    let inner = |span: Span| &content[span.0 + 1..span.1 - 1];
    let id_ok = is_guid(inner(values[EVENT_ID]?));
    let time_ok = is_canonical_time(inner(values[EVENT_TIME]?));
    (id_ok && time_ok).then_some((masked, values))
}

/// Where each varying field's value sits in a stored record; None unless each is there once, the ids as
/// plain text.
fn varying_spans(json: &[u8], members: &[Member], blocks: bool) -> Option<Vec<(Span, usize)>> {
    let mut spans: Vec<(Span, usize)> = Vec::with_capacity(FIELDS);
    for member in members {
        let key = &json[member.key.0..member.key.1];
        if let Some(field) = varying_field(key, blocks) {
            let value = member.value;
            if (field < FIRST_BLOCK && !plain_text(&json[value.0..value.1]))
                || spans.iter().any(|&(_, seen)| seen == field)
            {
                return None;
            }
            spans.push((value, field));
        }
    }
    Some(spans)
}

/// A JSON string of printable ASCII without escapes, and not empty: what it says is what it holds.
fn plain_text(raw: &[u8]) -> bool {
    raw.len() > 2
        && raw[0] == b'"'
        && raw[raw.len() - 1] == b'"'
        && raw[1..raw.len() - 1]
            .iter()
            .all(|&byte| (0x20..0x7f).contains(&byte) && byte != b'"' && byte != b'\\')
}

/// `normalize._GUID`: the only ids taken as they are (any other gets a hash of the record appended).
fn is_guid(text: &[u8]) -> bool {
    text.len() == 36
        && text.iter().enumerate().all(|(index, &byte)| match index {
            8 | 13 | 18 | 23 => byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}

/// `YYYY-MM-DDTHH:MM:SSZ` naming a real instant: what `normalize._event_time` keeps as it is (any other
/// text is parsed there, or rejected).
fn is_canonical_time(text: &[u8]) -> bool {
    if text.len() != 20 {
        return false;
    }
    let shape_ok = text.iter().enumerate().all(|(index, &byte)| match index {
        4 | 7 => byte == b'-',
        10 => byte == b'T',
        13 | 16 => byte == b':',
        19 => byte == b'Z',
        _ => byte.is_ascii_digit(),
    });
    if !shape_ok {
        return false;
    }
    let number = |from: usize, to: usize| {
        text[from..to]
            .iter()
            .fold(0u32, |sum, &digit| sum * 10 + u32::from(digit - b'0'))
    };
    let (year, month, day) = (number(0, 4), number(5, 7), number(8, 10));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year >= 1 && (1..=days).contains(&day) && number(11, 13) < 24 && number(14, 16) < 60 && number(17, 19) < 60
}

/// One member of a record: its key's bytes between the quotes, and its value's bytes.
struct Member {
    key: Span,
    value: Span,
}

/// Finds the outline of a JSON document: where its records, their members and values are.
///
/// It checks the syntax between members and records (whitespace, colons, commas, brackets) and finds the
/// end of each string and nested value, but does not check what lies inside a nested value: that is
/// left to orjson, or to the equality with a record orjson parsed (see the module's comment).
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Scanner { bytes, at: 0 }
    }

    /// `{"Records": [record, ...]}` and nothing after it: each record's span and members.
    fn document(mut self) -> Option<Vec<(Span, Vec<Member>)>> {
        self.space();
        self.byte(b'{')?;
        self.space();
        let key = self.string()?;
        if &self.bytes[key.0..key.1] != b"\"Records\"" {
            return None;
        }
        self.space();
        self.byte(b':')?;
        self.space();
        self.byte(b'[')?;
        let mut records = Vec::new();
        self.space();
        if self.peek() == Some(b']') {
            self.at += 1;
        } else {
            loop {
                self.space();
                let start = self.at;
                let members = self.members()?;
                records.push(((start, self.at), members));
                self.space();
                match self.next()? {
                    b',' => continue,
                    b']' => break,
                    _ => return None,
                }
            }
        }
        self.space();
        self.byte(b'}')?;
        self.space();
        (self.at == self.bytes.len()).then_some(records)
    }

    /// A whole text that is one JSON object: its members.
    fn record(mut self) -> Option<Vec<Member>> {
        self.space();
        let members = self.members()?;
        self.space();
        (self.at == self.bytes.len()).then_some(members)
    }

    fn members(&mut self) -> Option<Vec<Member>> {
        self.byte(b'{')?;
        let mut members = Vec::with_capacity(24);
        self.space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Some(members);
        }
        loop {
            self.space();
            let key = self.string()?;
            self.space();
            self.byte(b':')?;
            self.space();
            let value = self.value()?;
            members.push(Member {
                key: (key.0 + 1, key.1 - 1),
                value,
            });
            self.space();
            match self.next()? {
                b',' => continue,
                b'}' => return Some(members),
                _ => return None,
            }
        }
    }

    fn value(&mut self) -> Option<Span> {
        let start = self.at;
        match self.peek()? {
            b'"' => return self.string(),
            b'{' | b'[' => self.nested()?,
            _ => {
                while let Some(byte) = self.peek() {
                    if matches!(byte, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.at += 1;
                }
                if self.at == start {
                    return None;
                }
            }
        }
        Some((start, self.at))
    }

    /// An object or array: to its matching bracket, stepping over strings.
    fn nested(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match self.peek()? {
                b'"' => {
                    self.string()?;
                    continue;
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.at += 1;
                        return Some(());
                    }
                }
                _ => {}
            }
            self.at += 1;
        }
    }

    /// A string, quotes included.
    fn string(&mut self) -> Option<Span> {
        let start = self.at;
        self.byte(b'"')?;
        loop {
            self.at += memchr::memchr2(b'"', b'\\', self.bytes.get(self.at..)?)?;
            if self.bytes[self.at] == b'"' {
                self.at += 1;
                return Some((start, self.at));
            }
            self.at += 2; // an escape: the byte after the backslash cannot end the string
        }
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn byte(&mut self, wanted: u8) -> Option<()> {
        (self.next()? == wanted).then_some(())
    }
}

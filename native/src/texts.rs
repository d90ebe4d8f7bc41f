//! Several fields of a record block read as text at once.
//!
//! The normalizer reads some fifteen top-level fields of every record as text; one call for all of them
//! costs what two of `text_field`'s cost in Python. The rule is `graphtrail.cloudtrail.event.as_text`'s,
//! and a test holds the two to the same answers.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

/// `as_text(block.get(key))` for each of `keys`: a non-empty string as it is; None for an absent key,
/// None, an empty string, a dict or a list; anything else (numbers, booleans) as `str()` gives it.
#[pyfunction]
pub fn texts<'py>(block: &Bound<'py, PyDict>, keys: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyTuple>> {
    let py = block.py();
    let mut found: Vec<Option<Bound<'py, PyAny>>> = Vec::with_capacity(keys.len());
    for key in keys.iter() {
        found.push(match block.get_item(&key)? {
            Some(value) => as_text(value)?,
            None => None,
        });
    }
    PyTuple::new(py, found)
}

fn as_text(value: Bound<'_, PyAny>) -> PyResult<Option<Bound<'_, PyAny>>> {
    if value.is_exact_instance_of::<PyString>() {
        let empty = value
            .cast::<PyString>()
            .map(|text| text.len().unwrap_or(1) == 0)
            .unwrap_or(false);
        return Ok(if empty { None } else { Some(value) });
    }
    if value.is_none() || value.cast::<PyDict>().is_ok() || value.cast::<PyList>().is_ok() {
        return Ok(None);
    }
    Ok(Some(value.str()?.into_any()))
}

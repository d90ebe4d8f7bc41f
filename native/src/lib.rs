//! graphtrail._native: the parts of ingest that run once per record and cost too much in Python.

use pyo3::prelude::*;

mod record_json;
mod recurring;
mod redact;
mod texts;

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("REDACTED", redact::REDACTED)?;
    module.add_function(wrap_pyfunction!(redact::redact_secrets, module)?)?;
    module.add_function(wrap_pyfunction!(redact::redact_record, module)?)?;
    module.add_function(wrap_pyfunction!(record_json::redacted_record_json, module)?)?;
    module.add_function(wrap_pyfunction!(record_json::redacted_value_json, module)?)?;
    module.add_function(wrap_pyfunction!(texts::texts, module)?)?;
    module.add_class::<recurring::RecurringRecords>()?;
    Ok(())
}

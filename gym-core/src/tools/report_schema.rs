//! The argument schema of `submit_report`: the RCA report (v1), as published by
//! [`crate::report::report_schema`].

use serde_json::Value;

/// JSON Schema of the report an agent submits.
pub fn report_parameters() -> Value {
    crate::report::report_schema()
}

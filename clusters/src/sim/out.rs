//! The telemetry being written: interned log templates and operation names, and the
//! record lists of every modality.

use std::collections::HashMap;

use otrashi_gym::telemetry::{
    Deploy, Event, EventType, LogLevel, LogRecord, LogTemplate, Span, SpanStatus,
};

/// Telemetry under construction.
#[derive(Debug, Default)]
pub(crate) struct Out {
    templates: Vec<LogTemplate>,
    template_ids: HashMap<&'static str, u32>,
    pub logs: Vec<LogRecord>,
    operations: Vec<String>,
    operation_ids: HashMap<String, u32>,
    pub spans: Vec<Span>,
    pub events: Vec<Event>,
    pub deploys: Vec<Deploy>,
}

/// A span to record.
pub(crate) struct SpanRec {
    pub trace_id: u64,
    pub span_id: u64,
    pub parent_id: Option<u64>,
    pub service: usize,
    pub operation: u32,
    pub start_us: u64,
    pub duration_us: u64,
    pub http_status: u16,
    pub error: Option<String>,
}

impl Out {
    /// Records a log line; the template text is interned on first use.
    pub fn log(
        &mut self,
        t_ms: u64,
        service: usize,
        level: LogLevel,
        template: &'static str,
        args: Vec<String>,
    ) {
        self.log_traced(t_ms, service, level, template, args, None);
    }

    /// Records a log line written while serving a traced request.
    pub fn log_traced(
        &mut self,
        t_ms: u64,
        service: usize,
        level: LogLevel,
        template: &'static str,
        args: Vec<String>,
        trace_id: Option<u64>,
    ) {
        let next = self.templates.len() as u32;
        let id = *self.template_ids.entry(template).or_insert(next);
        if id == next {
            self.templates.push(LogTemplate {
                text: template.to_owned(),
            });
        }
        self.logs.push(LogRecord {
            t_ms,
            service: service as u16,
            level,
            template: id,
            args,
            trace_id,
        });
    }

    /// Records an orchestrator event.
    pub fn event(
        &mut self,
        t_ms: u64,
        service: usize,
        event_type: EventType,
        reason: &str,
        message: String,
    ) {
        self.events.push(Event {
            t_ms,
            service: service as u16,
            event_type,
            reason: reason.to_owned(),
            message,
        });
    }

    /// The id of an operation name, interning it on first use.
    pub fn operation(&mut self, name: &str) -> u32 {
        if let Some(id) = self.operation_ids.get(name) {
            return *id;
        }
        let id = self.operations.len() as u32;
        self.operations.push(name.to_owned());
        self.operation_ids.insert(name.to_owned(), id);
        id
    }

    /// Records a span.
    pub fn span(&mut self, rec: SpanRec) {
        let operation = rec.operation;
        let status = if rec.error.is_some() {
            SpanStatus::Error
        } else {
            SpanStatus::Ok
        };
        self.spans.push(Span {
            trace_id: rec.trace_id,
            span_id: rec.span_id,
            parent_id: rec.parent_id,
            service: rec.service as u16,
            operation,
            start_us: rec.start_us,
            duration_us: rec.duration_us,
            status,
            http_status: rec.http_status,
            error: rec.error,
        });
    }

    /// Hands the records over, sorted as the telemetry model promises.
    pub fn finish(mut self) -> Finished {
        // Stable sorts keep same-time records in the order they were written; the
        // inputs are nearly sorted already, which stable sorting detects cheaply.
        self.logs.sort_by_key(|l| l.t_ms);
        self.spans.sort_by_key(|s| (s.trace_id, s.start_us));
        self.events.sort_by_key(|e| e.t_ms);
        self.deploys.sort_by_key(|d| d.t_ms);
        Finished {
            log_templates: self.templates,
            logs: self.logs,
            operations: self.operations,
            spans: self.spans,
            events: self.events,
            deploys: self.deploys,
        }
    }
}

/// The records of every modality, ready for [`otrashi_gym::Telemetry`].
pub(crate) struct Finished {
    pub log_templates: Vec<LogTemplate>,
    pub logs: Vec<LogRecord>,
    pub operations: Vec<String>,
    pub spans: Vec<Span>,
    pub events: Vec<Event>,
    pub deploys: Vec<Deploy>,
}

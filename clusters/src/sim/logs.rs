//! Log lines, in each runtime's own format: sampled access lines that agree with the
//! metrics, the errors callers log about their dependencies, and the runtime's messages
//! (stack traces, OOM, startup). Volume is bounded by sampling per service per tick.

use otrashi_gym::telemetry::LogLevel;
use otrashi_scenarios::model::{Runtime, ServiceKind};

use super::engine::Sim;
use super::state::{Edge, OwnError};

fn ms(v: f64) -> String {
    format!("{v:.1}")
}

fn class_name(service: &str) -> String {
    service
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn package(service: &str) -> String {
    service.replace('-', "")
}

/// Startup lines of a pod that just became ready.
pub(crate) fn startup(sim: &mut Sim<'_>, i: usize, t: u32) {
    let p = &sim.prof[i];
    let t_ms = u64::from(t) * 1000;
    let (tpl, args): (&'static str, Vec<String>) = match (p.runtime, p.kind) {
        (Runtime::Java, _) => (
            "INFO 1 --- [           main] c.s.{}.{}Application : Started {}Application in {} seconds (process running for {})",
            vec![
                package(&p.name),
                class_name(&p.name),
                class_name(&p.name),
                format!("{:.3}", f64::from(p.boot_s) * 0.9),
                format!("{:.3}", f64::from(p.boot_s)),
            ],
        ),
        (Runtime::Go, _) => (
            "level=info msg=\"server listening\" addr=:8080 version={}",
            vec![p.version_string()],
        ),
        (Runtime::Python, _) => (
            "[INFO] Booting worker with pid: {}",
            vec![(7 + t % 50).to_string()],
        ),
        (Runtime::Node, _) => (
            "{\"level\":30,\"msg\":\"server listening\",\"port\":8080,\"version\":\"{}\"}",
            vec![p.version_string()],
        ),
        (Runtime::Rust, _) => (
            "INFO {}: listening on 0.0.0.0:8080 version={}",
            vec![package(&p.name), p.version_string()],
        ),
        (Runtime::Native, ServiceKind::Database) => (
            "LOG:  database system is ready to accept connections",
            vec![],
        ),
        (Runtime::Native, ServiceKind::Cache) => ("* Ready to accept connections tcp", vec![]),
        (Runtime::Native, _) => ("Server startup complete; {} plugins started.", vec!["4".into()]),
    };
    sim.line(t_ms, i, LogLevel::Info, tpl, args);
}

/// The line a crash-looping process dies with.
pub(crate) fn fatal_exit(sim: &mut Sim<'_>, i: usize, t: u32) {
    let p = &sim.prof[i];
    let t_ms = u64::from(t) * 1000 + 200;
    // The setting the bad rollout renamed (see the crash-loop diff and config event).
    let env = "DATABASE_URL".to_owned();
    let (tpl, args): (&'static str, Vec<String>) = match p.runtime {
        Runtime::Java => (
            "ERROR 1 --- [           main] o.s.boot.SpringApplication : Application run failed\n\n***************************\nAPPLICATION FAILED TO START\n***************************\n\nDescription:\n\nFailed to bind properties under 'spring.datasource.url' to java.lang.String: {} is not set\n\nFATAL: shutting down",
            vec![env],
        ),
        Runtime::Go => (
            "level=fatal msg=\"failed to load configuration\" err=\"required key {} missing value\"",
            vec![env],
        ),
        Runtime::Python => (
            "[CRITICAL] fatal: could not start application: KeyError: '{}'\n[INFO] Shutting down: Master\n[INFO] Reason: Worker failed to boot.",
            vec![env],
        ),
        Runtime::Node => (
            "{\"level\":60,\"msg\":\"fatal: missing required environment variable {}\"}\nNode.js v20.11.1",
            vec![env],
        ),
        Runtime::Rust => (
            "Error: fatal: failed to load configuration\n\nCaused by:\n    environment variable `{}` not present",
            vec![env],
        ),
        Runtime::Native => (
            "FATAL:  could not load configuration file: invalid value for parameter \"{}\"",
            vec!["shared_buffers".into()],
        ),
    };
    sim.line(t_ms, i, LogLevel::Fatal, tpl, args);
}

/// What the runtime says when memory runs out (before the kernel's kill).
pub(crate) fn oom(sim: &mut Sim<'_>, i: usize, t: u32) {
    let p = &sim.prof[i];
    let t_ms = u64::from(t) * 1000 + 500;
    let (tpl, args): (&'static str, Vec<String>) = match p.runtime {
        Runtime::Java => (
            "Exception in thread \"http-nio-8080-exec-{}\" java.lang.OutOfMemoryError: Java heap space\n\tat java.base/java.util.Arrays.copyOf(Arrays.java:3512)\n\tat java.base/java.util.ArrayList.grow(ArrayList.java:237)\n\tat com.shop.{}.service.{}Service.load({}Service.java:88)",
            vec![(1 + t % 9).to_string(), package(&p.name), class_name(&p.name), class_name(&p.name)],
        ),
        Runtime::Go => (
            "fatal error: runtime: out of memory\n\nruntime stack:\nruntime.throw({0x9a5c3e, 0x16})\n\t/usr/local/go/src/runtime/panic.go:1023 +0x5c\nruntime.sysMap(0xc040000000, 0x4000000, 0x{})",
            vec![format!("{:x}", 0x1000 + t)],
        ),
        Runtime::Node => (
            "<--- Last few GCs --->\n\n[1:0x5f1b2c0] Mark-Compacts (reduce) {} -> {} MB, pooled: 0 MB, 1532.4 / 0.0 ms\n\nFATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
            vec![format!("{:.1}", p.mem_mb * 0.95), format!("{:.1}", p.mem_mb * 0.94)],
        ),
        Runtime::Python => (
            "Traceback (most recent call last):\n  File \"/app/{}/cache.py\", line 41, in render_fragment\n    _FRAGMENTS[(key, ctx[\"request_id\"])] = html\nMemoryError",
            vec![package(&p.name)],
        ),
        Runtime::Rust => (
            "memory allocation of {} bytes failed",
            vec![(1u64 << 20).to_string()],
        ),
        Runtime::Native => (
            "Out of memory allocating {} bytes!",
            vec!["16384".into()],
        ),
    };
    sim.line(t_ms, i, LogLevel::Fatal, tpl, args);
}

/// A request that panics and takes the process down.
pub(crate) fn panic_trace(sim: &mut Sim<'_>, i: usize, t: u32) {
    let p = &sim.prof[i];
    let t_ms = u64::from(t) * 1000 + 100 + sim.rng.logs.below(800) as u64;
    let line = 100 + sim.rng.logs.below(200);
    let pkg = package(&p.name);
    let (tpl, args): (&'static str, Vec<String>) = match p.runtime {
        Runtime::Rust => (
            "thread 'tokio-runtime-worker' panicked at src/handlers/{}.rs:{}:27:\nindex out of bounds: the len is 3 but the index is 3\nstack backtrace:\n   0: rust_begin_unwind\n   1: core::panicking::panic_bounds_check\n   2: {}::handlers::{}::line_totals\n   3: {}::handlers::{}::handle\nnote: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.\nprocess exited with code 101",
            vec![pkg.clone(), line.to_string(), pkg.clone(), pkg.clone(), pkg.clone(), pkg],
        ),
        Runtime::Go => (
            "panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\nmain.(*{}Handler).lineTotals(...)\n\t/app/internal/{}/handler.go:{} +0x1d4\nmain.(*{}Handler).ServeHTTP(0xc0001a2000, {0xa1b2c0, 0xc0002b4000}, 0xc0003c6000)\n\t/app/internal/{}/handler.go:58 +0x2f1\nexit status 2",
            vec![class_name(&p.name), pkg.clone(), line.to_string(), class_name(&p.name), pkg],
        ),
        Runtime::Java => (
            "Exception in thread \"main\" java.lang.ArrayIndexOutOfBoundsException: Index 3 out of bounds for length 3\n\tat com.shop.{}.service.LineTotals.compute(LineTotals.java:{})\n\tat com.shop.{}.web.{}Controller.handle({}Controller.java:58)\n\tat java.base/java.lang.Thread.run(Thread.java:1583)\nHalting JVM on fatal error",
            vec![pkg.clone(), line.to_string(), pkg, class_name(&p.name), class_name(&p.name)],
        ),
        Runtime::Python => (
            "Traceback (most recent call last):\n  File \"/app/{}/handlers.py\", line {}, in line_totals\n    return [lines[i] * prices[i] for i in range(count)]\nIndexError: list index out of range\n[ERROR] Worker (pid:{}) exited with code 1",
            vec![pkg, line.to_string(), (8 + t % 40).to_string()],
        ),
        Runtime::Node => (
            "/app/src/{}/handler.js:{}\n    return lines[idx].price * lines[idx].qty;\n                      ^\n\nTypeError: Cannot read properties of undefined (reading 'price')\n    at lineTotals (/app/src/{}/handler.js:{}:23)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n\nNode.js v20.11.1",
            vec![pkg.clone(), line.to_string(), pkg, line.to_string()],
        ),
        Runtime::Native => ("Assertion failed: {}", vec!["idx < len".into()]),
    };
    sim.line(t_ms, i, LogLevel::Fatal, tpl, args);
}

impl Sim<'_> {
    /// Records a line written outside request handling (startup, crashes), dropping it
    /// when it falls after the window (a restart scheduled past the end).
    pub(crate) fn line(
        &mut self,
        t_ms: u64,
        i: usize,
        level: LogLevel,
        tpl: &'static str,
        args: Vec<String>,
    ) {
        if t_ms < u64::from(self.end_s) * 1000 {
            self.out.log(t_ms, i, level, tpl, args);
        }
    }

    /// Records a line of service `i`, tied to a request traced through it this tick
    /// when there is one: error lines to a trace that failed there, others to any.
    fn emit(&mut self, t_ms: u64, i: usize, level: LogLevel, tpl: &'static str, args: Vec<String>) {
        let trace = if level >= LogLevel::Error {
            self.traced[i].failed.take()
        } else {
            self.traced[i].ok.take()
        };
        self.out.log_traced(t_ms, i, level, tpl, args, trace);
    }

    /// This tick's sampled log lines for every service.
    pub(crate) fn emit_logs(&mut self, t: u32) {
        for i in 0..self.prof.len() {
            let m = self.mods[i];
            if m.frozen || m.removed || m.scaled_zero || self.tick[i].up_pods == 0 {
                continue;
            }
            let base = u64::from(t) * 1000;
            if self.rng.logs.chance(0.3) {
                let at = base + self.rng.logs.below(1000) as u64;
                self.access_line(i, at);
            }
            for k in 0..self.out_edges[i].len() {
                let e = self.edges[self.out_edges[i][k]];
                let fail = e.failed();
                if e.calls > 0.0 && fail > 0.002 && self.rng.logs.chance((0.15 + fail).min(0.5)) {
                    let at = base + self.rng.logs.below(1000) as u64;
                    self.call_failure_line(i, &e, at);
                }
                if e.slow_query > 0.0 && e.calls > 0.0 {
                    self.slow_query_lines(i, &e, base);
                }
            }
            self.own_lines(i, t, base);
        }
    }

    fn access_line(&mut self, i: usize, t_ms: u64) {
        let tk = self.tick[i];
        if tk.completed <= 0.0 {
            return;
        }
        let r = tk.resp;
        let (mu, sigma) = r.body.to_lognormal();
        let u = self.rng.logs.f64();
        let z = self.rng.logs.standard_normal();
        let err = tk.err5 / tk.completed;
        let e4 = tk.err4 / tk.completed;
        let (status, dur) = if u < err {
            let slow = r.slow_fail + r.hang;
            if self.rng.logs.f64() * (r.fast_fail + slow + 1e-12) < slow {
                (
                    if r.hang > r.slow_fail { 503 } else { 504 },
                    r.slow_ms.max(1000.0),
                )
            } else {
                (500, r.fast_ms.max(libm::exp(mu + sigma * z) * 0.5))
            }
        } else if u < err + e4 {
            (
                *self.rng.logs.pick(&[400, 404, 422]),
                libm::exp(mu + sigma * z) * 0.3,
            )
        } else {
            (200, libm::exp(mu + sigma * z))
        };
        let p = &self.prof[i];
        let level = if status >= 500 {
            LogLevel::Error
        } else {
            LogLevel::Info
        };
        let route = p.route.clone();
        let (tpl, args): (&'static str, Vec<String>) = match (p.runtime, p.kind) {
            (Runtime::Go, _) => (
                "level=info msg=\"request completed\" method=GET path={} status={} duration_ms={}",
                vec![route, status.to_string(), ms(dur)],
            ),
            (Runtime::Java, _) => (
                "INFO 1 --- [nio-8080-exec-{}] c.s.{}.web.AccessLogFilter : GET {} {} {}ms",
                vec![(1 + t_ms % 9).to_string(), package(&p.name), route, status.to_string(), ms(dur)],
            ),
            (Runtime::Python, _) => (
                "{} - \"GET {} HTTP/1.1\" {} {}ms",
                vec![self.caller_ip(i), route, status.to_string(), ms(dur)],
            ),
            (Runtime::Node, _) => (
                "GET {} {} {} ms - {}",
                vec![route, status.to_string(), format!("{dur:.3}"), ((p.resp_kb * 1000.0) as u64).to_string()],
            ),
            (Runtime::Rust, _) => (
                "INFO http_request{method=GET path={}}: tower_http::trace::on_response: finished processing request latency={} ms status={}",
                vec![route, ms(dur), status.to_string()],
            ),
            (Runtime::Native, ServiceKind::Database) => {
                // Postgres logs statements only past log_min_duration_statement.
                if dur < 250.0 {
                    return;
                }
                (
                    "LOG:  duration: {} ms  statement: SELECT * FROM {} WHERE id = $1",
                    vec![ms(dur), self.prof[self.some_caller(i)].table.clone()],
                )
            }
            (Runtime::Native, _) => return,
        };
        let level = if (400..500).contains(&status) {
            LogLevel::Warn
        } else {
            level
        };
        self.emit(t_ms, i, level, tpl, args);
    }

    fn caller_ip(&self, i: usize) -> String {
        self.prof[self.some_caller(i)].ip.clone()
    }

    /// A caller of `i` (itself when nobody calls it).
    fn some_caller(&self, i: usize) -> usize {
        self.edges.iter().find(|e| e.to == i).map_or(i, |e| e.from)
    }

    /// A caller's line about a failed call, in the caller's runtime.
    fn call_failure_line(&mut self, i: usize, e: &Edge, t_ms: u64) {
        let classes = [
            e.refused,
            e.dns,
            e.conn_timeout,
            e.read_timeout,
            e.upstream_5xx,
            e.reset,
        ];
        let total: f64 = classes.iter().sum();
        if total <= 0.0 {
            return;
        }
        let mut u = self.rng.logs.f64() * total;
        let mut class = 0;
        for (k, c) in classes.iter().enumerate() {
            if u < *c {
                class = k;
                break;
            }
            u -= c;
            class = k;
        }
        if matches!(
            self.prof[e.to].kind,
            ServiceKind::Database | ServiceKind::Cache | ServiceKind::Queue
        ) {
            self.datastore_failure_line(i, e, class, t_ms);
            return;
        }
        let status = if e.slow_5xx * 2.0 > e.upstream_5xx {
            "504"
        } else if self.tick[e.to].resp.body_err > 0.0 {
            "500"
        } else {
            "502"
        };
        let peer = self.prof[e.to].name.clone();
        let ip = self.prof[e.to].ip.clone();
        let route = self.prof[e.to].route.clone();
        let timeout = self.prof[i].timeout_ms;
        let rt = self.prof[i].runtime;
        let (tpl, args): (&'static str, Vec<String>) = match (class, rt) {
            (0, Runtime::Go) => ("level=error msg=\"upstream call failed\" peer={} err=\"dial tcp {}:8080: connect: connection refused\"", vec![peer, ip]),
            (0, Runtime::Java) => ("ERROR 1 --- [nio-8080-exec-3] c.s.client.UpstreamClient : I/O error on GET request for \"http://{}:8080{}\": Connection refused", vec![peer, route]),
            (0, Runtime::Python) => ("ERROR upstream call failed: requests.exceptions.ConnectionError: HTTPConnectionPool(host='{}', port=8080): Max retries exceeded (Caused by NewConnectionError('Failed to establish a new connection: [Errno 111] Connection refused'))", vec![peer]),
            (0, Runtime::Node) => ("{\"level\":50,\"msg\":\"upstream call failed\",\"peer\":\"{}\",\"err\":\"connect ECONNREFUSED {}:8080\"}", vec![peer, ip]),
            (0, _) => ("ERROR upstream call to {} failed: error trying to connect: tcp connect error: Connection refused (os error 111)", vec![peer]),
            (1, Runtime::Go) => ("level=error msg=\"upstream call failed\" peer={} err=\"dial tcp: lookup {} on 10.96.0.10:53: no such host\"", vec![peer.clone(), peer]),
            (1, Runtime::Java) => ("ERROR 1 --- [nio-8080-exec-5] c.s.client.UpstreamClient : I/O error on GET request for \"http://{}:8080{}\": {}: no such host; nested exception is java.net.UnknownHostException", vec![peer.clone(), route, peer]),
            (1, Runtime::Python) => ("ERROR upstream call failed: NameResolutionError: Failed to resolve '{}' ([Errno -2] Name or service not known)", vec![peer]),
            (1, Runtime::Node) => ("{\"level\":50,\"msg\":\"upstream call failed\",\"err\":\"getaddrinfo ENOTFOUND {}\"}", vec![peer]),
            (1, _) => ("ERROR upstream call to {} failed: dns error: failed to lookup address information: no such host", vec![peer]),
            (2, Runtime::Go) => ("level=error msg=\"upstream connect timeout\" peer={} err=\"dial tcp {}:8080: i/o timeout\"", vec![peer, ip]),
            (2, Runtime::Java) => ("ERROR 1 --- [nio-8080-exec-2] c.s.client.UpstreamClient : connect timeout: Connect to {}:8080 [/{}] failed: connect timed out", vec![peer, ip]),
            (2, Runtime::Python) => ("ERROR upstream call failed: ConnectTimeoutError: Connection to {} timed out. (connect timeout={})", vec![peer, format!("{:.0}", timeout / 1000.0)]),
            (2, Runtime::Node) => ("{\"level\":50,\"msg\":\"upstream connect timeout\",\"err\":\"connect ETIMEDOUT {}:8080\"}", vec![ip]),
            (2, _) => ("ERROR upstream call to {} failed: error trying to connect: connect timeout", vec![peer]),
            (3, Runtime::Go) => ("level=error msg=\"upstream timeout\" peer={} err=\"Get \\\"http://{}:8080{}\\\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)\"", vec![peer.clone(), peer, route]),
            (3, Runtime::Java) => ("ERROR 1 --- [nio-8080-exec-7] c.s.client.UpstreamClient : upstream timeout calling {}: java.net.SocketTimeoutException: Read timed out", vec![peer]),
            (3, Runtime::Python) => ("ERROR upstream timeout: ReadTimeout: HTTPConnectionPool(host='{}', port=8080): Read timed out. (read timeout={})", vec![peer, format!("{:.0}", timeout / 1000.0)]),
            (3, Runtime::Node) => ("{\"level\":50,\"msg\":\"upstream timeout\",\"peer\":\"{}\",\"err\":\"timeout of {}ms exceeded\"}", vec![peer, format!("{timeout:.0}")]),
            (3, _) => ("ERROR upstream timeout calling {}: operation timed out after {}ms", vec![peer, format!("{timeout:.0}")]),
            (4, Runtime::Go) => ("level=error msg=\"upstream returned error\" peer={} status={}", vec![peer, status.into()]),
            (4, Runtime::Java) => ("ERROR 1 --- [nio-8080-exec-4] c.s.client.UpstreamClient : GET http://{}:8080{} failed: {} Server Error", vec![peer, route, status.into()]),
            (4, Runtime::Python) => ("ERROR upstream returned error: {} Server Error for url: http://{}:8080{}", vec![status.into(), peer, route]),
            (4, Runtime::Node) => ("{\"level\":50,\"msg\":\"upstream returned error\",\"peer\":\"{}\",\"status\":{}}", vec![peer, status.into()]),
            (4, _) => ("ERROR upstream {} returned {}", vec![peer, status.into()]),
            (_, Runtime::Go) => ("level=error msg=\"upstream call failed\" peer={} err=\"read tcp {}:8080: connection reset by peer\"", vec![peer, ip]),
            (_, Runtime::Java) => ("ERROR 1 --- [nio-8080-exec-6] c.s.client.UpstreamClient : I/O error calling {}: java.net.SocketException: Connection reset", vec![peer]),
            (_, Runtime::Python) => ("ERROR upstream call failed: ConnectionResetError: [Errno 104] Connection reset by peer ({})", vec![peer]),
            (_, Runtime::Node) => ("{\"level\":50,\"msg\":\"upstream call failed\",\"peer\":\"{}\",\"err\":\"read ECONNRESET\"}", vec![peer]),
            (_, _) => ("ERROR upstream call to {} failed: connection reset by peer", vec![peer]),
        };
        self.emit(t_ms, i, LogLevel::Error, tpl, args);
    }

    /// A client library's error about a datastore (a database driver, a Redis or AMQP
    /// client), which reads differently from an HTTP client's.
    fn datastore_failure_line(&mut self, i: usize, e: &Edge, class: usize, t_ms: u64) {
        let store = &self.prof[e.to];
        let peer = store.name.clone();
        let ip = store.ip.clone();
        let rt = self.prof[i].runtime;
        let timeout = format!("{:.0}", self.prof[i].timeout_ms);
        let (tpl, args): (&'static str, Vec<String>) = match store.kind {
            ServiceKind::Database => {
                let driver = match rt {
                    Runtime::Go => "pgx",
                    Runtime::Java => "org.postgresql.util.PSQLException",
                    Runtime::Python => "psycopg2.OperationalError",
                    Runtime::Node => "Error",
                    _ => "sqlx::Error",
                };
                let d = driver.to_owned();
                match class {
                    0 => ("{}: connection to server at \"{}\" ({}), port 5432 failed: Connection refused", vec![d, peer, ip]),
                    1 => ("{}: failed to connect to host={}: hostname resolving error: lookup {} on 10.96.0.10:53: no such host", vec![d, peer.clone(), peer]),
                    2 => ("{}: connection to server at \"{}\" ({}), port 5432 failed: timeout expired (connect timeout)", vec![d, peer, ip]),
                    3 => ("{}: upstream timeout: query on {} exceeded {}ms: canceling statement due to statement timeout", vec![d, peer, timeout]),
                    4 => ("{}: query on {} failed: ERROR: could not complete the statement (SQLSTATE 58030)", vec![d, peer]),
                    _ => ("{}: query on {} failed: server closed the connection unexpectedly (connection reset by peer)", vec![d, peer]),
                }
            }
            _ => {
                let port = if store.kind == ServiceKind::Cache {
                    "6379"
                } else {
                    "5672"
                };
                let client = match (rt, store.kind) {
                    (Runtime::Go, _) => "redis",
                    (Runtime::Java, ServiceKind::Cache) => {
                        "io.lettuce.core.RedisConnectionException"
                    }
                    (Runtime::Python, ServiceKind::Cache) => "redis.exceptions.ConnectionError",
                    (Runtime::Java, _) => "com.rabbitmq.client.ShutdownSignalException",
                    (Runtime::Python, _) => "pika.exceptions.AMQPConnectionError",
                    _ => "Error",
                };
                let c = client.to_owned();
                match class {
                    0 => ("{}: Error 111 connecting to {}:{}. Connection refused.", vec![c, peer, port.into()]),
                    1 => ("{}: Error -2 connecting to {}:{}. Name or service not known (lookup: no such host).", vec![c, peer, port.into()]),
                    2 => ("{}: connect timeout connecting to {}:{}", vec![c, peer, port.into()]),
                    3 => ("{}: upstream timeout reading from {}:{} after {}ms", vec![c, peer, port.into(), timeout]),
                    4 => ("{}: {} replied with an error: MISCONF errors writing to disk, commands that may modify the data set are disabled", vec![c, peer]),
                    _ => ("{}: Connection reset by peer while reading from {}:{}", vec![c, peer, port.into()]),
                }
            }
        };
        self.emit(t_ms, i, LogLevel::Error, tpl, args);
    }

    fn slow_query_lines(&mut self, i: usize, e: &Edge, base: u64) {
        let db = e.to;
        let dur = e.slow_query * libm::exp(self.rng.logs.normal(0.0, 0.25));
        let table = self.prof[i].table.clone();
        if self.rng.logs.chance(0.35) {
            let at = base + self.rng.logs.below(1000) as u64;
            self.emit(
                at,
                db,
                LogLevel::Info,
                "LOG:  duration: {} ms  statement: SELECT {}.* FROM {} WHERE lower(customer_email) LIKE $1 ORDER BY created_at DESC",
                vec![ms(dur), table.clone(), table.clone()],
            );
        }
        if self.rng.logs.chance(0.1) {
            let at = base + self.rng.logs.below(1000) as u64;
            self.emit(
                at,
                i,
                LogLevel::Warn,
                "slow query on {} took {}ms: SELECT * FROM {} WHERE lower(customer_email) LIKE ?",
                vec![self.prof[db].name.clone(), format!("{dur:.0}"), table],
            );
        }
    }

    /// Lines about the service's own trouble: exceptions, pools, disks, GC, retries.
    fn own_lines(&mut self, i: usize, t: u32, base: u64) {
        let m = self.mods[i];
        let tk = self.tick[i];
        let at = base + self.rng.logs.below(1000) as u64;
        if m.own_err > 0.0 && self.rng.logs.chance(0.3) {
            match m.own_err_kind {
                OwnError::BadConfig => self.bad_config_line(i, at),
                _ => self.exception_line(i, at),
            }
        }
        if tk.pool_fail > 0.0 && self.rng.logs.chance((0.1 + tk.pool_fail).min(0.45)) {
            self.pool_line(i, at);
        }
        if m.disk_fill >= 0.99 && self.rng.logs.chance(0.3) {
            self.disk_full_line(i, at);
        }
        if m.disk_lat > 0.0 && self.rng.logs.chance(0.12) {
            let took = format!("{:.0}", m.disk_lat * self.rng.logs.uniform(2.0, 6.0));
            let (tpl, args): (&'static str, Vec<String>) = match self.prof[i].kind {
                ServiceKind::Cache => ("# Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis. (slow fsync {}ms)", vec![took]),
                ServiceKind::Database => ("WARNING:  slow fsync of \"pg_wal/00000001000000{}\" took {} ms", vec![format!("{:08X}", 0x2A0 + t / 30), took]),
                _ => ("WARN slow fsync on /data/{}.log took {}ms", vec![package(&self.prof[i].name), took]),
            };
            self.emit(at, i, LogLevel::Warn, tpl, args);
        }
        if tk.gc_pressure > 0.05 && self.rng.logs.chance((tk.gc_pressure * 0.3).min(0.4)) {
            self.gc_line(i, at);
        }
        if m.call_mult > 1.0 && self.rng.logs.chance(0.4) {
            if let Some(&e) = self.out_edges[i].first() {
                let peer = self.prof[self.edges[e].to].name.clone();
                let attempt = 2 + self.rng.logs.below(9);
                self.emit(
                    at,
                    i,
                    LogLevel::Warn,
                    "retrying request to {} (attempt {}/10): {}",
                    vec![
                        peer,
                        attempt.to_string(),
                        "upstream request timed out".into(),
                    ],
                );
            }
        }
        if m.stuck_rollout && t % 10 == 5 {
            let v = self.prof[i].version_string();
            self.emit(
                at,
                i,
                LogLevel::Warn,
                "readiness check failed on {}: dependency check \"{}\" not ready",
                vec![v, "feature-store".into()],
            );
        }
    }

    fn exception_line(&mut self, i: usize, at: u64) {
        let p = &self.prof[i];
        let pkg = package(&p.name);
        let cls = class_name(&p.name);
        let (tpl, args): (&'static str, Vec<String>) = match p.runtime {
            Runtime::Java => ("ERROR 1 --- [nio-8080-exec-{}] o.a.c.c.C.[.[.[/].[dispatcherServlet] : Servlet.service() threw exception\njava.lang.NullPointerException: Cannot invoke \"com.shop.{}.model.Price.amount()\" because \"price\" is null\n\tat com.shop.{}.service.PricingService.total(PricingService.java:142)\n\tat com.shop.{}.web.{}Controller.get({}Controller.java:57)", vec![(1 + at % 9).to_string(), pkg.clone(), pkg.clone(), pkg, cls.clone(), cls]),
            Runtime::Go => ("level=error msg=\"unhandled exception in handler\" path={} err=\"pricing: nil price for sku\" stack=\"goroutine 4821 [running]:\\nmain.(*{}Handler).total(...)\\n\\t/app/internal/{}/pricing.go:142\"", vec![p.route.clone(), cls, pkg]),
            Runtime::Python => ("Exception on {} [GET]\nTraceback (most recent call last):\n  File \"/app/{}/pricing.py\", line 142, in total\n    return sum(item[\"price\"] * item[\"qty\"] for item in items)\nKeyError: 'price'", vec![p.route.clone(), pkg]),
            Runtime::Node => ("{\"level\":50,\"msg\":\"unhandled exception\",\"err\":\"TypeError: Cannot read properties of null (reading 'amount')\\n    at total (/app/src/{}/pricing.js:142:31)\\n    at handle (/app/src/{}/routes.js:57:18)\"}", vec![pkg.clone(), pkg]),
            Runtime::Rust => ("ERROR {}::handlers: request failed: Exception in pricing: price missing for sku\n   0: {}::pricing::total\n             at ./src/pricing.rs:142:18", vec![pkg.clone(), pkg]),
            Runtime::Native => ("ERROR:  internal error: {}", vec!["unexpected state".into()]),
        };
        self.emit(at, i, LogLevel::Error, tpl, args);
    }

    fn bad_config_line(&mut self, i: usize, at: u64) {
        let key = super::effects::env_key(&self.prof[i].name);
        let (tpl, args): (&'static str, Vec<String>) = match self.prof[i].runtime {
            Runtime::Java => ("ERROR 1 --- [nio-8080-exec-2] c.s.config.Settings : invalid configuration: {}=\"{}\" cannot be converted to java.time.Duration", vec![key, "5".into()]),
            Runtime::Go => ("level=error msg=\"invalid configuration\" key={} value=\"{}\" err=\"time: missing unit in duration\"", vec![key, "5".into()]),
            Runtime::Python => ("ERROR invalid configuration: {}='{}' (expected a duration like '5s')", vec![key, "5".into()]),
            Runtime::Node => ("{\"level\":50,\"msg\":\"invalid configuration\",\"key\":\"{}\",\"value\":\"{}\"}", vec![key, "5".into()]),
            _ => ("ERROR invalid configuration: {}=\"{}\" is not a duration", vec![key, "5".into()]),
        };
        self.emit(at, i, LogLevel::Error, tpl, args);
    }

    fn pool_line(&mut self, i: usize, at: u64) {
        let pool = format!("{:.0}", self.prof[i].pool_size);
        let (tpl, args): (&'static str, Vec<String>) = match self.prof[i].runtime {
            Runtime::Java => ("ERROR 1 --- [nio-8080-exec-8] c.s.db.Repository : timeout acquiring connection from pool: java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30000ms (total={}, active={}, idle=0, waiting={})", vec![pool.clone(), pool, (5 + at % 40).to_string()]),
            Runtime::Go => ("level=error msg=\"timeout acquiring connection from pool\" in_use={} max={} wait=30s", vec![pool.clone(), pool]),
            Runtime::Python => ("ERROR timeout acquiring connection from pool: sqlalchemy.exc.TimeoutError: QueuePool limit of size {} overflow 0 reached, connection timed out, timeout 30.00", vec![pool]),
            Runtime::Node => ("{\"level\":50,\"msg\":\"timeout acquiring connection from pool\",\"max\":{},\"err\":\"TimeoutError: ResourceRequest timed out\"}", vec![pool]),
            _ => ("ERROR timeout acquiring connection from pool (max_size={}): timed out after 30s", vec![pool]),
        };
        self.emit(at, i, LogLevel::Error, tpl, args);
    }

    fn disk_full_line(&mut self, i: usize, at: u64) {
        let p = &self.prof[i];
        let (tpl, args): (&'static str, Vec<String>) = match (p.kind, p.runtime) {
            (ServiceKind::Database, _) => ("PANIC:  could not write to file \"pg_wal/xlogtemp.{}\": No space left on device", vec![(100 + at % 900).to_string()]),
            (ServiceKind::Cache, _) => ("# Write error saving DB on disk: No space left on device", vec![]),
            (_, Runtime::Java) => ("ERROR 1 --- [nio-8080-exec-1] c.s.{}.store.LocalStore : write failed: java.io.IOException: No space left on device", vec![package(&p.name)]),
            (_, Runtime::Python) => ("ERROR write failed: OSError: [Errno 28] No space left on device: '/data/{}/spool.tmp'", vec![package(&p.name)]),
            (_, Runtime::Node) => ("{\"level\":50,\"msg\":\"write failed\",\"err\":\"ENOSPC: no space left on device, write '/data/{}.tmp'\"}", vec![package(&p.name)]),
            _ => ("level=error msg=\"write failed\" err=\"write /data/{}.wal: No space left on device\"", vec![package(&p.name)]),
        };
        self.emit(at, i, LogLevel::Error, tpl, args);
    }

    fn gc_line(&mut self, i: usize, at: u64) {
        let p = &self.prof[i];
        let tk = self.tick[i];
        let pause = format!(
            "{:.0}",
            120.0 + 400.0 * tk.gc_pressure.min(1.0) * self.rng.logs.uniform(0.5, 1.5)
        );
        let heap = format!("{:.0}", tk.rss_mb);
        let limit = format!("{:.0}", tk.mem_limit);
        let (tpl, args): (&'static str, Vec<String>) = match p.runtime {
            Runtime::Java => ("[gc] GC pause (G1 Evacuation Pause) {}M->{}M({}M) {}ms", vec![heap.clone(), heap, limit, pause]),
            Runtime::Go => ("level=warn msg=\"long GC pause\" pause_ms={} heap_mb={} limit_mb={}", vec![pause, heap, limit]),
            Runtime::Node => ("{\"level\":40,\"msg\":\"long GC pause\",\"pause_ms\":{},\"heap_mb\":{},\"limit_mb\":{}}", vec![pause, heap, limit]),
            _ => ("WARN memory pressure: GC pause {}ms, rss {}MB of {}MB", vec![pause, heap, limit]),
        };
        self.emit(at, i, LogLevel::Warn, tpl, args);
    }
}

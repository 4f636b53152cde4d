#![allow(missing_docs, clippy::unwrap_used)]
mod common;
use common::*;
use otrashi_clusters::simulate;
use otrashi_scenarios::catalog::FaultKind;

#[test]
#[ignore = "debug dump"]
fn dump() {
    let only = std::env::var("KIND").ok();
    for &kind in FaultKind::ALL {
        if let Some(o) = &only {
            if !kind.as_str().contains(o.as_str()) {
                continue;
            }
        }
        let target = "cart";
        let inc = incident(shop(), vec![fault(kind, target, None, &[])], 7);
        let t0 = std::time::Instant::now();
        let tel = simulate(&inc);
        let el = t0.elapsed();
        let v = View::new(&tel);
        println!(
            "=== {kind} ({el:?}) logs={} spans={} events={} series={}",
            tel.logs.len(),
            tel.spans.len(),
            tel.events.len(),
            tel.metrics.len()
        );
        for s in [
            "frontend", "cart", "checkout", "catalog", "redis", "postgres",
        ] {
            println!("  {s:9} rps {:7.1}->{:7.1} err {:.3}->{:.3} p99 {:.3}->{:.3} cpu {:.3}->{:.3} proc {:.3}->{:.3} thr {:.2}->{:.2} rss {:.0}->{:.0} nan_up {} restarts {:.0} pool {:.1}->{:.1}",
                v.req_rate(s, BASE.0, BASE.1), v.req_rate(s, HOT.0, HOT.1),
                v.error_ratio(s, BASE.0, BASE.1), v.error_ratio(s, HOT.0, HOT.1),
                v.p99(s, BASE.0, BASE.1), v.p99(s, HOT.0, HOT.1),
                v.rate("container_cpu_usage_seconds_total", s, &[], BASE.0, BASE.1), v.rate("container_cpu_usage_seconds_total", s, &[], HOT.0, HOT.1),
                v.rate("process_cpu_seconds_total", s, &[], BASE.0, BASE.1), v.rate("process_cpu_seconds_total", s, &[], HOT.0, HOT.1),
                v.rate("container_cpu_cfs_throttled_periods_total", s, &[], BASE.0, BASE.1), v.rate("container_cpu_cfs_throttled_periods_total", s, &[], HOT.0, HOT.1),
                v.mean("process_resident_memory_bytes", s, &[], BASE.0, BASE.1)/1e6, v.max("process_resident_memory_bytes", s, &[], HOT.0, HOT.1)/1e6,
                v.nans("up", s, &[], 0, END_S) + v.window(v.series("up", s, &[]), HOT.0, HOT.1).iter().filter(|x| **x == 0.0).count(),
                v.max("kube_pod_container_status_restarts_total", s, &[], 0, END_S),
                v.mean("db_pool_connections_in_use", if s=="redis"||s=="postgres" {"cart"} else {s}, &[], BASE.0, BASE.1), v.max("db_pool_connections_in_use", if s=="redis"||s=="postgres" {"cart"} else {s}, &[], HOT.0, HOT.1),
            );
        }
        let mut reasons: std::collections::BTreeMap<String, usize> = Default::default();
        for e in &tel.events {
            *reasons
                .entry(format!("{}:{}", tel.services[e.service as usize], e.reason))
                .or_default() += 1;
        }
        println!("  events {reasons:?}");
        for e in tel.events.iter().take(3) {
            println!("    ev {} {} {}", e.t_ms, e.reason, e.message);
        }
        println!(
            "  deploys {:?}",
            tel.deploys
                .iter()
                .map(|d| (&d.id, &d.title, tel.services[d.service as usize].clone()))
                .collect::<Vec<_>>()
        );
        println!("  alert {:?}", tel.alert);
        let mut tpl: std::collections::BTreeMap<(String, u32), usize> = Default::default();
        for l in &tel.logs {
            if l.t_ms >= AT_S * 1000 {
                *tpl.entry((tel.services[l.service as usize].clone(), l.template))
                    .or_default() += 1;
            }
        }
        for ((s, k), n) in tpl.iter().filter(|(_, n)| **n >= 1) {
            let text = &tel.log_templates[*k as usize].text;
            println!("    log {s} x{n}: {}", text.lines().next().unwrap_or(""));
        }
        let errs = tel.spans.iter().filter(|s| s.error.is_some()).count();
        println!("  spans err {errs}/{}", tel.spans.len());
    }
}

#[test]
#[ignore = "debug dump"]
fn series() {
    let kind = FaultKind::parse(&std::env::var("KIND").unwrap()).unwrap();
    let name = std::env::var("SERIES").unwrap();
    let svc = std::env::var("SVC").unwrap();
    let tel = simulate(&incident(shop(), vec![fault(kind, "cart", None, &[])], 11));
    let v = View::new(&tel);
    for s in tel
        .metrics
        .iter()
        .filter(|s| s.name == name && s.service == v.id(&svc))
    {
        println!("{:?} {:?}", s.labels, s.values);
    }
}

#[test]
#[ignore = "debug dump"]
fn render() {
    let kind = FaultKind::parse(&std::env::var("KIND").unwrap()).unwrap();
    let target = std::env::var("TARGET").unwrap_or("cart".into());
    let tel = simulate(&incident(shop(), vec![fault(kind, &target, None, &[])], 11));
    let mut seen = std::collections::BTreeSet::new();
    for l in &tel.logs {
        if seen.insert((l.service, l.template)) {
            println!(
                "[{:>6}] {:9} {:5} {}",
                l.t_ms,
                tel.services[l.service as usize],
                l.level.as_str(),
                tel.log_templates[l.template as usize].render(&l.args)
            );
        }
    }
    for e in &tel.events {
        println!(
            "EV {:>6} {} {:?} {} {}",
            e.t_ms, tel.services[e.service as usize], e.event_type, e.reason, e.message
        );
    }
    for d in &tel.deploys {
        println!(
            "DEPLOY {} {} {}->{} {} {}\n{}",
            d.id, d.t_ms, d.from_version, d.to_version, d.author, d.title, d.diff
        );
    }
    println!("{:?}", tel.alert);
    let err: Vec<_> = tel
        .spans
        .iter()
        .filter(|s| s.error.is_some())
        .take(5)
        .collect();
    for s in err {
        println!(
            "SPAN {} {} {} {}us {} {:?}",
            s.trace_id,
            tel.services[s.service as usize],
            tel.operations[s.operation as usize],
            s.duration_us,
            s.http_status,
            s.error
        );
    }
}

//! Guessing what went wrong on a suspect, from the clues seen on it.

use otrashi_scenarios::FaultKind;

use super::findings::Findings;

impl Findings {
    /// The kind a configuration change on `service` points at, from its message (the
    /// first change, which is the one that can have started the trouble).
    pub fn config_hint(&self, service: &str) -> Option<FaultKind> {
        use FaultKind as K;
        let e = self
            .events
            .iter()
            .find(|e| e.service == service && e.reason == "ConfigChanged")?;
        let m = e.message.to_lowercase();
        let table: [(&str, K); 12] = [
            ("coredns", K::DnsFailure),
            ("networkpolicy", K::NetworkPartition),
            ("pruned", K::DependencyRemoved),
            ("-> 0", K::ScaleToZero),
            ("targetport", K::MisroutedPort),
            ("livenessprobe", K::LivenessProbeMisconfig),
            ("memory limit", K::OomKill),
            ("cpu limit", K::CpuThrottle),
            ("retries", K::RetryStorm),
            ("cache_", K::CacheBypass),
            ("_database_url", K::CrashLoop),
            ("env ", K::BadEnvConfig),
        ];
        table
            .iter()
            .find(|(k, _)| m.contains(k))
            .map(|(_, kind)| *kind)
    }

    fn peer_hit(&self, service: &str, signal: &str) -> bool {
        self.peer_hits
            .iter()
            .any(|p| p.peer == service && p.signal == signal)
    }

    /// A guess at what went wrong on `service`, with how strongly the signals agree
    /// (0.3 weak, 0.45 medium, 0.6 strong).
    pub fn guess_kind(&self, service: &str, onset: Option<i64>) -> (FaultKind, f64) {
        use FaultKind as K;
        let s = service;
        if let Some(kind) = self.config_hint(s) {
            return (kind, 0.6);
        }
        let deployed = self.deploy_before(s, onset).is_some();
        let no_data = self.gaps.iter().any(|g| g.0 == s) || self.has_hit(s, "up");
        let oom = self.has_event(s, "OOMKilled") || self.has_class(s, "oom");
        let restarting = self.has_event(s, "BackOff") || self.has_hit(s, "restarts");
        let liveness = self.event_says(s, "Unhealthy", "liveness");
        let readiness = self.event_says(s, "Unhealthy", "readiness");
        // Pods stopped by someone, not by a probe, a scale-down or a crash.
        let deleted_pods = self.event_says(s, "Killing", "stopping container")
            && !self.has_event(s, "ScalingReplicaSet");
        let callers_time_out = self.mentioned(s, "timeout") || self.peer_hit(s, "client_timeouts");
        let callers_refused = self.mentioned(s, "refused");
        let hit = |signal: &str| self.has_hit(s, signal);
        let class = |c: &str| self.has_class(s, c);
        let cpu_busy = hit("cpu") || hit("throttling");
        let by_deploy = |with: K, without: K| if deployed { with } else { without };
        // First match wins; the order encodes which clue is the more specific.
        #[rustfmt::skip]
        let rules: Vec<(bool, K, f64)> = vec![
            (self.has_event(s, "Deleted"), K::DependencyRemoved, 0.6),
            (self.mentioned(s, "dns"), K::DnsFailure, 0.55),
            (oom && (deployed || hit("memory")), K::MemoryLeak, 0.5),
            (oom, K::OomKill, 0.4),
            (class("panic") && restarting, K::PanicCrash, 0.5),
            (readiness && deployed, K::FailedDeploy, 0.5),
            (liveness, K::LivenessProbeMisconfig, 0.5),
            (deleted_pods && !restarting && !deployed, K::PodKill, 0.5),
            (restarting && deployed, K::PanicCrash, 0.4),
            (hit("available") && deployed, K::FailedDeploy, 0.4),
            (restarting, K::CrashLoop, 0.4),
            (class("pool") || hit("pool") && !callers_time_out, K::ConnectionLeak, 0.5),
            (class("disk_full") || hit("disk_usage"), K::DiskFull, 0.55),
            (class("disk_slow") || hit("disk_io"), K::DiskSlow, 0.45),
            (class("config"), K::BadEnvConfig, 0.5),
            (class("slow_query"), K::SlowQuery, 0.45),
            (hit("cache_hit"), K::CacheBypass, 0.5),
            (class("retry") || hit("client_requests"), K::RetryStorm, 0.45),
            (class("gc") && !deployed, K::MemoryPressure, 0.4),
            (hit("process_cpu"), by_deploy(K::HotLoop, K::CpuSaturation), 0.45),
            (hit("throttling") && !hit("cpu"), K::CpuThrottle, 0.4),
            (cpu_busy, by_deploy(K::HotLoop, K::CpuSaturation), 0.4),
            (callers_refused, if no_data { K::ScaleToZero } else { K::MisroutedPort }, 0.35),
            (no_data && callers_time_out, K::ProcessFreeze, 0.45),
            (no_data, K::ProcessFreeze, 0.3),
            (class("reset") || self.mentioned(s, "reset") || hit("retransmits"), K::NetworkLoss, 0.35),
            (hit("memory"), by_deploy(K::MemoryLeak, K::MemoryPressure), 0.4),
            (hit("db_latency"), K::SlowQuery, 0.3),
            (callers_time_out && !hit("errors"), K::NetworkPartition, 0.3),
            // Calls into it got slower while its own handling did not: the network.
            (self.peer_hit(s, "client_latency") && !hit("latency"), K::NetworkDelay, 0.35),
        ];
        if let Some((_, kind, strength)) = rules.iter().find(|(hit, _, _)| *hit) {
            return (*kind, *strength);
        }
        match (hit("errors"), hit("latency"), deployed) {
            (true, _, true) => (K::ErrorInjection, 0.45),
            (_, true, true) => (K::SlowHandler, 0.4),
            (true, _, false) => (K::ErrorInjection, 0.25),
            (_, true, false) => (K::NetworkDelay, 0.3),
            _ if callers_time_out => (K::NetworkPartition, 0.25),
            _ => (K::ErrorInjection, 0.2),
        }
    }
}

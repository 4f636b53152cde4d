//! One test per validation rule, each pinning the exact line and column of the
//! diagnostic and what its message says.

#![allow(clippy::unwrap_used)]

use otrashi_scenarios::{parse_str, Diagnostic};

/// A valid scenario on the bundled `shop` topology; tests replace single lines.
const SHOP: &str = "\
apiVersion: otrashi/v1
kind: Scenario
metadata: {name: t}
topology: shop
timeline: {warmup: 60s, duration: 5m}
faults:
  - id: f
    kind: code.memory_leak
    target: cart
    at: 90s
";

/// A valid scenario with an inline topology.
const INLINE: &str = "\
apiVersion: otrashi/v1
kind: Scenario
metadata: {name: t}
topology:
  entry: web
  services:
    web: {kind: web, calls: [api]}
    api: {kind: api, calls: [db]}
    db: {kind: database}
faults:
  - {id: f, kind: error_injection, target: api, at: 90s}
";

/// `base` with line `n` (1-based) replaced by `text` (which may hold several lines).
fn with(base: &str, n: usize, text: &str) -> String {
    let mut lines: Vec<&str> = base.lines().collect();
    lines[n - 1] = text;
    lines.join("\n") + "\n"
}

/// `base` with `text` appended.
fn plus(base: &str, text: &str) -> String {
    format!("{base}{text}\n")
}

/// The 1-based column of `needle` in line `n` of `source`.
fn col(source: &str, n: usize, needle: &str) -> usize {
    source.lines().nth(n - 1).unwrap().find(needle).unwrap() + 1
}

/// The diagnostic at `line:column` whose message contains `needle`; fails with every
/// diagnostic shown otherwise.
fn diag_at(source: &str, line: usize, column: usize, needle: &str) -> Diagnostic {
    let err = match parse_str(source, "t.yaml") {
        Ok(_) => panic!("parsed, expected `{needle}` at {line}:{column}:\n{source}"),
        Err(e) => e,
    };
    let found = err
        .iter()
        .find(|d| d.line == line && d.column == column && d.message.contains(needle))
        .cloned();
    found.unwrap_or_else(|| panic!("no `{needle}` at {line}:{column}; got:\n{err}"))
}

fn hint(d: &Diagnostic) -> &str {
    d.hint.as_deref().unwrap_or("")
}

#[test]
fn bases_are_valid() {
    parse_str(SHOP, "shop").unwrap();
    parse_str(INLINE, "inline").unwrap();
}

#[test]
fn api_version_must_be_v1() {
    let d = diag_at(
        &with(SHOP, 1, "apiVersion: otrashi/v2"),
        1,
        13,
        "unsupported apiVersion `otrashi/v2`",
    );
    assert!(hint(&d).contains("otrashi/v1"));
}

#[test]
fn kind_must_be_scenario() {
    let d = diag_at(
        &with(SHOP, 2, "kind: Topology"),
        2,
        7,
        "expected `kind: Scenario`, found `Topology`",
    );
    assert!(hint(&d).contains("topology file"));
}

#[test]
fn missing_required_field() {
    let src = with(SHOP, 1, "# no version");
    diag_at(&src, 2, 1, "missing the field `apiVersion`");
}

#[test]
fn unknown_top_level_field() {
    let d = diag_at(
        &with(SHOP, 5, "timelin: {warmup: 60s, duration: 5m}"),
        5,
        1,
        "unknown field `timelin`",
    );
    assert_eq!(hint(&d), "did you mean `timeline`?");
}

#[test]
fn unknown_nested_field() {
    let d = diag_at(
        &plus(SHOP, "    paramz: {}"),
        11,
        5,
        "unknown field `paramz` in a fault",
    );
    assert_eq!(hint(&d), "did you mean `params`?");
}

#[test]
fn unknown_fault_kind() {
    let d = diag_at(
        &with(SHOP, 8, "    kind: code.memory_leek"),
        8,
        11,
        "unknown fault kind `code.memory_leek`",
    );
    assert_eq!(hint(&d), "did you mean `code.memory_leak`?");
}

#[test]
fn short_fault_kind_is_accepted() {
    let s = parse_str(&with(SHOP, 8, "    kind: memory_leak"), "t").unwrap();
    assert_eq!(s.faults[0].kind, otrashi_scenarios::FaultKind::MemoryLeak);
}

#[test]
fn unknown_bundled_topology() {
    let d = diag_at(
        &with(SHOP, 4, "topology: shp"),
        4,
        11,
        "unknown bundled topology `shp`",
    );
    assert_eq!(hint(&d), "did you mean `shop`?");
}

#[test]
fn target_not_in_topology() {
    let d = diag_at(
        &with(SHOP, 9, "    target: crat"),
        9,
        13,
        "target `crat` is not a service of topology `shop`",
    );
    assert_eq!(hint(&d), "did you mean `cart`?");
}

#[test]
fn any_of_target_not_in_topology() {
    let src = with(SHOP, 9, "    target: {any_of: [cart, katalog]}");
    let d = diag_at(&src, 9, col(&src, 9, "katalog"), "target `katalog`");
    assert_eq!(hint(&d), "did you mean `catalog`?");
}

#[test]
fn code_fault_needs_own_code() {
    let d = diag_at(
        &with(SHOP, 9, "    target: postgres"),
        9,
        13,
        "`postgres` cannot take `code.memory_leak`",
    );
    assert!(d.message.contains("runs its own code"), "{}", d.message);
    assert!(d.message.contains("is a database"), "{}", d.message);
}

#[test]
fn target_requirement_is_checked() {
    let src = with(
        &with(SHOP, 8, "    kind: cache_bypass"),
        9,
        "    target: checkout",
    );
    let d = diag_at(
        &src,
        9,
        13,
        "the target must call a service of kind `cache`",
    );
    assert_eq!(hint(&d), "services that can: cart, catalog");
}

#[test]
fn has_callers_requirement() {
    let src = with(
        &with(SHOP, 8, "    kind: infra.dns_failure"),
        9,
        "    target: frontend",
    );
    diag_at(&src, 9, 13, "the target must be called by another service");
}

#[test]
fn target_any_needs_an_eligible_service() {
    let src = with(
        &with(
            &with(SHOP, 4, "topology: chain"),
            8,
            "    kind: cache_bypass",
        ),
        9,
        "    target: any",
    );
    let d = diag_at(&src, 9, 13, "`target: any`: no service of topology `chain`");
    assert!(
        d.message.contains("call a service of kind `cache`"),
        "{}",
        d.message
    );
}

#[test]
fn via_must_be_allowed_for_the_kind() {
    let d = diag_at(
        &plus(SHOP, "    via: config"),
        11,
        10,
        "`code.memory_leak` cannot arrive by `config`",
    );
    assert_eq!(hint(&d), "it arrives by: deploy, direct");
}

#[test]
fn unknown_via() {
    let d = diag_at(
        &plus(SHOP, "    via: deplyo"),
        11,
        10,
        "unknown `via` `deplyo`",
    );
    assert_eq!(hint(&d), "did you mean `deploy`?");
}

#[test]
fn fixed_start_before_warmup() {
    diag_at(
        &with(SHOP, 10, "    at: 30s"),
        10,
        9,
        "fault `at` `30s` is outside the incident window",
    );
}

#[test]
fn fixed_start_at_or_after_end() {
    diag_at(
        &with(SHOP, 10, "    at: 6m"),
        10,
        9,
        "fault `at` `6m` is outside the incident window",
    );
}

#[test]
fn uniform_start_bound_outside_timeline() {
    let src = with(SHOP, 10, "    at: {uniform: [90s, 7m]}");
    diag_at(
        &src,
        10,
        col(&src, 10, "7m"),
        "fault `at` upper bound `7m` is outside",
    );
}

#[test]
fn normal_start_mean_outside_timeline() {
    let src = with(SHOP, 10, "    at: {normal: {mean: 10m, std_dev: 10s}}");
    diag_at(&src, 10, 25, "fault `at` mean `10m` is outside");
}

#[test]
fn duration_must_be_positive() {
    diag_at(
        &plus(SHOP, "    duration: 0s"),
        11,
        15,
        "fault `duration` `0s` is outside the allowed range",
    );
}

#[test]
fn sigma_must_be_positive() {
    let src = plus(
        SHOP,
        "    params: {rate_mb_per_min: {lognormal: {mu: 3.0, sigma: 0}}}",
    );
    diag_at(
        &src,
        11,
        col(&src, 11, "0}}}"),
        "`sigma` must be greater than zero",
    );
}

#[test]
fn std_dev_must_be_positive() {
    let src = with(SHOP, 10, "    at: {normal: {mean: 90s, std_dev: 0s}}");
    diag_at(
        &src,
        10,
        col(&src, 10, "0s}"),
        "`std_dev` must be greater than zero",
    );
}

#[test]
fn uniform_low_above_high() {
    let src = with(SHOP, 10, "    at: {uniform: [120s, 90s]}");
    diag_at(
        &src,
        10,
        col(&src, 10, "["),
        "`uniform` low bound `2m` is above the high bound `1m30s`",
    );
}

#[test]
fn uniform_needs_two_bounds() {
    let src = with(SHOP, 10, "    at: {uniform: [90s]}");
    diag_at(&src, 10, col(&src, 10, "["), "`uniform` takes two bounds");
}

#[test]
fn exponential_rate_must_be_positive() {
    let src = plus(SHOP, "    duration: {exponential: {rate: 0}}");
    diag_at(
        &src,
        11,
        col(&src, 11, "0}"),
        "`rate` must be greater than zero",
    );
}

#[test]
fn exponential_mean_is_stored_as_a_rate() {
    let s = parse_str(&plus(SHOP, "    duration: {exponential: {mean: 2m}}"), "t").unwrap();
    let expected = otrashi_scenarios::model::Sampled::Random(
        otrashi_scenarios::model::Distribution::Exponential { rate: 1.0 / 120.0 },
    );
    assert_eq!(s.faults[0].duration, Some(expected));
}

#[test]
fn choice_must_not_be_empty() {
    let src = plus(SHOP, "    duration: {choice: []}");
    diag_at(
        &src,
        11,
        col(&src, 11, "[]"),
        "`choice` needs at least one value",
    );
}

#[test]
fn unknown_distribution() {
    let src = with(SHOP, 10, "    at: {uniforn: [90s, 2m]}");
    let d = diag_at(
        &src,
        10,
        col(&src, 10, "uniforn"),
        "unknown distribution `uniforn`",
    );
    assert_eq!(hint(&d), "did you mean `uniform`?");
}

#[test]
fn unknown_param_for_kind() {
    let src = plus(SHOP, "    params: {rate_mb_per_mn: 5}");
    let d = diag_at(
        &src,
        11,
        col(&src, 11, "rate"),
        "unknown parameter `rate_mb_per_mn` for `code.memory_leak`",
    );
    assert_eq!(hint(&d), "did you mean `rate_mb_per_min`?");
}

#[test]
fn kind_without_params_says_so() {
    let src = plus(
        &with(SHOP, 8, "    kind: infra.process_freeze"),
        "    params: {seconds: 5}",
    );
    let d = diag_at(
        &src,
        11,
        col(&src, 11, "seconds"),
        "unknown parameter `seconds`",
    );
    assert_eq!(hint(&d), "`infra.process_freeze` takes no parameters");
}

#[test]
fn fixed_param_out_of_range() {
    let src = plus(SHOP, "    params: {rate_mb_per_min: 5000}");
    diag_at(&src, 11, col(&src, 11, "5000"), "`rate_mb_per_min` 5000 MB/min is outside the range of `rate_mb_per_min` (1 to 2048 MB/min)");
}

#[test]
fn uniform_param_bound_out_of_range() {
    let src = plus(SHOP, "    params: {rate_mb_per_min: {uniform: [1, 3000]}}");
    diag_at(
        &src,
        11,
        col(&src, 11, "3000"),
        "`rate_mb_per_min` upper bound 3000 MB/min is outside",
    );
}

#[test]
fn choice_param_value_out_of_range() {
    let src = plus(SHOP, "    params: {rate_mb_per_min: {choice: [10, 0.5]}}");
    diag_at(
        &src,
        11,
        col(&src, 11, "0.5"),
        "`rate_mb_per_min` choice 0.5 MB/min is outside",
    );
}

#[test]
fn lognormal_param_median_out_of_range() {
    let src = plus(
        SHOP,
        "    params: {rate_mb_per_min: {lognormal: {mu: 9.0, sigma: 0.3}}}",
    );
    let d = diag_at(&src, 11, col(&src, 11, "9.0"), "median e^mu");
    assert!(hint(&d).contains("natural log"));
}

#[test]
fn quoted_number_is_not_a_number() {
    let src = plus(SHOP, "    params: {rate_mb_per_min: \"20\"}");
    let d = diag_at(&src, 11, col(&src, 11, "\"20\""), "found a quoted string");
    assert_eq!(hint(&d), "remove the quotes");
}

#[test]
fn wrong_type_names_what_was_expected() {
    let src = with(SHOP, 10, "    at: [90s, 2m]");
    diag_at(&src, 10, 9, "expected fault `at` (a duration like `90s` or a distribution like `{uniform: [60s, 120s]}`), found a list");
}

#[test]
fn duplicate_fault_ids() {
    let src = plus(SHOP, "  - {id: f, kind: hot_loop, target: catalog, at: 2m}");
    let d = diag_at(&src, 11, 10, "duplicate fault id `f`");
    assert!(hint(&d).contains("line 7"));
}

#[test]
fn calls_to_undeclared_services() {
    let src = with(INLINE, 8, "    api: {kind: api, calls: [dbb]}");
    let d = diag_at(
        &src,
        8,
        col(&src, 8, "dbb"),
        "`api` calls `dbb`, which is not declared in `services`",
    );
    assert_eq!(hint(&d), "did you mean `db`?");
}

#[test]
fn cycles_are_named() {
    let src = with(INLINE, 8, "    api: {kind: api, calls: [db, web]}");
    let d = diag_at(
        &src,
        8,
        col(&src, 8, "web]"),
        "the call graph has a cycle: web -> api -> web",
    );
    assert!(hint(&d).contains("one way"));
}

#[test]
fn self_call_is_a_cycle() {
    let src = with(INLINE, 9, "    db: {kind: database, calls: [db]}");
    diag_at(&src, 9, col(&src, 9, "db]"), "cycle: db -> db");
}

#[test]
fn missing_entry() {
    let src = with(INLINE, 5, "  # no entry");
    diag_at(&src, 6, 3, "the topology is missing the field `entry`");
}

#[test]
fn unknown_entry() {
    let src = with(INLINE, 5, "  entry: wbe");
    let d = diag_at(&src, 5, 10, "entry service `wbe` is not declared");
    assert_eq!(hint(&d), "did you mean `web`?");
}

#[test]
fn service_names_have_no_underscore() {
    let src = with(INLINE, 9, "    my_db: {kind: database}");
    let d = diag_at(
        &src,
        9,
        5,
        "service name `my_db` must match `[a-z][a-z0-9-]*`",
    );
    assert!(hint(&d).contains("RCAEval"));
}

#[test]
fn unknown_service_kind() {
    let src = with(INLINE, 9, "    db: {kind: databse}");
    let d = diag_at(
        &src,
        9,
        col(&src, 9, "databse"),
        "unknown service kind `databse`",
    );
    assert_eq!(hint(&d), "did you mean `database`?");
}

#[test]
fn service_defaults_and_memory_sizes() {
    let src = with(INLINE, 9, "    db: {kind: database, memory: 2Gi, cpu: 3}");
    let s = parse_str(&src, "t").unwrap();
    let db = s.topology.service("db").unwrap();
    assert_eq!(db.memory_mb, 2048.0);
    assert_eq!(db.cpu_cores, 3.0);
    assert_eq!(db.runtime, otrashi_scenarios::model::Runtime::Native);
    let web = s.topology.service("web").unwrap();
    assert_eq!(web.replicas, 2);
    assert_eq!(s.topology.name, "t");
}

#[test]
fn bad_memory_size() {
    let src = with(INLINE, 9, "    db: {kind: database, memory: 2Tb}");
    diag_at(&src, 9, col(&src, 9, "2Tb"), "`2Tb` is not a memory size");
}

#[test]
fn rps_must_be_positive_and_bounded() {
    let src = plus(SHOP, "load: {rps: 0}");
    diag_at(
        &src,
        11,
        13,
        "`rps` must be greater than 0 and at most 100000, found 0",
    );
    let src = plus(SHOP, "load: {rps: 200000}");
    diag_at(&src, 11, 13, "found 200000");
}

#[test]
fn unknown_load_pattern() {
    let src = plus(SHOP, "load: {rps: 5, pattern: diurnl}");
    let d = diag_at(
        &src,
        11,
        col(&src, 11, "diurnl"),
        "unknown load pattern `diurnl`",
    );
    assert_eq!(hint(&d), "did you mean `diurnal`?");
}

#[test]
fn incident_window_at_least_ten_seconds() {
    let src = with(SHOP, 5, "timeline: {warmup: 60s, duration: 5s}");
    diag_at(
        &src,
        5,
        col(&src, 5, "5s"),
        "the incident window `5s` is shorter than 10s",
    );
}

#[test]
fn episode_at_most_a_day() {
    let src = with(SHOP, 5, "timeline: {warmup: 1h, duration: 24h}");
    diag_at(&src, 5, 11, "longer than the limit of 24h");
}

#[test]
fn malformed_duration() {
    let src = with(SHOP, 5, "timeline: {warmup: 60, duration: 5m}");
    diag_at(&src, 5, col(&src, 5, "60"), "`60` is not a duration");
}

#[test]
fn at_least_one_fault() {
    let src = with(
        &with(
            &with(&with(&with(SHOP, 7, "faults: []"), 6, "# none"), 8, "#"),
            9,
            "#",
        ),
        10,
        "#",
    );
    let d = diag_at(&src, 7, 9, "a scenario needs at least one fault");
    assert!(hint(&d).contains("faults:"));
}

#[test]
fn metadata_name_is_kebab_case() {
    let d = diag_at(
        &with(SHOP, 3, "metadata: {name: Cart_Leak}"),
        3,
        18,
        "scenario name `Cart_Leak` must be kebab-case",
    );
    assert!(hint(&d).contains("shop-cart-memory-leak"));
}

#[test]
fn alert_service_must_exist() {
    let src = plus(SHOP, "alert: {service: frontnd, summary: slow}");
    let d = diag_at(
        &src,
        11,
        18,
        "alert service `frontnd` is not in topology `shop`",
    );
    assert_eq!(hint(&d), "did you mean `frontend`?");
}

#[test]
fn red_herring_kind_and_target() {
    let src = plus(
        SHOP,
        "noise:\n  red_herrings:\n    - {kind: unrelated_deplyo, target: carts, at: 2m}",
    );
    let d = diag_at(
        &src,
        13,
        col(&src, 13, "unrelated"),
        "unknown red herring kind `unrelated_deplyo`",
    );
    assert_eq!(hint(&d), "did you mean `unrelated_deploy`?");
    diag_at(
        &src,
        13,
        col(&src, 13, "carts"),
        "target `carts` is not a service",
    );
}

#[test]
fn red_herring_time_inside_episode() {
    let src = plus(
        SHOP,
        "noise:\n  red_herrings:\n    - {kind: noisy_neighbour, target: any, at: 7m}",
    );
    diag_at(
        &src,
        13,
        col(&src, 13, "7m"),
        "red herring `at` `7m` is outside the episode",
    );
}

#[test]
fn duplicate_mapping_keys() {
    let src = plus(SHOP, "    at: 2m");
    let d = diag_at(&src, 11, 5, "duplicate key `at` in a fault");
    assert!(hint(&d).contains("only one"));
}

#[test]
fn yaml_syntax_error_has_a_position() {
    let src = with(SHOP, 9, "    target: [cart");
    let err = parse_str(&src, "t.yaml").unwrap_err();
    let d = &err.0[0];
    assert!(d.message.starts_with("YAML syntax: "), "{}", d.message);
    assert!(d.line >= 9, "{d}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let src = "\
apiVersion: otrashi/v1
kind: Scenario
metadata: {name: Bad_Name}
topology: shop
load: {rps: -1}
faults:
  - {id: a, kind: memory_leek, target: cart, at: 90s}
  - {id: b, kind: hot_loop, target: postgres, at: 90s}
  - {id: c, kind: slow_query, target: catalog, at: 1h}
";
    let err = parse_str(src, "t.yaml").unwrap_err();
    let lines: Vec<usize> = err.iter().map(|d| d.line).collect();
    assert_eq!(lines, vec![3, 5, 7, 8, 9], "{err}");
    assert!(err.to_string().ends_with("5 errors"));
}

#[test]
fn display_has_excerpt_caret_and_hint() {
    let err = parse_str(&with(SHOP, 8, "    kind: code.memory_leek"), "shop.yaml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "shop.yaml:8:11: error: unknown fault kind `code.memory_leek`\n  |\n8 |     kind: code.memory_leek\n  |           ^\n  = hint: did you mean `code.memory_leak`?"
    );
}

#[test]
fn missing_file_names_the_path() {
    let err =
        otrashi_scenarios::parse_file(std::path::Path::new("/nonexistent/x.yaml")).unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot read `/nonexistent/x.yaml`"),
        "{err}"
    );
}

#[test]
fn unrelated_deploy_needs_own_code() {
    let src = plus(
        SHOP,
        "noise:\n  red_herrings:\n    - {kind: unrelated_deploy, target: redis, at: 2m}",
    );
    let d = diag_at(
        &src,
        13,
        col(&src, 13, "redis"),
        "`unrelated_deploy` needs a service that runs its own code, and `redis` is a cache",
    );
    assert!(hint(&d).contains("`any`"));
}

#[test]
fn too_many_services() {
    let mut src = String::from("apiVersion: otrashi/v1\nkind: Scenario\nmetadata: {name: t}\ntopology:\n  entry: s0\n  services:\n");
    for i in 0..501 {
        src.push_str(&format!("    s{i}: {{kind: api}}\n"));
    }
    src.push_str("faults:\n  - {id: f, kind: hot_loop, target: s0, at: 90s}\n");
    diag_at(&src, 7, 5, "a topology has at most 500 services, found 501");
}

#[test]
fn an_unknown_engine_gets_a_suggestion() {
    let s = with(INLINE, 9, "    db: {kind: database, engine: rediss}");
    let d = diag_at(&s, 9, col(&s, 9, "rediss"), "unknown engine `rediss`");
    assert_eq!(hint(&d), "did you mean `redis`?");
}

#[test]
fn an_engine_plays_only_datastores() {
    let s = with(
        INLINE,
        8,
        "    api: {kind: api, calls: [db], engine: redis}",
    );
    let d = diag_at(
        &s,
        8,
        col(&s, 8, "redis}"),
        "`engine: redis` cannot play `api` (kind `api`)",
    );
    assert!(hint(&d).contains("`cache` or `database`"), "{}", hint(&d));
    let ok = with(INLINE, 9, "    db: {kind: database, engine: redis}");
    let scenario = parse_str(&ok, "t.yaml").unwrap();
    assert_eq!(
        scenario.topology.service("db").unwrap().engine,
        Some(otrashi_scenarios::Engine::Redis)
    );
}

//! Deploys and the code changes they ship: a plausible unified diff in the service's
//! language that carries the bug (or, for a harmless deploy, does nothing to traffic).

use otrashi_gym::telemetry::{Deploy, EventType};
use otrashi_scenarios::catalog::FaultKind;
use otrashi_scenarios::model::Runtime;

use super::engine::Sim;
use super::profile::{hex, random_chars, Profile, POD_CHARS};

const AUTHORS: [&str; 8] = [
    "maria.keller",
    "j.okafor",
    "priya.raman",
    "tomasz.nowak",
    "li.wei",
    "sam.hughes",
    "ana.souza",
    "d.fischer",
];

/// One hunk of a change: the file, the enclosing function, and the lines.
struct Change {
    title: &'static str,
    path: &'static str,
    func: &'static str,
    before: &'static [&'static str],
    removed: &'static [&'static str],
    added: &'static [&'static str],
    after: &'static [&'static str],
}

fn fill(s: &str, p: &Profile, peer: &str) -> String {
    let pkg = p.name.replace('-', "");
    let class: String = p
        .name
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    s.replace("@S", &pkg)
        .replace("@C", &class)
        .replace("@T", &p.table)
        .replace("@P", peer)
}

fn render(c: &Change, p: &Profile, peer: &str, line: usize, blob: (&str, &str)) -> String {
    let path = fill(c.path, p, peer);
    let old_n = c.before.len() + c.removed.len() + c.after.len();
    let new_n = c.before.len() + c.added.len() + c.after.len();
    let mut out = format!(
        "diff --git a/{path} b/{path}\nindex {}..{} 100644\n--- a/{path}\n+++ b/{path}\n@@ -{line},{old_n} +{line},{new_n} @@ {}\n",
        blob.0,
        blob.1,
        fill(c.func, p, peer)
    );
    for (prefix, lines) in [
        (' ', c.before),
        ('-', c.removed),
        ('+', c.added),
        (' ', c.after),
    ] {
        for l in lines {
            out.push(prefix);
            out.push_str(&fill(l, p, peer));
            out.push('\n');
        }
    }
    out
}

/// Swaps the sides of a unified diff (a revert).
fn reverse(diff: &str) -> String {
    let mut out = String::with_capacity(diff.len());
    for l in diff.lines() {
        if let Some(rest) = l.strip_prefix("@@ -") {
            // "@@ -a,b +c,d @@ ctx" -> "@@ -c,d +a,b @@ ctx"
            let mut parts = rest.splitn(3, ' ');
            let old = parts.next().unwrap_or_default();
            let new = parts.next().unwrap_or_default().trim_start_matches('+');
            let tail = parts.next().unwrap_or_default();
            out.push_str(&format!("@@ -{new} +{old} {tail}"));
        } else if l.starts_with("---") || l.starts_with("+++") || l.starts_with("index ") {
            out.push_str(l);
        } else if let Some(rest) = l.strip_prefix('-') {
            out.push('+');
            out.push_str(rest);
        } else if let Some(rest) = l.strip_prefix('+') {
            out.push('-');
            out.push_str(rest);
        } else {
            out.push_str(l);
        }
        out.push('\n');
    }
    out
}

impl Sim<'_> {
    /// Rolls out a new version of service `i` carrying the change for `kind` (`None`:
    /// a harmless change), with its deploy record and rollout events.
    pub(crate) fn ship_deploy(&mut self, i: usize, t_ms: u64, kind: Option<FaultKind>, t: u32) {
        let r = &mut self.rng.ids;
        let commit = hex(r, 40);
        let blob = (hex(r, 7), hex(r, 7));
        let author = AUTHORS[r.below(AUTHORS.len())];
        let line = 20 + r.below(180);
        let new_rs = random_chars(r, POD_CHARS, 10);
        let p = &self.prof[i];
        let peer = p
            .calls
            .first()
            .map_or_else(|| "upstream".to_owned(), |c| self.prof[*c].name.clone());
        let change = change(kind, p.runtime);
        let diff = render(&change, p, &peer, line, (&blob.0, &blob.1));
        let from = p.version_string();
        let (a, b, c) = p.version;
        let to_v = if kind.is_none() {
            (a, b, c + 1)
        } else {
            (a, b + 1, 0)
        };
        let name = p.name.clone();
        let replicas = p.replicas;
        let old_rs = p.rs_hash.clone();
        self.out.deploys.push(Deploy {
            id: format!("deploy-{}", &commit[..7]),
            t_ms,
            service: i as u16,
            from_version: from,
            to_version: format!("v{}.{}.{}", to_v.0, to_v.1, to_v.2),
            commit,
            author: author.to_owned(),
            title: fill(change.title, p, &peer),
            diff,
        });
        self.out.event(
            t_ms,
            i,
            EventType::Normal,
            "ScalingReplicaSet",
            format!("Scaled up replica set {name}-{new_rs} to {replicas}"),
        );
        let p = &mut self.prof[i];
        p.previous = Some((old_rs.clone(), p.version));
        p.version = to_v;
        if kind == Some(FaultKind::FailedDeploy) {
            // The new pods never become ready; the old replica set keeps serving.
            p.pending_rs = Some(new_rs);
            return;
        }
        p.rs_hash = new_rs;
        self.out.event(
            t_ms + 15_000,
            i,
            EventType::Normal,
            "ScalingReplicaSet",
            format!("Scaled down replica set {name}-{old_rs} to 0 from {replicas}"),
        );
        self.roll_pods(i, t, true);
    }

    /// Rolls service `i` back to the version before its last deploy.
    pub(crate) fn ship_rollback(&mut self, i: usize, t_ms: u64, t: u32) {
        let Some((old_rs, old_version)) = self.prof[i].previous.take() else {
            return;
        };
        let last = self
            .out
            .deploys
            .iter()
            .rev()
            .find(|d| usize::from(d.service) == i)
            .cloned();
        let r = &mut self.rng.ids;
        let commit = hex(r, 40);
        let author = AUTHORS[r.below(AUTHORS.len())];
        let p = &mut self.prof[i];
        let name = p.name.clone();
        let replicas = p.replicas;
        let from = p.version_string();
        let current_rs = p.pending_rs.take().unwrap_or_else(|| p.rs_hash.clone());
        p.version = old_version;
        p.rs_hash = old_rs.clone();
        if let Some(last) = last {
            self.out.deploys.push(Deploy {
                id: format!("deploy-{}", &commit[..7]),
                t_ms,
                service: i as u16,
                from_version: from,
                to_version: self.prof[i].version_string(),
                commit,
                author: author.to_owned(),
                title: format!("Revert \"{}\"", last.title),
                diff: reverse(&last.diff),
            });
        }
        self.out.event(
            t_ms,
            i,
            EventType::Normal,
            "ScalingReplicaSet",
            format!("Scaled up replica set {name}-{old_rs} to {replicas}"),
        );
        self.out.event(
            t_ms + 15_000,
            i,
            EventType::Normal,
            "ScalingReplicaSet",
            format!("Scaled down replica set {name}-{current_rs} to 0"),
        );
        self.roll_pods(i, t, true);
    }
}

/// The change a deploy ships, per fault kind and language.
fn change(kind: Option<FaultKind>, rt: Runtime) -> Change {
    use FaultKind as K;
    use Runtime as R;
    match (kind, rt) {
        (Some(K::MemoryLeak), R::Go) => Change {
            title: "Cache resolved price lists per request id",
            path: "internal/@S/pricing.go",
            func: "func (s *Service) PriceList(ctx context.Context, id string) (*PriceList, error) {",
            before: &["\tpl, err := s.store.Load(ctx, id)", "\tif err != nil {", "\t\treturn nil, err", "\t}"],
            removed: &[],
            added: &["\t// keep resolved lists around for the follow-up calls of this request", "\tpriceListCache = append(priceListCache, cachedList{reqID: RequestID(ctx), list: pl})"],
            after: &["\treturn pl, nil", "}"],
        },
        (Some(K::MemoryLeak), R::Java) => Change {
            title: "Memoize customer sessions in @CService",
            path: "src/main/java/com/shop/@S/service/@CService.java",
            func: "public class @CService {",
            before: &["    private final SessionRepository sessions;"],
            removed: &[],
            added: &["    private static final Map<String, Session> SESSION_CACHE = new HashMap<>();"],
            after: &["", "    public Session load(String requestId) {"],
        },
        (Some(K::MemoryLeak), R::Python) => Change {
            title: "Remember rendered fragments between calls",
            path: "@S/cache.py",
            func: "def render_fragment(key, ctx):",
            before: &["    html = _template(key).render(ctx)"],
            removed: &[],
            added: &["    # TODO: bound this", "    _FRAGMENTS[(key, ctx[\"request_id\"])] = html"],
            after: &["    return html"],
        },
        (Some(K::MemoryLeak), R::Node) => Change {
            title: "Keep request payloads for the audit hook",
            path: "src/@S/audit.js",
            func: "function onRequest(req, res) {",
            before: &["  const started = Date.now();"],
            removed: &[],
            added: &["  auditLog.push({ id: req.id, body: req.body, headers: req.headers });"],
            after: &["  res.on('finish', () => metrics.observe(Date.now() - started));", "}"],
        },
        (Some(K::MemoryLeak), _) => Change {
            title: "Cache parsed line items by request",
            path: "src/@S/cache.rs",
            func: "pub async fn line_items(&self, req: &Request) -> Result<Arc<Vec<Item>>> {",
            before: &["    let items = Arc::new(self.parse(req).await?);"],
            removed: &[],
            added: &["    self.seen.lock().await.push((req.id(), Arc::clone(&items)));"],
            after: &["    Ok(items)", "}"],
        },
        (Some(K::ConnectionLeak), R::Go) => Change {
            title: "Return early on inventory lookup errors",
            path: "internal/@S/repo.go",
            func: "func (r *Repo) Reserve(ctx context.Context, sku string) error {",
            before: &["\tconn, err := r.pool.Acquire(ctx)", "\tif err != nil {", "\t\treturn err", "\t}"],
            removed: &["\tdefer conn.Release()", "\tif _, err := conn.Exec(ctx, reserveSQL, sku); err != nil {", "\t\treturn fmt.Errorf(\"reserve %s: %w\", sku, err)", "\t}"],
            added: &["\tif _, err := conn.Exec(ctx, reserveSQL, sku); err != nil {", "\t\treturn fmt.Errorf(\"reserve %s: %w\", sku, err)", "\t}", "\tconn.Release()"],
            after: &["\treturn nil", "}"],
        },
        (Some(K::ConnectionLeak), R::Java) => Change {
            title: "Simplify @CRepository error handling",
            path: "src/main/java/com/shop/@S/db/@CRepository.java",
            func: "public Optional<Row> find(String id) {",
            removed: &["    try (Connection conn = dataSource.getConnection()) {", "        return query(conn, id);", "    }"],
            before: &[],
            added: &["    Connection conn = dataSource.getConnection();", "    Optional<Row> row = query(conn, id);  // throws on bad ids", "    conn.close();", "    return row;"],
            after: &["}"],
        },
        (Some(K::ConnectionLeak), R::Python) => Change {
            title: "Handle missing rows without an exception",
            path: "@S/repository.py",
            func: "def fetch(item_id):",
            before: &["    conn = pool.getconn()"],
            removed: &["    try:", "        return _query(conn, item_id)", "    finally:", "        pool.putconn(conn)"],
            added: &["    row = _query(conn, item_id)", "    if row is None:", "        raise NotFound(item_id)", "    pool.putconn(conn)", "    return row"],
            after: &[],
        },
        (Some(K::ConnectionLeak), R::Node) => Change {
            title: "Early return when the row is missing",
            path: "src/@S/repository.js",
            func: "async function fetchItem(id) {",
            before: &["  const client = await pool.connect();", "  const res = await client.query(SELECT_ITEM, [id]);"],
            removed: &[],
            added: &["  if (res.rowCount === 0) {", "    throw new NotFoundError(id);", "  }"],
            after: &["  client.release();", "  return res.rows[0];"],
        },
        (Some(K::ConnectionLeak), _) => Change {
            title: "Keep the connection for the follow-up query",
            path: "src/@S/repo.rs",
            func: "pub async fn reserve(&self, sku: &str) -> Result<()> {",
            before: &["    let conn = self.pool.get().await?;"],
            removed: &[],
            added: &["    let conn = Box::leak(Box::new(conn)); // reused by audit()"],
            after: &["    conn.execute(RESERVE_SQL, &[&sku]).await?;", "    Ok(())"],
        },
        (Some(K::RetryStorm), R::Go) => Change {
            title: "Make @P calls more resilient",
            path: "internal/@S/client.go",
            func: "func newUpstreamClient() *Client {",
            before: &["\treturn &Client{"],
            removed: &["\t\tTimeout:    2 * time.Second,", "\t\tMaxRetries: 2,", "\t\tBackoff:    retry.Exponential(200 * time.Millisecond),"],
            added: &["\t\tTimeout:    50 * time.Millisecond,", "\t\tMaxRetries: 10,", "\t\tBackoff:    retry.None,"],
            after: &["\t}", "}"],
        },
        (Some(K::RetryStorm), R::Java) => Change {
            title: "Retry @P calls on any failure",
            path: "src/main/resources/application.yml",
            func: "resilience4j.retry.instances.@P:",
            before: &["  resilience4j.retry.instances.@P:"],
            removed: &["    maxAttempts: 3", "    waitDuration: 200ms", "    enableExponentialBackoff: true"],
            added: &["    maxAttempts: 10", "    waitDuration: 0ms", "    enableExponentialBackoff: false"],
            after: &["    retryExceptions: [java.io.IOException]"],
        },
        (Some(K::RetryStorm), R::Python) => Change {
            title: "Retry @P harder",
            path: "@S/clients.py",
            func: "def make_session():",
            before: &["    session = requests.Session()"],
            removed: &["    retries = Retry(total=2, backoff_factor=0.2, status_forcelist=[502, 503])"],
            added: &["    retries = Retry(total=10, backoff_factor=0, status_forcelist=[500, 502, 503, 504])"],
            after: &["    session.mount(\"http://\", HTTPAdapter(max_retries=retries))"],
        },
        (Some(K::RetryStorm), R::Node) => Change {
            title: "Retry @P calls",
            path: "src/@S/client.js",
            func: "const client = axios.create({ baseURL: UPSTREAM_URL, timeout: 50 });",
            before: &[],
            removed: &["axiosRetry(client, { retries: 2, retryDelay: axiosRetry.exponentialDelay });"],
            added: &["axiosRetry(client, { retries: 10, retryDelay: () => 0, retryCondition: () => true });"],
            after: &[],
        },
        (Some(K::RetryStorm), _) => Change {
            title: "Retry upstream calls",
            path: "src/@S/client.rs",
            func: "fn retry_policy() -> RetryPolicy {",
            before: &[],
            removed: &["    RetryPolicy::exponential(Duration::from_millis(200)).with_max_retries(2)"],
            added: &["    RetryPolicy::fixed(Duration::ZERO).with_max_retries(10)"],
            after: &["}"],
        },
        (Some(K::ErrorInjection), R::Java) => Change {
            title: "Apply promotional pricing in @CController",
            path: "src/main/java/com/shop/@S/service/PricingService.java",
            func: "public Money total(Cart cart) {",
            before: &["    Money sum = Money.zero();", "    for (Line line : cart.lines()) {"],
            removed: &["        sum = sum.plus(line.price().times(line.qty()));"],
            added: &["        Price price = promotions.priceFor(line.sku());  // null when no promotion", "        sum = sum.plus(price.amount().times(line.qty()));"],
            after: &["    }", "    return sum;"],
        },
        (Some(K::ErrorInjection), R::Python) => Change {
            title: "Use the new pricing payload",
            path: "@S/pricing.py",
            func: "def total(items):",
            before: &[],
            removed: &["    return sum(item.get(\"unit_price\", 0) * item[\"qty\"] for item in items)"],
            added: &["    return sum(item[\"price\"] * item[\"qty\"] for item in items)"],
            after: &[],
        },
        (Some(K::ErrorInjection), R::Node) => Change {
            title: "Read prices from the promotions service",
            path: "src/@S/pricing.js",
            func: "function total(lines) {",
            before: &[],
            removed: &["  return lines.reduce((s, l) => s + (l.price ?? 0) * l.qty, 0);"],
            added: &["  return lines.reduce((s, l) => s + promotions.get(l.sku).amount * l.qty, 0);"],
            after: &["}"],
        },
        (Some(K::ErrorInjection), R::Rust) => Change {
            title: "Apply promotional pricing",
            path: "src/@S/pricing.rs",
            func: "pub fn total(lines: &[Line], promos: &Promotions) -> Result<Money, Error> {",
            before: &["    let mut sum = Money::ZERO;", "    for l in lines {"],
            removed: &["        sum += l.price * l.qty;"],
            added: &["        let p = promos.get(&l.sku).ok_or(Error::Internal(\"price missing for sku\"))?;", "        sum += p.amount * l.qty;"],
            after: &["    }", "    Ok(sum)"],
        },
        (Some(K::ErrorInjection), _) => Change {
            title: "Apply promotional pricing",
            path: "internal/@S/pricing.go",
            func: "func total(lines []Line) (Money, error) {",
            before: &["\tvar sum Money", "\tfor _, l := range lines {"],
            removed: &["\t\tsum += l.Price * Money(l.Qty)"],
            added: &["\t\tp, ok := promotions[l.SKU]", "\t\tif !ok {", "\t\t\treturn 0, fmt.Errorf(\"pricing: nil price for sku %s\", l.SKU)", "\t\t}", "\t\tsum += p.Amount * Money(l.Qty)"],
            after: &["\t}", "\treturn sum, nil"],
        },
        (Some(K::SlowHandler), R::Python) => Change {
            title: "Enrich responses with recommendations",
            path: "@S/handlers.py",
            func: "def get(request):",
            before: &["    data = service.load(request.args)"],
            removed: &[],
            added: &["    for item in data[\"items\"]:", "        item[\"related\"] = recommender.related(item[\"sku\"])  # one call per item"],
            after: &["    return jsonify(data)"],
        },
        (Some(K::SlowHandler), R::Java) => Change {
            title: "Validate addresses synchronously",
            path: "src/main/java/com/shop/@S/web/@CController.java",
            func: "public ResponseEntity<?> handle(@RequestBody Request req) {",
            before: &["    var result = service.handle(req);"],
            removed: &["    validator.validateAsync(req.address());"],
            added: &["    validator.validate(req.address());  // blocking HTTP call, no timeout"],
            after: &["    return ResponseEntity.ok(result);"],
        },
        (Some(K::SlowHandler), R::Node) => Change {
            title: "Compute totals with the new tax rules",
            path: "src/@S/routes.js",
            func: "router.get('/', async (req, res) => {",
            before: &["  const data = await service.load(req.query);"],
            removed: &[],
            added: &["  data.tax = computeTaxSync(data.lines); // walks the full rule table"],
            after: &["  res.json(data);"],
        },
        (Some(K::SlowHandler), R::Rust) => Change {
            title: "Enrich responses with recommendations",
            path: "src/@S/handlers.rs",
            func: "pub async fn get(State(app): State<App>, q: Query<Params>) -> Result<Json<Resp>> {",
            before: &["    let mut resp = app.service.load(&q).await?;"],
            removed: &[],
            added: &["    for item in &mut resp.items {", "        item.related = app.recommender.related(&item.sku).await?; // one call per item", "    }"],
            after: &["    Ok(Json(resp))"],
        },
        (Some(K::SlowHandler), _) => Change {
            title: "Recompute totals on every request",
            path: "internal/@S/handler.go",
            func: "func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {",
            before: &["\tresp := h.svc.Load(r.Context(), r.URL.Query())"],
            removed: &["\tresp.Totals = h.totals.Cached(resp.ID)"],
            added: &["\tresp.Totals = h.totals.Recompute(resp.Lines) // full rule evaluation"],
            after: &["\twriteJSON(w, resp)"],
        },
        (Some(K::CacheBypass), R::Java) => Change {
            title: "Always read fresh @T data",
            path: "src/main/java/com/shop/@S/service/@CService.java",
            func: "public Item get(String id) {",
            before: &[],
            removed: &["    return cache.get(id, () -> repository.find(id));"],
            added: &["    return repository.find(id);  // cache was serving stale prices"],
            after: &["}"],
        },
        (Some(K::CacheBypass), R::Python) => Change {
            title: "Skip the cache for consistency",
            path: "@S/service.py",
            func: "def get_item(item_id):",
            before: &[],
            removed: &["    cached = redis.get(f\"item:{item_id}\")", "    if cached:", "        return json.loads(cached)"],
            added: &["    # reads go straight to the database now"],
            after: &["    return db.fetch_item(item_id)"],
        },
        (Some(K::CacheBypass), R::Node) => Change {
            title: "Read-through removed, fresher data",
            path: "src/@S/service.js",
            func: "async function getItem(id) {",
            before: &[],
            removed: &["  const hit = await redis.get(`item:${id}`);", "  if (hit) return JSON.parse(hit);"],
            added: &[],
            after: &["  return db.fetchItem(id);"],
        },
        (Some(K::CacheBypass), R::Rust) => Change {
            title: "Read items straight from the database",
            path: "src/@S/service.rs",
            func: "pub async fn item(&self, id: &str) -> Result<Item> {",
            before: &[],
            removed: &["    if let Some(it) = self.cache.get(id).await? {", "        return Ok(it);", "    }"],
            added: &[],
            after: &["    self.repo.item(id).await"],
        },
        (Some(K::CacheBypass), _) => Change {
            title: "Read items straight from the database",
            path: "internal/@S/service.go",
            func: "func (s *Service) Item(ctx context.Context, id string) (*Item, error) {",
            before: &[],
            removed: &["\tif it, ok := s.cache.Get(ctx, id); ok {", "\t\treturn it, nil", "\t}"],
            added: &[],
            after: &["\treturn s.repo.Item(ctx, id)"],
        },
        (Some(K::HotLoop), R::Java) => Change {
            title: "Wait for the feature flags to load",
            path: "src/main/java/com/shop/@S/flags/Flags.java",
            func: "public boolean enabled(String flag) {",
            before: &[],
            removed: &["    return loaded.get() && flags.contains(flag);"],
            added: &["    while (!loaded.get()) { /* spin until the refresher sets it */ }", "    return flags.contains(flag);"],
            after: &["}"],
        },
        (Some(K::HotLoop), R::Python) => Change {
            title: "Deduplicate line items",
            path: "@S/lines.py",
            func: "def dedupe(lines):",
            before: &[],
            removed: &["    return list({l[\"sku\"]: l for l in lines}.values())"],
            added: &["    out = []", "    for l in lines:", "        while any(o[\"sku\"] == l[\"sku\"] for o in out):", "            out = [o for o in out if o is not l]", "        out.append(l)", "    return out"],
            after: &[],
        },
        (Some(K::HotLoop), R::Node) => Change {
            title: "Poll the flag store until ready",
            path: "src/@S/flags.js",
            func: "function isEnabled(flag) {",
            before: &[],
            removed: &["  return ready && flags.has(flag);"],
            added: &["  while (!ready) { /* busy-wait for the flag store */ }", "  return flags.has(flag);"],
            after: &["}"],
        },
        (Some(K::HotLoop), R::Rust) => Change {
            title: "Wait for the flag refresher",
            path: "src/@S/flags.rs",
            func: "pub fn enabled(&self, name: &str) -> bool {",
            before: &[],
            removed: &["    self.loaded.load(Ordering::Acquire) && self.set.contains(name)"],
            added: &["    while !self.loaded.load(Ordering::Acquire) {", "        std::hint::spin_loop(); // until the refresher has run", "    }", "    self.set.contains(name)"],
            after: &["}"],
        },
        (Some(K::HotLoop), _) => Change {
            title: "Wait for the flag refresher",
            path: "internal/@S/flags.go",
            func: "func (f *Flags) Enabled(name string) bool {",
            before: &[],
            removed: &["\tf.mu.RLock()", "\tdefer f.mu.RUnlock()"],
            added: &["\tfor !f.loaded.Load() {", "\t\t// spin until the refresher has run", "\t}"],
            after: &["\treturn f.set[name]"],
        },
        (Some(K::PanicCrash), R::Go) => Change {
            title: "Compute line totals in one pass",
            path: "internal/@S/handler.go",
            func: "func lineTotals(lines []Line, prices []Money) []Money {",
            before: &["\tout := make([]Money, 0, len(lines))"],
            removed: &["\tfor i := range lines {"],
            added: &["\tfor i := 0; i <= len(lines); i++ {"],
            after: &["\t\tout = append(out, prices[i]*Money(lines[i].Qty))", "\t}"],
        },
        (Some(K::PanicCrash), R::Rust) => Change {
            title: "Compute line totals in one pass",
            path: "src/handlers/@S.rs",
            func: "fn line_totals(lines: &[Line], prices: &[Money]) -> Vec<Money> {",
            before: &[],
            removed: &["    lines.iter().zip(prices).map(|(l, p)| *p * l.qty).collect()"],
            added: &["    (0..=lines.len()).map(|i| prices[i] * lines[i].qty).collect()"],
            after: &["}"],
        },
        (Some(K::PanicCrash), R::Java) => Change {
            title: "Compute line totals in one pass",
            path: "src/main/java/com/shop/@S/service/LineTotals.java",
            func: "static Money[] compute(Line[] lines, Money[] prices) {",
            before: &["    Money[] out = new Money[lines.length];"],
            removed: &["    for (int i = 0; i < lines.length; i++) {"],
            added: &["    for (int i = 0; i <= lines.length; i++) {"],
            after: &["        out[i] = prices[i].times(lines[i].qty());", "    }"],
        },
        (Some(K::PanicCrash), R::Python) => Change {
            title: "Compute line totals in one pass",
            path: "@S/handlers.py",
            func: "def line_totals(lines, prices, count):",
            before: &[],
            removed: &["    return [l[\"qty\"] * p for l, p in zip(lines, prices)]"],
            added: &["    return [lines[i] * prices[i] for i in range(count)]"],
            after: &[],
        },
        (Some(K::PanicCrash), _) => Change {
            title: "Compute line totals in one pass",
            path: "src/@S/handler.js",
            func: "function lineTotals(lines) {",
            before: &[],
            removed: &["  return lines.map((l) => l.price * l.qty);"],
            added: &["  return Array.from({ length: count }, (_, idx) => lines[idx].price * lines[idx].qty);"],
            after: &["}"],
        },
        (Some(K::SlowQuery), R::Java) => Change {
            title: "Search @T by customer email",
            path: "src/main/java/com/shop/@S/db/@CRepository.java",
            func: "public List<Row> byCustomer(String email) {",
            before: &[],
            removed: &["    return jdbc.query(\"SELECT * FROM @T WHERE customer_id = ?\", mapper, idFor(email));"],
            added: &["    return jdbc.query(\"SELECT * FROM @T WHERE lower(customer_email) LIKE ? ORDER BY created_at DESC\", mapper, \"%\" + email.toLowerCase() + \"%\");"],
            after: &["}"],
        },
        (Some(K::SlowQuery), R::Python) => Change {
            title: "Search @T by customer email",
            path: "@S/repository.py",
            func: "def by_customer(email):",
            before: &[],
            removed: &["    return db.execute(\"SELECT * FROM @T WHERE customer_id = %s\", (id_for(email),))"],
            added: &["    return db.execute(", "        \"SELECT * FROM @T WHERE lower(customer_email) LIKE %s ORDER BY created_at DESC\",", "        (f\"%{email.lower()}%\",),", "    )"],
            after: &[],
        },
        (Some(K::SlowQuery), R::Node) => Change {
            title: "Search @T by customer email",
            path: "src/@S/repository.js",
            func: "async function byCustomer(email) {",
            before: &[],
            removed: &["  return pool.query('SELECT * FROM @T WHERE customer_id = $1', [idFor(email)]);"],
            added: &["  return pool.query('SELECT * FROM @T WHERE lower(customer_email) LIKE $1 ORDER BY created_at DESC', [`%${email.toLowerCase()}%`]);"],
            after: &["}"],
        },
        (Some(K::SlowQuery), R::Rust) => Change {
            title: "Search @T by customer email",
            path: "src/@S/repo.rs",
            func: "pub async fn by_customer(&self, email: &str) -> Result<Vec<Row>> {",
            before: &[],
            removed: &["    sqlx::query_as(\"SELECT * FROM @T WHERE customer_id = $1\").bind(id_for(email))"],
            added: &["    sqlx::query_as(\"SELECT * FROM @T WHERE lower(customer_email) LIKE $1 ORDER BY created_at DESC\")", "        .bind(format!(\"%{}%\", email.to_lowercase()))"],
            after: &["        .fetch_all(&self.pool).await"],
        },
        (Some(K::SlowQuery), _) => Change {
            title: "Search @T by customer email",
            path: "internal/@S/repo.go",
            func: "func (r *Repo) ByCustomer(ctx context.Context, email string) ([]Row, error) {",
            before: &[],
            removed: &["\treturn r.query(ctx, `SELECT * FROM @T WHERE customer_id = $1`, idFor(email))"],
            added: &["\treturn r.query(ctx, `SELECT * FROM @T WHERE lower(customer_email) LIKE $1 ORDER BY created_at DESC`, \"%\"+strings.ToLower(email)+\"%\")"],
            after: &["}"],
        },
        (Some(K::CrashLoop), _) => Change {
            title: "Read the database URL from the environment",
            path: "deploy/@S/deployment.yaml",
            func: "      containers:",
            before: &["        - name: @S", "          env:"],
            removed: &["            - name: DATABASE_URL", "              valueFrom: {secretKeyRef: {name: @S-db, key: url}}"],
            added: &["            - name: DB_URL", "              valueFrom: {secretKeyRef: {name: @S-db, key: url}}"],
            after: &["          ports:", "            - containerPort: 8080"],
        },
        (Some(K::FailedDeploy), _) => Change {
            title: "Gate readiness on the feature store",
            path: "deploy/@S/deployment.yaml",
            func: "          readinessProbe:",
            before: &["          readinessProbe:", "            httpGet:"],
            removed: &["              path: /healthz"],
            added: &["              path: /ready?deps=feature-store"],
            after: &["              port: 8080", "            periodSeconds: 10"],
        },
        (_, R::Java) => Change {
            title: "Lower log level of request tracing",
            path: "src/main/resources/logback-spring.xml",
            func: "<configuration>",
            before: &["  <logger name=\"com.shop.@S\" level=\"INFO\"/>"],
            removed: &["  <logger name=\"com.shop.@S.web.AccessLogFilter\" level=\"DEBUG\"/>"],
            added: &["  <logger name=\"com.shop.@S.web.AccessLogFilter\" level=\"INFO\"/>"],
            after: &["</configuration>"],
        },
        (_, R::Python) => Change {
            title: "Tidy up log messages",
            path: "@S/logging_setup.py",
            func: "def configure():",
            before: &[],
            removed: &["    fmt = \"%(asctime)s %(levelname)s %(message)s\""],
            added: &["    fmt = \"%(asctime)s %(levelname)s %(name)s %(message)s\""],
            after: &["    logging.basicConfig(format=fmt, level=logging.INFO)"],
        },
        (_, R::Node) => Change {
            title: "Add request id to log lines",
            path: "src/@S/logger.js",
            func: "module.exports = pino({",
            before: &["  level: process.env.LOG_LEVEL || 'info',"],
            removed: &[],
            added: &["  mixin: () => ({ reqId: als.getStore()?.reqId }),"],
            after: &["});"],
        },
        (_, R::Rust) => Change {
            title: "Add span fields to request logs",
            path: "src/@S/telemetry.rs",
            func: "pub fn layer() -> TraceLayer {",
            before: &[],
            removed: &["    TraceLayer::new_for_http()"],
            added: &["    TraceLayer::new_for_http().make_span_with(DefaultMakeSpan::new().include_headers(false))"],
            after: &["}"],
        },
        (_, _) => Change {
            title: "Log the build version at startup",
            path: "cmd/@S/main.go",
            func: "func main() {",
            before: &["\tcfg := config.Load()"],
            removed: &[],
            added: &["\tslog.Info(\"starting\", \"version\", version.String(), \"commit\", version.Commit)"],
            after: &["\tsrv := server.New(cfg)"],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::reverse;

    #[test]
    fn reverse_swaps_sides_and_hunk_ranges() {
        let d = "--- a/x\n+++ b/x\n@@ -3,2 +3,3 @@ fn f()\n a\n-b\n+c\n+d\n";
        let r = reverse(d);
        assert!(r.contains("@@ -3,3 +3,2 @@ fn f()"), "{r}");
        assert!(r.contains("\n+b\n-c\n-d\n"), "{r}");
    }
}

#include "dispatch-server/server/server_assembly.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "dispatch-server/audit/identity_log.h"
#include "dispatch-server/audit/period_report.h"
#include "dispatch-server/audit/postgres_period_tables.h"
#include "dispatch-server/audit/run_report.h"
#include "dispatch-server/audit/sqlite_period_tables.h"
#include "dispatch-server/audit/store_audit_source.h"
#include "dispatch-server/auth/grpc_log_bridge.h"
#include "dispatch-server/auth/operator_auth.h"
#include "dispatch-server/auth/token_file.h"
#include "dispatch-server/notify/postgres_outbox.h"
#include "dispatch-server/store/postgres_escalation_lease.h"
#include "geo/proj_library.h"

namespace cit::dispatch {

namespace {

// The escalation lease's holder: the instance name, or (one instance, none configured) this
// host and process, unique while it runs.
std::string EscalationLeaseHolder(const std::string& instance) {
  if (!instance.empty()) return instance;
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host, ":", getpid());
}

// The notifier on PostgreSQL: the outbox shared by the instances (postgres_outbox.h), claimed
// under the same name as the escalation lease.
absl::StatusOr<std::unique_ptr<Notifier>> OpenSharedNotifier(
    const NotifyOptions& notify, const DispatchServerOptions& o, AlertManager* alerts,
    const Clock* clock, std::shared_ptr<MetricsRegistry> metrics) {
  const std::chrono::milliseconds claim = OutboxClaimDuration(notify);
  absl::StatusOr<std::unique_ptr<PostgresOutbox>> outbox = PostgresOutbox::Open(
      o.postgres_connection, EscalationLeaseHolder(o.postgres_instance), claim, notify.max_pending);
  if (!outbox.ok()) return outbox.status();
  spdlog::info("event=notification_outbox backend=postgresql claim_ms={}", claim.count());
  return Notifier::Open(notify, *std::move(outbox), alerts, clock, std::move(metrics));
}

// Token/role changes since the last start-up into the identity log, each signed at once in its
// own "identities" checkpoint. A log that no longer matches its checkpoints is not extended:
// replaying it would record "changes" against a forged state; it is logged as an error and the
// auditor's `audit verify` names what was changed.
absl::Status RecordIdentityChanges(AuditTrail& trail, IdentityLog& log, const LoadedTokenFile& file,
                                   SysTime now) {
  absl::StatusOr<cit::v1::VerifyChainResponse> v = trail.ledger()->VerifyIdentities(nullptr);
  if (!v.ok()) return v.status();
  for (const cit::v1::ChainResult& c : v->chains()) {
    if (c.chain() == "identities" && !c.intact()) {
      spdlog::error(
          "event=identity_log_broken first_bad=\"{}\" problem=\"{}\": token/role changes are "
          "not recorded until the identity log is examined (dispatchctl audit verify "
          "--identities)",
          c.first_bad(), c.problem());
      return absl::OkStatus();
    }
  }
  absl::StatusOr<std::vector<cit::v1::IdentityEvent>> changes =
      log.Record(file, now, [&trail](const cit::v1::IdentityEvent&) -> absl::Status {
        absl::StatusOr<cit::v1::SignedCheckpoint> c =
            trail.log().Append("identities", std::chrono::system_clock::now(), false);
        if (!c.ok()) {
          spdlog::error("event=checkpoint_failed reason=identities error=\"{}\"",
                        c.status().ToString());
          return c.status();
        }
        spdlog::info("event=checkpoint_signed id={} reason=identities heads={} key_id={}",
                     c->checkpoint().checkpoint_id(), c->checkpoint().heads_size(),
                     c->checkpoint().key_id());
        return absl::OkStatus();
      });
  return changes.status();
}

// The period report's tables in the database of the runs and alerts ([store] backend).
absl::StatusOr<std::unique_ptr<PeriodReportTables>> OpenPeriodTables(const DispatchServerOptions& o,
                                                                     bool on_postgres) {
  if (on_postgres) {
    absl::StatusOr<std::unique_ptr<PostgresPeriodTables>> t =
        PostgresPeriodTables::Open(o.postgres_connection);
    if (!t.ok()) return t.status();
    return std::unique_ptr<PeriodReportTables>(*std::move(t));
  }
  absl::StatusOr<std::unique_ptr<SqlitePeriodTables>> t = SqlitePeriodTables::Open(o.database_path);
  if (!t.ok()) return t.status();
  return std::unique_ptr<PeriodReportTables>(*std::move(t));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerAssembly>> ServerAssembly::Start(ServerAssemblyOptions options,
                                                                      const Clock* clock) {
  // PROJ is loaded on first use (geo/proj_library.h): load it now, so that a broken
  // installation stops the start with PROJ's message rather than a later projection.
  if (absl::StatusOr<const geo::ProjLibrary*> proj = geo::LoadProj(); !proj.ok()) {
    return proj.status();
  }
  std::unique_ptr<ServerAssembly> a(new ServerAssembly());
  const DispatchServerOptions& o = options.server;
  DispatchServer::Builder builder(o);
  // gRPC's own lines (one per failed TLS handshake) into spdlog, counted and rate-limited.
  InstallGrpcLogBridge(builder.shared_metrics());
  // Operator API: bearer tokens and roles on every call ([auth] tokens). The file is read once:
  // the identity log records exactly the tokens the port (and the HTTP API) will accept.
  absl::StatusOr<LoadedTokenFile> token_file = LoadTokenFileForLog(options.operator_tokens);
  if (!token_file.ok()) return token_file.status();
  auto tokens = std::make_shared<const TokenFile>(token_file->tokens);
  builder.ConfigureOperatorCredentials(
      [tokens, path = options.operator_tokens,
       metrics = builder.shared_metrics()](grpc::ServerCredentials& creds) {
        creds.SetAuthMetadataProcessor(MakeOperatorAuth(tokens, path, metrics));
        return absl::OkStatus();
      });
  absl::StatusOr<std::shared_ptr<Store>> store = builder.store();
  if (!store.ok()) return store.status();
  const bool on_postgres = o.store_backend == DispatchServerOptions::StoreBackend::kPostgresql;
  if (on_postgres) {
    // What lives where, said at every start: on PostgreSQL everything shared by the instances;
    // beside `[store] path` only this instance's checkpoint signing key (audit_trail.h).
    spdlog::info(
        "event=store_backend backend=postgresql key_beside={} note=\"records, runs and plan log, "
        "alerts and alert events, monitor snapshots, the restart rebuild, period reports, the "
        "notification outbox, the checkpoints and the identity log are on PostgreSQL, one chain "
        "each for every instance (docs/operations.md)\"",
        o.database_path.string());
  }

  // Run plans, monitor, rules, alerts: Dispatch + Alerts services and the record observer.
  RunMonitoringOptions rm_options;
  rm_options.database_path = o.database_path;
  if (on_postgres) rm_options.postgres_connection = o.postgres_connection;
  rm_options.alert_follow_interval = o.alert_follow_interval;
  if (on_postgres) rm_options.instance = o.postgres_instance;
  rm_options.plan_follow_interval = o.plan_follow_interval;
  rm_options.instance_expiry = o.instance_expiry;
  rm_options.monitor.rules = options.rules;
  rm_options.monitor.snapshot_interval_s = o.monitor_snapshot_interval_s;
  absl::StatusOr<std::unique_ptr<RunMonitoring>> monitoring =
      RunMonitoring::Open(rm_options, clock);
  if (!monitoring.ok()) return monitoring.status();
  a->monitoring_ = *std::move(monitoring);
  a->monitoring_->Register(builder);
  RunManager& runs = a->monitoring_->runs();
  runs.SetRequireStopWindows(o.require_stop_windows);
  // A plan for a vehicle never heard of is refused unless forced (issue 13): stored records.
  a->monitoring_->dispatch_service().SetVehicleKnown(
      [store = *store](const std::string& vehicle_id) -> absl::StatusOr<bool> {
        absl::StatusOr<uint64_t> n = store->CountRecords(vehicle_id);
        if (!n.ok()) return n.status();
        return *n > 0;
      });
  AlertManager& alerts = a->monitoring_->alerts();
  // Escalation and notifications ([[escalation]], [notify]): outbox in the same database.
  if (options.notify.enabled()) {
    absl::StatusOr<std::unique_ptr<Notifier>> notifier =
        on_postgres
            ? OpenSharedNotifier(options.notify, o, &alerts, clock, builder.shared_metrics())
            : Notifier::Open(options.notify, o.database_path, &alerts, clock,
                             builder.shared_metrics());
    if (!notifier.ok()) return notifier.status();
    a->notifier_ = *std::move(notifier);
    if (on_postgres) {
      // Several instances may share the database: one escalates at a time (escalator.h).
      const std::string holder = EscalationLeaseHolder(o.postgres_instance);
      absl::StatusOr<std::unique_ptr<PostgresEscalationLease>> lease =
          PostgresEscalationLease::Open(o.postgres_connection, holder, o.escalation_lease);
      if (!lease.ok()) return lease.status();
      a->notifier_->SetEscalationLease(*std::move(lease), o.escalation_lease / 3);
      spdlog::info("event=escalation_lease holder=\"{}\" lease_ms={}", holder,
                   o.escalation_lease.count());
    }
  }
  // Signed checkpoints of every chain head ([audit]); the ledger behind `audit verify`.
  absl::StatusOr<std::unique_ptr<AuditTrail>> trail =
      AuditTrail::Open(options.audit, o.database_path, on_postgres ? o.postgres_connection : "",
                       o.postgres_instance);
  if (!trail.ok()) return trail.status();
  a->trail_ = *std::move(trail);
  // The identity log exists before the start-up checkpoint, so that checkpoint lists its head.
  absl::StatusOr<std::unique_ptr<IdentityLog>> identities =
      on_postgres ? IdentityLog::OpenPostgres(o.postgres_connection)
                  : IdentityLog::Open(o.database_path);
  if (!identities.ok()) return identities.status();
  auto audit_source = std::make_shared<StoreAuditSource>(
      **store, [&runs](const std::string& id) { return runs.Get(id); },
      [&alerts](const std::string& id) -> absl::StatusOr<std::vector<cit::v1::Alert>> {
        AlertFilter filter;
        filter.run_id = id;
        return alerts.List(filter);
      });
  a->audit_ = std::make_unique<AuditService>(audit_source, a->trail_->ledger());
  // Period reports (docs/reports.md): derived tables next to the run and alert stores, which
  // they join in SQL.
  absl::StatusOr<std::unique_ptr<PeriodReportTables>> period_tables =
      OpenPeriodTables(o, on_postgres);
  if (!period_tables.ok()) return period_tables.status();
  a->period_reporter_ = PeriodReporter::Open(*std::move(period_tables), audit_source);
  a->audit_->SetPeriodReporter(a->period_reporter_);
  // Runs are summarised soon after they end, so a month's report aggregates stored summaries.
  a->period_reporter_->StartBackground(std::chrono::seconds(60));
  builder.AddOperatorService(a->audit_.get());
  // Plan check (issue 13): the rule engine on a private copy; reads runs and records only.
  a->plans_ = std::make_unique<PlansService>(PlansServiceDeps{
      .get_run = [&runs](const std::string& id) { return runs.Get(id); },
      .run_records =
          [audit_source](const cit::v1::Run& run) -> absl::StatusOr<std::vector<cit::v1::Record>> {
        const auto [from, to] = RunWindow(run);
        auto stored = audit_source->VehicleRecords(run.plan().vehicle_id(), from, to);
        if (!stored.ok()) return stored.status();
        std::vector<cit::v1::Record> out;
        out.reserve(stored->size());
        for (cit::v1::StoredRecord& r : *stored) out.push_back(std::move(*r.mutable_record()));
        return out;
      },
      .metrics = builder.shared_metrics(),
      .rules = options.rules});
  builder.AddOperatorService(a->plans_.get());
  // Anchors everything stored so far, before anything new can arrive.
  if (absl::Status s = a->trail_->Start(); !s.ok()) return s;
  // Token/role changes since the last start-up, after that checkpoint (so that entries added
  // while the server was stopped still show between the shutdown and start-up checkpoints) and
  // each signed at once in its own checkpoint.
  if (absl::Status st = RecordIdentityChanges(*a->trail_, **identities, *token_file, clock->Now());
      !st.ok()) {
    return st;
  }

  absl::StatusOr<std::unique_ptr<DispatchServer>> server = builder.Start();
  if (!server.ok()) return server.status();
  a->server_ = *std::move(server);
  a->monitoring_->Start();
  if (a->notifier_) a->notifier_->Start();

  // HTTP API and web console ([http]): a JSON gateway to the operator port above.
  if (!options.http.listen.empty()) {
    HttpServerDeps deps;
    deps.options = options.http;
    deps.insecure_dev = o.insecure_dev;
    deps.tls = o.tls;
    deps.operator_target = LoopbackTarget(o.operator_address, a->server_->operator_port());
    deps.tokens = tokens;
    deps.metrics = &a->server_->metrics();
    absl::StatusOr<std::unique_ptr<HttpServer>> http = HttpServer::Start(std::move(deps));
    if (!http.ok()) return http.status();
    a->http_ = *std::move(http);
  }
  return a;
}

ServerAssembly::~ServerAssembly() { Stop(); }

void ServerAssembly::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (period_reporter_) period_reporter_->StopBackground();  // before the store goes
  if (http_) http_->Stop();  // its streams are gRPC calls to the operator port
  if (server_) server_->Shutdown();
  if (notifier_) notifier_->Stop();
  if (monitoring_) monitoring_->Stop();
  if (trail_) {
    if (monitoring_) monitoring_->alerts().WaitStored().IgnoreError();  // logged by the persister
    trail_->Stop().IgnoreError();  // the shutdown checkpoint; logged
  }
}

}  // namespace cit::dispatch

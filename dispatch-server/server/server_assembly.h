// The one place that assembles dispatch-server: the core (store, ingest, telemetry, operator and
// metrics ports: dispatch_server.h), run monitoring (plans, monitor, rules, alerts, the Dispatch
// and Alerts services: run_monitoring.h), the audit trail (signed checkpoints and the ledger
// behind `audit verify`: audit/audit_trail.h), the Audit and Plans (plan check) services,
// operator authentication,
// gRPC's log bridge and the HTTP API. main.cc only turns flags and the config file into
// ServerAssemblyOptions and waits for a stop signal.
//
//   ServerAssemblyOptions opts;
//   opts.server = cfg->server;                                   // config/config.h
//   opts.operator_tokens = *OperatorTokensPath(cfg->raw, cfg->source);
//   opts.http = *HttpOptionsFromConfig(cfg->raw, cfg->source, opts.server.tls.ca_file);
//   SystemClock clock;
//   absl::StatusOr<std::unique_ptr<ServerAssembly>> server = ServerAssembly::Start(opts, &clock);
//   ...                                                          // SIGTERM:
//   (*server)->Stop();          // HTTP first (its streams are operator calls), then the core
//
// Start order: the token file is read (once), the store and the monitoring state are loaded,
// the start-up checkpoint is signed (anchoring everything stored before the ports open), token/
// role changes since the last start-up are appended to the identity log and signed in an
// "identities" checkpoint (audit/identity_log.h), the ports open, then the monitor thread
// and the background compile of loaded plans start, then the HTTP API (which calls the operator
// port over loopback). Stop ends with the shutdown checkpoint, after the last commit and after
// the alert events are stored.
//
// Thread contract: Start/Stop and the accessors from one thread; Stop is idempotent and also
// run by the destructor.
#ifndef CIT_DISPATCH_SERVER_SERVER_SERVER_ASSEMBLY_H_
#define CIT_DISPATCH_SERVER_SERVER_SERVER_ASSEMBLY_H_

#include <filesystem>
#include <memory>

#include "absl/status/statusor.h"
#include "dispatch-server/audit/audit_config.h"
#include "dispatch-server/audit/audit_service.h"
#include "dispatch-server/audit/audit_trail.h"
#include "dispatch-server/common/clock.h"
#include "dispatch-server/http/http_options.h"
#include "dispatch-server/http/http_server.h"
#include "dispatch-server/notify/notifier.h"
#include "dispatch-server/notify/notify_config.h"
#include "dispatch-server/plancheck/plans_service.h"
#include "dispatch-server/rules/rule_policy.h"
#include "dispatch-server/server/dispatch_server.h"
#include "dispatch-server/server/run_monitoring.h"

namespace cit::dispatch {

struct ServerAssemblyOptions {
  DispatchServerOptions server;
  // The operator token file ([auth] tokens); empty: the operator port admits nobody.
  std::filesystem::path operator_tokens;
  // The HTTP API and web console; an empty http.listen disables it.
  HttpOptions http;
  // Checkpoint signing key and interval ([audit]).
  AuditOptions audit;
  // Server-wide rule settings ([rules]): deviation escalation steps.
  RulePolicy rules;
  // Escalation policy and notification targets ([[escalation]], [notify]).
  NotifyOptions notify;
};

class ServerAssembly {
 public:
  // Opens everything and starts serving; `clock` (not owned) must outlive the assembly.
  static absl::StatusOr<std::unique_ptr<ServerAssembly>> Start(ServerAssemblyOptions options,
                                                               const Clock* clock);
  ~ServerAssembly();
  ServerAssembly(const ServerAssembly&) = delete;
  ServerAssembly& operator=(const ServerAssembly&) = delete;
  ServerAssembly(ServerAssembly&&) = delete;
  ServerAssembly& operator=(ServerAssembly&&) = delete;

  // Graceful stop: the HTTP API, then the core (DispatchServer::Shutdown: commit, ack, end
  // streams), then the monitor. Idempotent.
  void Stop();

  DispatchServer& server() { return *server_; }
  RunMonitoring& monitoring() { return *monitoring_; }
  // nullptr when the HTTP API is disabled.
  HttpServer* http() { return http_.get(); }

 private:
  ServerAssembly() = default;

  // Declaration order is destruction order reversed: the HTTP API and the core go first, the
  // services they call (audit, monitoring) after.
  std::unique_ptr<RunMonitoring> monitoring_;
  std::unique_ptr<Notifier> notifier_;  // reads the alerts: goes before monitoring_
  std::unique_ptr<AuditTrail> trail_;
  std::unique_ptr<AuditService> audit_;
  std::shared_ptr<PeriodReporter> period_reporter_;  // its summariser reads the store
  std::unique_ptr<PlansService> plans_;
  std::unique_ptr<DispatchServer> server_;
  std::unique_ptr<HttpServer> http_;
  bool stopped_ = false;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_SERVER_SERVER_ASSEMBLY_H_

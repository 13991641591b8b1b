#include "dispatchctl/cli.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "dispatch-server/audit/checkpoint_key.h"
#include "dispatch-server/auth/token_hash.h"
#include "dispatchctl/alert_place.h"
#include "dispatchctl/board_command.h"
#include "dispatchctl/config_file.h"
#include "dispatchctl/connection.h"
#include "dispatchctl/connection_check.h"
#include "dispatchctl/error_advice.h"
#include "dispatchctl/export_download.h"
#include "dispatchctl/format.h"
#include "dispatchctl/identity_format.h"
#include "dispatchctl/period_range.h"
#include "dispatchctl/period_report_format.h"
#include "dispatchctl/plan_check_format.h"
#include "dispatchctl/plan_fetch.h"
#include "dispatchctl/plan_file.h"
#include "dispatchctl/track_formats.h"
#include "dispatchctl/track_table.h"

namespace cit::ctl {
namespace {

constexpr const char* kExitCodesHelp =
    "Exit codes: 0 ok, 1 negative answer (audit verify: chain broken), 2 usage error,\n"
    "3 server unreachable, 4 token missing/unknown or role not allowed, 5 not found,\n"
    "6 request refused as invalid or conflicting, 7 other error.";

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    default:
      return "ERROR";
  }
}

// The server address the calls went to, for the advice under an error.
std::string& ServerForAdvice() {
  static std::string server;
  return server;
}

int Fail(const grpc::Status& status, const std::string& what) {
  std::cerr << "dispatchctl: " << what << ": " << CodeName(status.error_code()) << ": "
            << status.error_message() << "\n"
            << AdviceFor(status, ServerForAdvice());
  return ExitCodeFor(status);
}

int FailStatus(const absl::Status& status) {
  std::cerr << "dispatchctl: " << status.message() << "\n";
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kUnauthenticated:
      return kExitAuth;
    default:
      return kExitUsage;
  }
}

std::optional<cit::v1::Severity> ParseSeverity(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::toupper);
  cit::v1::Severity sev;
  if (cit::v1::Severity_Parse("SEVERITY_" + s, &sev)) return sev;
  return std::nullopt;
}

// "route_deviation" or "ROUTE_DEVIATION" (as `watch` prints it).
std::optional<cit::v1::AlertKind> ParseKind(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::toupper);
  cit::v1::AlertKind kind;
  if (cit::v1::AlertKind_Parse("ALERT_KIND_" + s, &kind) &&
      kind != cit::v1::ALERT_KIND_UNSPECIFIED) {
    return kind;
  }
  return std::nullopt;
}

// The kinds an operator can name, for the error that refuses a misspelt one.
std::string KindNames() {
  std::string names;
  const auto* e = cit::v1::AlertKind_descriptor();
  for (int i = 0; i < e->value_count(); ++i) {
    if (e->value(i)->number() == cit::v1::ALERT_KIND_UNSPECIFIED) continue;
    if (!names.empty()) names += ", ";
    names += KindName(static_cast<cit::v1::AlertKind>(e->value(i)->number()));
  }
  return names;
}

// --kind values as a set; false (and a message) when one is not a kind.
bool ParseKinds(const std::vector<std::string>& names, std::vector<cit::v1::AlertKind>& kinds) {
  for (const std::string& name : names) {
    std::optional<cit::v1::AlertKind> kind = ParseKind(name);
    if (!kind) {
      std::cerr << "dispatchctl: --kind " << name
                << " is not an alert kind; one of: " << KindNames() << "\n";
      return false;
    }
    kinds.push_back(*kind);
  }
  return true;
}

bool KindSelected(const std::vector<cit::v1::AlertKind>& kinds, cit::v1::AlertKind kind) {
  return kinds.empty() || std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

struct Globals {
  ConnectionOptions conn;
  double timeout_s = 10;
  bool json = false;
  bool utc = false;  // human output in UTC instead of the local zone

  TimeZoneChoice zone() const { return utc ? TimeZoneChoice::kUtc : TimeZoneChoice::kLocal; }
};

// Runs after parsing; returns the exit code.
using Action = std::function<int()>;

absl::StatusOr<Connection> Connect(Globals& g) {
  if (absl::Status s = CheckTimeout(g.timeout_s); !s.ok()) return s;
  g.conn.timeout = std::chrono::milliseconds(static_cast<long>(g.timeout_s * 1000));
  ServerForAdvice() = g.conn.server;
  return Connection::Open(g.conn);
}

template <typename Fn>
int WithConnection(Globals& g, Fn&& fn) {
  absl::StatusOr<Connection> conn = Connect(g);
  if (!conn.ok()) return FailStatus(conn.status());
  return fn(*conn);
}

// ---- watch ------------------------------------------------------------------------------------

// A plan that cannot be read (a run deleted, a role without GetRun) costs the place, not the
// line: said once per run on stderr, and the line keeps latitude/longitude.
PlaceFinder::ErrorSink PlaceErrorsToStderr() {
  return [](const std::string& message) { std::cerr << "dispatchctl: " << message << "\n"; };
}

struct WatchOptions {
  std::uint64_t after = 0;
  std::string min_severity;
  std::vector<std::string> vehicles;
  std::vector<std::string> kinds;
  double for_s = 0;
  std::uint64_t count = 0;
  std::string color = "auto";
  bool no_bell = false;
  bool board = false;
};

// A critical alert that is new, worse, back, or still unacknowledged when the watch starts rings
// the terminal bell: the night-shift operator may be looking at another screen.
bool RingsBell(const cit::v1::AlertEvent& e) {
  if (e.alert().severity() != cit::v1::SEVERITY_CRITICAL) return false;
  switch (e.type()) {
    case cit::v1::ALERT_EVENT_TYPE_RAISED:
    case cit::v1::ALERT_EVENT_TYPE_ESCALATED:
    case cit::v1::ALERT_EVENT_TYPE_REOCCURRED:
      return true;
    case cit::v1::ALERT_EVENT_TYPE_UNSPECIFIED:  // the open alerts replayed at the start
      return e.alert().state() == cit::v1::ALERT_STATE_OPEN;
    default:
      return false;
  }
}

int Watch(Globals& g, const WatchOptions& w) {
  std::optional<cit::v1::Severity> min_sev;
  if (!w.min_severity.empty()) {
    min_sev = ParseSeverity(w.min_severity);
    if (!min_sev) {
      std::cerr << "dispatchctl: --min-severity must be low, medium, high or critical\n";
      return kExitUsage;
    }
  }
  std::vector<cit::v1::AlertKind> kinds;
  if (!ParseKinds(w.kinds, kinds)) return kExitUsage;
  if (w.board) {
    if (g.json) {
      std::cerr << "dispatchctl: watch --board is a screen for people; --json is for scripts: "
                   "use one or the other\n";
      return kExitUsage;
    }
    const BoardOptions board{.zone = g.zone(),
                             .color = w.color != "never" && std::getenv("NO_COLOR") == nullptr,
                             .vehicles = w.vehicles,
                             .min_severity = min_sev,
                             .kinds = kinds};
    return WithConnection(g, [&](const Connection& conn) { return RunAlertBoard(conn, board); });
  }
  const bool terminal = isatty(STDOUT_FILENO) != 0;
  const AlertLineStyle style{
      .color = !g.json && (w.color == "always" ||
                           (w.color == "auto" && terminal && std::getenv("NO_COLOR") == nullptr)),
      .zone = g.zone(),
      .place = true};
  const bool bell = !g.json && terminal && !w.no_bell;
  return WithConnection(g, [&](const Connection& conn) {
    // The place in the run's terms: its plan is read once per run (and plan version).
    PlaceFinder places(PlanFetcher(conn), PlaceErrorsToStderr());
    AlertLineStyle line_style = style;
    line_style.place_note = [&places](const cit::v1::Alert& a) { return places.Describe(a); };
    std::uint64_t cursor = w.after;
    // What the server gave with the last event read: resumes on any instance of the database.
    // The event id is the fallback for servers that give none.
    std::string token;
    std::uint64_t seen = 0;
    std::optional<std::chrono::system_clock::time_point> deadline;
    if (w.for_s > 0) {
      deadline = std::chrono::system_clock::now() +
                 std::chrono::milliseconds(static_cast<long>(w.for_s * 1000));
    }
    auto backoff = std::chrono::milliseconds(250);
    bool announced_wait = false;
    while (true) {
      grpc::ClientContext ctx;
      conn.Prepare(ctx, /*streaming=*/true);
      // Wait for the server to come back rather than failing fast while it restarts.
      ctx.set_wait_for_ready(true);
      if (deadline) ctx.set_deadline(*deadline);
      cit::v1::WatchAlertsRequest req;
      // Resume exactly after the last event shown, so a reconnect neither repeats nor loses one.
      if (token.empty()) {
        req.set_after_event_id(cursor);
      } else {
        req.set_resume_token(token);
      }
      if (min_sev) req.set_min_severity(*min_sev);
      for (const auto& v : w.vehicles) req.add_vehicle_ids(v);
      auto reader = conn.alerts().WatchAlerts(&ctx, req);
      cit::v1::AlertEvent event;
      bool done = false;
      while (reader->Read(&event)) {
        backoff = std::chrono::milliseconds(250);
        announced_wait = false;
        cursor = event.event_id();
        if (!event.resume_token().empty()) token = event.resume_token();
        // Filtered here, not by the server: the cursor still moves past events not shown.
        if (!KindSelected(kinds, event.alert().kind())) continue;
        if (g.json) {
          std::cout << ToJsonLine(event) << std::endl;
        } else {
          std::cout << FormatAlertEvent(event, line_style) << (bell && RingsBell(event) ? "\a" : "")
                    << std::endl;
        }
        if (w.count > 0 && ++seen >= w.count) {
          done = true;
          ctx.TryCancel();
          break;
        }
      }
      grpc::Status status = reader->Finish();
      if (done) return static_cast<int>(kExitOk);
      if (deadline && std::chrono::system_clock::now() >= *deadline)
        return static_cast<int>(kExitOk);
      const ExitCode code = ExitCodeFor(status);
      if (code == kExitAuth || code == kExitRejected || code == kExitUsage) {
        return Fail(status, "watch");
      }
      if (!announced_wait) {
        std::cerr << "dispatchctl: watch stream ended (" << status.error_message()
                  << "); reconnecting, resuming after event " << cursor << "\n";
        announced_wait = true;
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  });
}

// ---- alerts -----------------------------------------------------------------------------------

int AckOrResolve(Globals& g, bool resolve, std::uint64_t id, const std::string& comment) {
  return WithConnection(g, [&](const Connection& conn) {
    cit::v1::Alert alert;
    const grpc::Status status = conn.ActOnAlert(resolve, id, comment, &alert);
    if (!status.ok()) return Fail(status, resolve ? "resolve" : "ack");
    std::cout << (g.json ? ToJsonLine(alert) : FormatAlert(alert, {.zone = g.zone()})) << "\n";
    return static_cast<int>(kExitOk);
  });
}

int AlertHistory(Globals& g, std::uint64_t id, bool updates) {
  return WithConnection(g, [&](const Connection& conn) {
    cit::v1::ListAlertEventsRequest req;
    req.set_alert_id(id);
    req.set_include_updated(updates);
    cit::v1::ListAlertEventsResponse history;
    grpc::ClientContext ctx;
    conn.Prepare(ctx);
    const grpc::Status status = conn.alerts().ListAlertEvents(&ctx, req, &history);
    if (!status.ok()) return Fail(status, "alerts history");
    std::cout << (g.json ? ToJsonLine(history) + "\n" : FormatAlertHistory(history, g.zone()));
    return static_cast<int>(kExitOk);
  });
}

struct AlertsListOptions {
  std::string vehicle;
  std::string run;
  std::vector<std::string> states;
  std::string min_severity;
  std::vector<std::string> kinds;
};

int AlertsList(Globals& g, const AlertsListOptions& o) {
  cit::v1::ListAlertsRequest req;
  req.set_vehicle_id(o.vehicle);
  req.set_run_id(o.run);
  for (std::string s : o.states) {
    std::transform(s.begin(), s.end(), s.begin(), ::toupper);
    cit::v1::AlertState state;
    if (!cit::v1::AlertState_Parse("ALERT_STATE_" + s, &state) ||
        state == cit::v1::ALERT_STATE_UNSPECIFIED) {
      std::cerr << "dispatchctl: --state must be open, acknowledged or resolved\n";
      return kExitUsage;
    }
    req.add_states(state);
  }
  if (!o.min_severity.empty()) {
    std::optional<cit::v1::Severity> sev = ParseSeverity(o.min_severity);
    if (!sev) {
      std::cerr << "dispatchctl: --min-severity must be low, medium, high or critical\n";
      return kExitUsage;
    }
    req.set_min_severity(*sev);
  }
  std::vector<cit::v1::AlertKind> kinds;
  if (!ParseKinds(o.kinds, kinds)) return kExitUsage;
  return WithConnection(g, [&](const Connection& conn) {
    grpc::ClientContext ctx;
    conn.Prepare(ctx);
    cit::v1::ListAlertsResponse all;
    grpc::Status status = conn.alerts().ListAlerts(&ctx, req, &all);
    if (!status.ok()) return Fail(status, "alerts list");
    cit::v1::ListAlertsResponse shown;
    for (cit::v1::Alert& a : *all.mutable_alerts()) {
      if (KindSelected(kinds, a.kind())) *shown.add_alerts() = std::move(a);
    }
    std::sort(shown.mutable_alerts()->begin(), shown.mutable_alerts()->end(),
              [](const auto& a, const auto& b) { return a.alert_id() < b.alert_id(); });
    if (g.json) {
      for (const cit::v1::Alert& a : shown.alerts()) std::cout << ToJsonLine(a) << "\n";
    } else if (shown.alerts().empty()) {
      std::cout << "No alerts match.\n";
    } else {
      PlaceFinder places(PlanFetcher(conn), PlaceErrorsToStderr());
      std::cout << FormatAlertTable(
          shown, g.zone(), [&places](const cit::v1::Alert& a) { return places.Describe(a); });
    }
    return static_cast<int>(kExitOk);
  });
}

// ---- track ------------------------------------------------------------------------------------

struct TrackOptions {
  std::string run;
  std::string vehicle;
  std::string from;
  std::string to;
};

// The request for a run, or for a vehicle between two times; a message when the options do not
// name one of the two.
std::optional<cit::v1::GetTrackRequest> TrackRequestFor(const TrackOptions& o) {
  cit::v1::GetTrackRequest req;
  const auto refuse = [](const std::string& why) {
    std::cerr << "dispatchctl: track: " << why
              << "\n  e.g. dispatchctl track --run RUN-7, or dispatchctl track --vehicle CIT-042"
                 " --from 2026-12-07T06:00:00Z --to 2026-12-07T14:00:00Z\n";
    return std::nullopt;
  };
  if (o.run.empty() == o.vehicle.empty()) return refuse("name either --run or --vehicle");
  if (!o.run.empty()) {
    if (!o.from.empty() || !o.to.empty()) {
      return refuse("--from/--to go with --vehicle; a run's track is its own time window");
    }
    req.set_run_id(o.run);
    return req;
  }
  if (o.from.empty() || o.to.empty()) return refuse("--vehicle needs --from and --to");
  std::optional<TimeWindow> from = ParseTimeWindow(o.from);
  std::optional<TimeWindow> to = ParseTimeWindow(o.to);
  if (!from || !to) {
    return refuse("--from and --to take a day (2026-12-07, UTC) or an RFC 3339 time");
  }
  // A day as --to means up to the end of that day.
  *req.mutable_from() = from->from;
  *req.mutable_to() = to->to;
  if (google::protobuf::util::TimeUtil::TimestampToNanoseconds(req.to()) <
      google::protobuf::util::TimeUtil::TimestampToNanoseconds(req.from())) {
    return refuse("--to is before --from");
  }
  req.set_vehicle_id(o.vehicle);
  return req;
}

// StreamTrack: any length of track, printed page by page as it arrives.
int Track(Globals& g, const TrackOptions& o) {
  std::optional<cit::v1::GetTrackRequest> req = TrackRequestFor(o);
  if (!req) return kExitUsage;
  return WithConnection(g, [&](const Connection& conn) {
    grpc::ClientContext ctx;
    conn.Prepare(ctx, /*streaming=*/true);
    auto reader = conn.audit().StreamTrack(&ctx, *req);
    TrackTable table(g.zone());
    if (!g.json) std::cout << table.Header();
    cit::v1::GetTrackResponse page;
    while (reader->Read(&page)) {
      for (const cit::v1::StoredRecord& r : page.records()) {
        std::cout << (g.json ? ToJsonLine(r) + "\n" : table.Line(r));
      }
    }
    grpc::Status status = reader->Finish();
    if (!status.ok()) return Fail(status, "track");
    if (!g.json) std::cout << table.Summary();
    return static_cast<int>(kExitOk);
  });
}

int Fleet(Globals& g) {
  return WithConnection(g, [&](const Connection& conn) {
    grpc::ClientContext ctx;
    conn.Prepare(ctx);
    cit::v1::Fleet fleet;
    grpc::Status status = conn.dispatch().GetFleet(&ctx, cit::v1::GetFleetRequest(), &fleet);
    if (!status.ok()) return Fail(status, "fleet");
    std::cout << (g.json ? ToJsonLine(fleet) + "\n" : FormatFleet(fleet));
    return static_cast<int>(kExitOk);
  });
}

// Snapshot, then changes (each vehicle at most once per server throttle interval).
int FleetWatch(Globals& g, const std::vector<std::string>& vehicles, std::uint64_t count) {
  return WithConnection(g, [&](const Connection& conn) {
    grpc::ClientContext ctx;
    conn.Prepare(ctx, /*streaming=*/true);
    cit::v1::WatchFleetRequest req;
    for (const auto& v : vehicles) req.add_vehicle_ids(v);
    auto reader = conn.dispatch().WatchFleet(&ctx, req);
    cit::v1::VehicleState state;
    std::uint64_t seen = 0;
    while (reader->Read(&state)) {
      std::cout << (g.json ? ToJsonLine(state) : FormatVehicleLine(state)) << std::endl;
      if (count > 0 && ++seen >= count) {
        ctx.TryCancel();
        break;
      }
    }
    grpc::Status status = reader->Finish();
    if (status.ok() || (count > 0 && seen >= count)) return static_cast<int>(kExitOk);
    return Fail(status, "fleet --watch");
  });
}

// ---- plans ------------------------------------------------------------------------------------

int PrintRun(Globals& g, const grpc::Status& status, const cit::v1::Run& run, const char* what) {
  if (!status.ok()) return Fail(status, what);
  std::cout << (g.json ? ToJsonLine(run) + "\n" : FormatRun(run));
  return static_cast<int>(kExitOk);
}

void PrintPlanWarnings(const cit::v1::RunPlan& plan) {
  for (const std::string& w : PlanWarnings(plan))
    std::cerr << "dispatchctl: warning: " << w << "\n";
}

int PlanCreate(Globals& g, const std::string& file, bool update, const std::string& comment,
               bool force) {
  absl::StatusOr<cit::v1::RunPlan> plan = LoadPlanFile(file);
  if (!plan.ok()) return FailStatus(plan.status());
  PrintPlanWarnings(*plan);
  return WithConnection(g, [&](const Connection& conn) {
    grpc::ClientContext ctx;
    conn.Prepare(ctx);
    cit::v1::Run run;
    grpc::Status status;
    if (update) {
      cit::v1::UpdateRunRequest req;
      *req.mutable_plan() = *plan;
      req.set_comment(comment);
      req.set_allow_unknown_vehicle(force);
      status = conn.dispatch().UpdateRun(&ctx, req, &run);
    } else {
      cit::v1::CreateRunRequest req;
      *req.mutable_plan() = *plan;
      req.set_allow_unknown_vehicle(force);
      status = conn.dispatch().CreateRun(&ctx, req, &run);
    }
    return PrintRun(g, status, run, update ? "plan update" : "plan create");
  });
}

int PlanShow(Globals& g, const std::string& run_id) {
  return WithConnection(g, [&](const Connection& conn) {
    grpc::ClientContext ctx;
    conn.Prepare(ctx);
    cit::v1::GetRunRequest req;
    req.set_run_id(run_id);
    cit::v1::Run run;
    grpc::Status status = conn.dispatch().GetRun(&ctx, req, &run);
    if (!status.ok()) return Fail(status, "plan show");
    // The original creator and every later change, from the server's plan log.
    grpc::ClientContext history_ctx;
    conn.Prepare(history_ctx);
    cit::v1::RunHistory history;
    status = conn.dispatch().GetRunHistory(&history_ctx, req, &history);
    if (!status.ok()) return Fail(status, "plan show (history)");
    if (g.json) {
      std::cout << ToJsonLine(run) << "\n" << ToJsonLine(history) << "\n";
    } else {
      std::cout << FormatRun(run) << FormatRunHistory(history);
    }
    return static_cast<int>(kExitOk);
  });
}

int PlanList(Globals& g, const std::string& vehicle, const std::vector<std::string>& states) {
  std::vector<cit::v1::RunState> wanted;
  for (std::string s : states) {
    std::transform(s.begin(), s.end(), s.begin(), ::toupper);
    cit::v1::RunState state;
    if (!cit::v1::RunState_Parse("RUN_STATE_" + s, &state) ||
        state == cit::v1::RUN_STATE_UNSPECIFIED) {
      std::cerr << "dispatchctl: --state must be planned, dispatched, active, completed or "
                   "aborted\n";
      return kExitUsage;
    }
    wanted.push_back(state);
  }
  return WithConnection(g, [&](const Connection& conn) {
    // Summaries (no route text), a page at a time: whole plans of a few runs once passed the
    // 4 MiB message limit. `plan show RUN` reads one whole plan.
    cit::v1::ListRunsRequest req;
    req.set_vehicle_id(vehicle);
    req.set_view(cit::v1::RUN_VIEW_SUMMARY);
    cit::v1::ListRunsResponse runs;
    do {
      grpc::ClientContext page_ctx;
      conn.Prepare(page_ctx);
      cit::v1::ListRunsResponse page;
      grpc::Status status = conn.dispatch().ListRuns(&page_ctx, req, &page);
      if (!status.ok()) return Fail(status, "plan list");
      for (cit::v1::Run& r : *page.mutable_runs()) {
        if (wanted.empty() || std::find(wanted.begin(), wanted.end(), r.state()) != wanted.end()) {
          *runs.add_runs() = std::move(r);
        }
      }
      req.set_page_token(page.next_page_token());
    } while (!req.page_token().empty());
    // As a person counts: RUN-3 before RUN-12.
    std::sort(runs.mutable_runs()->begin(), runs.mutable_runs()->end(),
              [](const auto& a, const auto& b) {
                return NaturalLess(a.plan().run_id(), b.plan().run_id());
              });
    std::cout << (g.json ? ToJsonLine(runs) + "\n" : FormatRunTable(runs));
    return static_cast<int>(kExitOk);
  });
}

struct PlanCheckOptions {
  std::string plan;        // plan file, or a stored run id
  std::string track_file;  // --track
  std::string track_format = "auto";
  std::string run;  // --run: a stored run's records
};

// The server's operator port takes messages of at most 4 MiB (gRPC's default).
constexpr std::size_t kMaxRequestBytes = 4u << 20;

// PLAN is a plan file when such a file exists, else the id of a stored run.
absl::Status SetPlanSource(const std::string& plan, cit::v1::CheckPlanRequest& req) {
  std::error_code ec;
  if (!std::filesystem::exists(plan, ec)) {
    req.set_plan_run_id(plan);
    return absl::OkStatus();
  }
  absl::StatusOr<cit::v1::RunPlan> loaded = LoadPlanFile(plan);
  if (!loaded.ok()) return loaded.status();
  PrintPlanWarnings(*loaded);
  *req.mutable_plan() = *std::move(loaded);
  return absl::OkStatus();
}

absl::Status SetTrackSource(const PlanCheckOptions& o, cit::v1::CheckPlanRequest& req) {
  if (o.track_file.empty() == o.run.empty()) {
    return absl::InvalidArgumentError("plan check: give exactly one of --track FILE and --run RUN");
  }
  if (!o.run.empty()) {
    req.set_track_run_id(o.run);
    return absl::OkStatus();
  }
  std::optional<TrackFormat> format = ParseTrackFormat(o.track_format);
  if (!format) return absl::InvalidArgumentError("--format: auto, gpx, geojson, csv or nmea");
  absl::StatusOr<std::vector<TrackFix>> fixes = LoadTrackFile(o.track_file, *format);
  if (!fixes.ok()) return fixes.status();
  *req.mutable_track() = ToCheckTrack(*fixes);
  return absl::OkStatus();
}

int PlanCheck(Globals& g, const PlanCheckOptions& o) {
  cit::v1::CheckPlanRequest req;
  if (absl::Status s = SetPlanSource(o.plan, req); !s.ok()) return FailStatus(s);
  if (absl::Status s = SetTrackSource(o, req); !s.ok()) return FailStatus(s);
  if (req.ByteSizeLong() > kMaxRequestBytes) {
    std::cerr << "dispatchctl: plan check: the plan and track make " << req.ByteSizeLong()
              << " bytes; the server takes at most " << kMaxRequestBytes
              << " per request: check a shorter part of the track\n";
    return kExitUsage;
  }
  return WithConnection(g, [&](const Connection& conn) {
    grpc::ClientContext ctx;
    conn.Prepare(ctx);
    cit::v1::CheckPlanResponse resp;
    grpc::Status status = conn.plans().CheckPlan(&ctx, req, &resp);
    if (!status.ok()) return Fail(status, "plan check");
    std::cout << (g.json ? ToJsonLine(resp) + "\n" : FormatPlanCheck(resp));
    return static_cast<int>(kExitOk);
  });
}

enum class RunChange { kDispatch, kAbort, kComplete };

int PlanChange(Globals& g, RunChange change, const std::string& run_id,
               const std::string& comment) {
  return WithConnection(g, [&](const Connection& conn) {
    grpc::ClientContext ctx;
    conn.Prepare(ctx);
    cit::v1::Run run;
    grpc::Status status;
    if (change == RunChange::kDispatch) {
      cit::v1::DispatchRunRequest req;
      req.set_run_id(run_id);
      status = conn.dispatch().DispatchRun(&ctx, req, &run);
    } else {
      cit::v1::EndRunRequest req;
      req.set_run_id(run_id);
      req.set_comment(comment);
      status = change == RunChange::kAbort ? conn.dispatch().AbortRun(&ctx, req, &run)
                                           : conn.dispatch().CompleteRun(&ctx, req, &run);
    }
    return PrintRun(g, status, run, "plan");
  });
}

// ---- period report ------------------------------------------------------------------------

struct PeriodOptions {
  std::string from;
  std::string to;
  std::vector<std::string> vehicles;
  std::string group_file;
  std::string format = "table";
  std::string output;
};

// `dispatchctl report`: the period report (docs/reports.md) in the chosen format.
int PeriodReport(Globals& g, const PeriodOptions& o) {
  absl::StatusOr<Period> period = ParsePeriod(o.from, o.to);
  if (!period.ok()) {
    std::cerr << "dispatchctl: report " << period.status().message() << "\n";
    return kExitUsage;
  }
  cit::v1::PeriodReportRequest req;
  *req.mutable_from() = period->from;
  *req.mutable_to() = period->to;
  for (const std::string& v : o.vehicles) req.add_vehicle_ids(v);
  if (!o.group_file.empty()) {
    std::ifstream in(o.group_file);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) {
      std::cerr << "dispatchctl: report --group: cannot read " << o.group_file
                << "; give a file with one vehicle id per line\n";
      return kExitUsage;
    }
    absl::StatusOr<std::vector<std::string>> ids = ParseVehicleList(text.str());
    if (!ids.ok()) {
      std::cerr << "dispatchctl: report --group " << o.group_file << ": " << ids.status().message()
                << "\n";
      return kExitUsage;
    }
    if (ids->empty()) {
      std::cerr << "dispatchctl: report --group " << o.group_file
                << ": no vehicle ids in it; put one id on each line\n";
      return kExitUsage;
    }
    for (std::string& v : *ids) req.add_vehicle_ids(std::move(v));
  }
  const std::string format = g.json ? "json" : o.format;
  return WithConnection(g, [&](const Connection& conn) {
    grpc::ClientContext ctx;
    // No deadline: the first report after many runs ended summarises each of them once.
    conn.Prepare(ctx, /*streaming=*/true);
    cit::v1::PeriodReport report;
    grpc::Status status = conn.audit().GetPeriodReport(&ctx, req, &report);
    if (!status.ok()) return Fail(status, "report");
    std::string text = format == "csv"    ? FormatPeriodCsv(report)
                       : format == "json" ? FormatPeriodJson(report)
                       : format == "html" ? FormatPeriodHtml(report)
                                          : FormatPeriodTable(report);
    if (o.output.empty() || o.output == "-") {
      std::cout << text;
      return static_cast<int>(kExitOk);
    }
    std::ofstream out(o.output, std::ios::trunc);
    out << text;
    if (!out.flush()) {
      std::cerr << "dispatchctl: report: cannot write " << o.output << "\n";
      return static_cast<int>(kExitError);
    }
    std::cerr << "wrote " << o.output << " (" << format << ", " << text.size() << " bytes)\n";
    return static_cast<int>(kExitOk);
  });
}

// ---- audit ------------------------------------------------------------------------------------

// The run's export, streamed to `output` ("" or "-": stdout); the exit code.
int ExportRun(const Connection& conn, const std::string& run_id, cit::v1::ExportFormat format,
              const std::string& output) {
  grpc::ClientContext ctx;
  // No deadline: a long run takes as long as it takes; a dead server still ends the stream.
  conn.Prepare(ctx, /*streaming=*/true);
  cit::v1::ExportRunRequest req;
  req.set_run_id(run_id);
  req.set_format(format);
  ExportDownload d = DownloadExport(conn.audit(), ctx, req, output);
  if (!d.local_error.empty()) {
    std::cerr << "dispatchctl: audit export: " << d.local_error << "; nothing was written to "
              << (output.empty() ? "-" : output) << "\n";
    return static_cast<int>(kExitError);
  }
  if (!d.status.ok()) {
    if (output.empty() || output == "-") {
      std::cerr << "dispatchctl: the export on stdout is incomplete (" << d.bytes
                << " bytes before the error)\n";
    }
    return Fail(d.status, "audit export");
  }
  if (!output.empty() && output != "-") {
    std::cerr << "wrote " << output << " (" << d.bytes << " bytes, " << d.media_type << ")\n";
  }
  return static_cast<int>(kExitOk);
}

std::optional<cit::v1::ExportFormat> ExportFormatNamed(const std::string& format) {
  if (format == "geojson") return cit::v1::EXPORT_FORMAT_GEOJSON;
  if (format == "gpx") return cit::v1::EXPORT_FORMAT_GPX;
  if (format == "csv") return cit::v1::EXPORT_FORMAT_CSV;
  std::cerr << "dispatchctl: --format must be geojson, gpx or csv\n";
  return std::nullopt;
}

// `audit report RUN [--export FILE --format F]`: the report on stdout and, with --export, the
// run's export written to FILE by the same process over the same connection, fetched while the
// server computes the report (an auditor reconstructing a run wants both; one process start and
// one TLS handshake instead of two, and the server works on both at once).
int AuditReport(Globals& g, const std::string& run_id, const std::string& export_format,
                const std::string& export_output) {
  std::optional<cit::v1::ExportFormat> format;
  if (!export_output.empty()) {
    if (export_output == "-") {
      std::cerr << "dispatchctl: audit report --export needs a file (the report is on stdout); "
                   "use `audit export RUN` to write an export to stdout\n";
      return kExitUsage;
    }
    format = ExportFormatNamed(export_format);
    if (!format) return kExitUsage;
  }
  return WithConnection(g, [&](const Connection& conn) {
    int export_exit = static_cast<int>(kExitOk);
    std::thread exporting;
    if (format) {
      exporting =
          std::thread([&] { export_exit = ExportRun(conn, run_id, *format, export_output); });
    }
    grpc::ClientContext ctx;
    conn.Prepare(ctx);
    cit::v1::RunReportRequest req;
    req.set_run_id(run_id);
    cit::v1::RunReport report;
    grpc::Status status = conn.audit().GetRunReport(&ctx, req, &report);
    if (exporting.joinable()) exporting.join();
    if (!status.ok()) return Fail(status, "audit report");
    std::cout << (g.json ? ToJsonLine(report) + "\n" : FormatReport(report));
    return export_exit;
  });
}

int AuditExport(Globals& g, const std::string& run_id, const std::string& format,
                const std::string& output) {
  std::optional<cit::v1::ExportFormat> f = ExportFormatNamed(format);
  if (!f) return kExitUsage;
  return WithConnection(
      g, [&](const Connection& conn) { return ExportRun(conn, run_id, *f, output); });
}

struct VerifyOptions {
  bool as_vehicle = false;
  // Only the identity log (and the checkpoints); TARGET may then be omitted.
  bool identities = false;
  // The auditor's own copies of the checkpoint public keys (PEM): the server's, and on a
  // PostgreSQL database shared by several instances one per instance.
  std::vector<std::string> public_key_files;
  // A checkpoint exported earlier with `audit checkpoint -o FILE`.
  std::string checkpoint_file;
};

absl::StatusOr<cit::dispatch::CheckpointKey> LoadAuditorKey(const std::string& file) {
  std::ifstream in(file);
  std::stringstream pem;
  pem << in.rdbuf();
  if (!in) return absl::NotFoundError("cannot read public key " + file);
  absl::StatusOr<cit::dispatch::CheckpointKey> key =
      cit::dispatch::CheckpointKey::LoadPublicPem(pem.str());
  if (!key.ok()) {
    return absl::InvalidArgumentError(file + ": " + std::string(key.status().message()));
  }
  return key;
}

// Every checkpoint the server holds must verify with the auditor's key: a server whose key was
// replaced, or a checkpoint forged with another key, fails here, outside the server.
// The first of `keys` that `c`'s signature verifies with; null if none does.
const cit::dispatch::CheckpointKey* SigningKey(
    const std::vector<cit::dispatch::CheckpointKey>& keys, const cit::v1::SignedCheckpoint& c) {
  for (const cit::dispatch::CheckpointKey& k : keys) {
    if (k.Verify(c.body(), c.signature())) return &k;
  }
  return nullptr;
}

int CheckCheckpointsWithKey(Globals& g, const Connection& conn,
                            const std::vector<cit::dispatch::CheckpointKey>& keys,
                            const std::vector<std::string>& files) {
  cit::v1::ListCheckpointsRequest req;
  req.set_limit(1000);
  uint64_t checked = 0;
  while (true) {
    grpc::ClientContext ctx;
    conn.Prepare(ctx);
    cit::v1::ListCheckpointsResponse page;
    grpc::Status status = conn.audit().ListCheckpoints(&ctx, req, &page);
    if (!status.ok()) return Fail(status, "audit verify (checkpoints)");
    for (const auto& c : page.checkpoints()) {
      if (SigningKey(keys, c) == nullptr) {
        std::cout << "BROKEN: checkpoint #" << c.checkpoint().checkpoint_id()
                  << (c.checkpoint().instance().empty()
                          ? std::string()
                          : " of instance \"" + c.checkpoint().instance() + "\"")
                  << (keys.size() == 1 ? " does not verify with your public key " + files[0]
                                       : std::string(" does not verify with any of your public "
                                                     "keys"))
                  << " (key " << keys[0].KeyId().substr(0, 16) << "; it names key "
                  << c.checkpoint().key_id().substr(0, 16) << ")\n";
        return kExitNegative;
      }
      ++checked;
      req.set_after_id(c.checkpoint().checkpoint_id());
    }
    if (page.checkpoints_size() < static_cast<int>(req.limit())) break;
  }
  if (!g.json) {
    std::cout << checked << " checkpoints verify with your public key"
              << (keys.size() == 1 ? " (" + keys[0].KeyId().substr(0, 16) + ")"
                                   : "s (" + std::to_string(keys.size()) + " keys)")
              << "\n";
  }
  return kExitOk;
}

absl::StatusOr<cit::v1::SignedCheckpoint> LoadCheckpointFile(const std::string& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return absl::NotFoundError("cannot read checkpoint " + file);
  cit::v1::SignedCheckpoint c;
  if (!google::protobuf::util::JsonStringToMessage(text.str(), &c).ok() || c.body().empty()) {
    return absl::InvalidArgumentError(file + ": not a checkpoint written by `audit checkpoint`");
  }
  return c;
}

int AuditVerify(Globals& g, const std::string& target, const VerifyOptions& o) {
  if (target.empty() && !o.identities) {
    std::cerr << "dispatchctl: audit verify needs a run or vehicle id, or --identities\n";
    return kExitUsage;
  }
  if (!target.empty() && o.identities) {
    std::cerr << "dispatchctl: --identities checks the identity log only; every `audit verify "
                 "RUN` checks it too. Give either TARGET or --identities\n";
    return kExitUsage;
  }
  std::vector<cit::dispatch::CheckpointKey> keys;
  for (const std::string& file : o.public_key_files) {
    absl::StatusOr<cit::dispatch::CheckpointKey> k = LoadAuditorKey(file);
    if (!k.ok()) return FailStatus(k.status());
    keys.push_back(*std::move(k));
  }
  std::optional<cit::v1::SignedCheckpoint> kept;
  if (!o.checkpoint_file.empty()) {
    absl::StatusOr<cit::v1::SignedCheckpoint> c = LoadCheckpointFile(o.checkpoint_file);
    if (!c.ok()) return FailStatus(c.status());
    if (!keys.empty() && SigningKey(keys, *c) == nullptr) {
      std::cout << "BROKEN: your checkpoint " << o.checkpoint_file
                << " does not verify with your public key\n";
      return kExitNegative;
    }
    kept = *std::move(c);
  }
  return WithConnection(g, [&](const Connection& conn) {
    if (!keys.empty()) {
      if (int rc = CheckCheckpointsWithKey(g, conn, keys, o.public_key_files); rc != kExitOk) {
        return rc;
      }
    }
    auto ask = [&](bool vehicle, cit::v1::VerifyChainResponse* out) {
      grpc::ClientContext ctx;
      conn.Prepare(ctx);
      cit::v1::VerifyChainRequest req;
      if (o.identities) {
        req.set_identities(true);
      } else if (vehicle) {
        req.set_vehicle_id(target);
      } else {
        req.set_run_id(target);
      }
      if (kept) *req.mutable_checkpoint() = *kept;
      return conn.audit().VerifyChain(&ctx, req, out);
    };
    cit::v1::VerifyChainResponse result;
    grpc::Status status = ask(o.as_vehicle, &result);
    // RUN|VEHICLE: a name that is no run is tried as a vehicle.
    if (!o.identities && !o.as_vehicle && status.error_code() == grpc::StatusCode::NOT_FOUND) {
      status = ask(true, &result);
    }
    if (!status.ok()) return Fail(status, "audit verify");
    std::cout << (g.json ? ToJsonLine(result) + "\n" : FormatVerify(result));
    // The server's own key must be one of the auditor's (another instance's checkpoints may be
    // signed with another of them).
    if (!keys.empty() && !result.checkpoint_key_id().empty() &&
        std::none_of(keys.begin(), keys.end(), [&](const cit::dispatch::CheckpointKey& k) {
          return k.KeyId() == result.checkpoint_key_id();
        })) {
      std::cout << "BROKEN: the server verified with key " << result.checkpoint_key_id()
                << ", not yours (" << keys[0].KeyId() << ")\n";
      return static_cast<int>(kExitNegative);
    }
    return static_cast<int>(result.intact() ? kExitOk : kExitNegative);
  });
}

int AuditCheckpoint(Globals& g, uint64_t id, const std::string& output,
                    const std::string& public_key_file) {
  std::optional<cit::dispatch::CheckpointKey> key;
  if (!public_key_file.empty()) {
    absl::StatusOr<cit::dispatch::CheckpointKey> k = LoadAuditorKey(public_key_file);
    if (!k.ok()) return FailStatus(k.status());
    key = *std::move(k);
  }
  return WithConnection(g, [&](const Connection& conn) {
    grpc::ClientContext ctx;
    conn.Prepare(ctx);
    cit::v1::GetCheckpointRequest req;
    req.set_checkpoint_id(id);
    cit::v1::SignedCheckpoint c;
    grpc::Status status = conn.audit().GetCheckpoint(&ctx, req, &c);
    if (!status.ok()) return Fail(status, "audit checkpoint");
    if (key && !key->Verify(c.body(), c.signature())) {
      std::cerr << "dispatchctl: checkpoint #" << c.checkpoint().checkpoint_id()
                << " does not verify with " << public_key_file << "\n";
      return static_cast<int>(kExitNegative);
    }
    const std::string json = ToJsonLine(c) + "\n";
    if (output.empty() || output == "-") {
      std::cout << json;
    } else {
      std::ofstream out(output, std::ios::trunc);
      out << json;
      if (!out.flush()) {
        std::cerr << "dispatchctl: cannot write " << output << "\n";
        return static_cast<int>(kExitError);
      }
      std::cerr << "wrote checkpoint #" << c.checkpoint().checkpoint_id() << " ("
                << c.checkpoint().heads_size() << " chain heads, " << c.checkpoint().reason()
                << ") to " << output << (key ? "; its signature verifies with your key" : "")
                << "\n";
    }
    return static_cast<int>(kExitOk);
  });
}

struct IdentitiesOptions {
  std::string name;
  std::string at;
};

// Every entry of the identity log (paged), optionally one operator's.
int AuditIdentities(Globals& g, const IdentitiesOptions& o) {
  std::optional<TimeWindow> window;
  if (!o.at.empty()) {
    window = ParseTimeWindow(o.at);
    if (!window) {
      std::cerr << "dispatchctl: --at: '" << o.at
                << "' is neither a date (2027-03-03, the UTC day) nor an RFC 3339 time "
                   "(2027-03-03T08:00:00Z)\n";
      return kExitUsage;
    }
  }
  return WithConnection(g, [&](const Connection& conn) {
    cit::v1::ListIdentityEventsRequest req;
    req.set_limit(10000);
    // The state at a moment needs every operator's history, not just one name's.
    if (!window) req.set_name(o.name);
    std::vector<cit::v1::IdentityEvent> events;
    while (true) {
      grpc::ClientContext ctx;
      conn.Prepare(ctx);
      cit::v1::ListIdentityEventsResponse page;
      grpc::Status status = conn.audit().ListIdentityEvents(&ctx, req, &page);
      if (!status.ok()) return Fail(status, "audit identities");
      for (auto& e : *page.mutable_events()) {
        req.set_after_index(e.index());
        events.push_back(std::move(e));
      }
      if (page.events_size() < static_cast<int>(req.limit())) break;
    }
    if (!window) {
      if (g.json) {
        for (const auto& e : events) std::cout << ToJsonLine(e) << "\n";
      } else {
        std::cout << FormatIdentityHistory(events);
      }
      return static_cast<int>(kExitOk);
    }
    std::vector<IdentityInForce> who = IdentitiesInForce(events, *window);
    if (!o.name.empty()) {
      std::erase_if(who, [&](const IdentityInForce& h) { return h.name != o.name; });
    }
    if (g.json) {
      for (const auto& h : who) {
        nlohmann::json j = {{"name", h.name},
                            {"roles", h.roles},
                            {"token_fingerprints", h.fingerprints},
                            {"can_acknowledge", h.can_acknowledge}};
        std::cout << j.dump() << "\n";
      }
    } else {
      std::cout << FormatIdentitiesInForce(who, *window);
    }
    return static_cast<int>(kExitOk);
  });
}

// ---- tokens -----------------------------------------------------------------------------------

int TokenNew(const std::string& name, const std::string& role) {
  static const std::vector<std::string> kRoles = {"operator", "dispatcher", "auditor", "admin"};
  if (std::find(kRoles.begin(), kRoles.end(), role) == kRoles.end()) {
    std::cerr << "dispatchctl: --role must be operator, dispatcher, auditor or admin\n";
    return kExitUsage;
  }
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    std::cerr << "dispatchctl: no randomness available\n";
    return kExitError;
  }
  const std::string token = "cit_" + absl::BytesToHexString(absl::string_view(
                                         reinterpret_cast<const char*>(raw), sizeof raw));
  std::cout << "# Give this token to " << name << " (it is shown only now):\n# " << token
            << "\n# Append this entry to the server's operator token file:\n"
            << "[[token]]\nname = \"" << name << "\"\nrole = \"" << role << "\"\nsha256 = \""
            << cit::dispatch::TokenHashHex(token) << "\"\n";
  return kExitOk;
}

int TokenHash(const std::string& token_arg) {
  std::string token = token_arg;
  if (token.empty()) std::getline(std::cin, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) {
    std::cerr << "dispatchctl: no token given (argument or first line of stdin)\n";
    return kExitUsage;
  }
  std::cout << cit::dispatch::TokenHashHex(token) << "\n";
  return kExitOk;
}

std::string DefaultConfigPath() {
  if (const char* p = std::getenv("CIT_CTL_CONFIG")) return p;
  if (const char* home = std::getenv("HOME")) {
    return std::string(home) + "/.config/citwatch/dispatchctl.toml";
  }
  return "";
}

}  // namespace

ExitCode ExitCodeFor(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return kExitOk;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return kExitUnavailable;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return kExitAuth;
    case grpc::StatusCode::NOT_FOUND:
      return kExitNotFound;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::OUT_OF_RANGE:
      return kExitRejected;
    default:
      return kExitError;
  }
}

int RunCli(int argc, char** argv) {
  CLI::App app{
      "dispatchctl: operate citwatch — watch and handle alerts, see the fleet, plan runs,\n"
      "audit, export and verify runs. Talks to dispatch-server's operator port over TLS\n"
      "with a bearer token."};
  app.footer(kExitCodesHelp);
  app.require_subcommand(1);
  app.set_config("--config", DefaultConfigPath(),
                 "TOML config file with defaults for the long options (server, ca-file, "
                 "token-file, ...; an unknown key is an error)");
  // A misspelt key must not be ignored silently (it would fall back to a default server or no
  // token). CLI11 maps `token_file` to --token-file as well.
  app.config_formatter(std::make_shared<ConfigFile>());
  app.allow_config_extras(CLI::config_extras_mode::error);

  Globals g;
  app.add_option("-s,--server", g.conn.server,
                 "Operator API address host:port (dispatch-server's [operator] listen)")
      ->envname("CIT_SERVER")
      ->capture_default_str();
  app.add_option("--ca-file", g.conn.ca_file, "PEM CA certificate that signed the server's")
      ->envname("CIT_CA_FILE");
  app.add_option("--server-name", g.conn.server_name,
                 "TLS name expected in the server certificate (default: the host in --server)")
      ->envname("CIT_SERVER_NAME");
  app.add_option("--token", g.conn.token, "Bearer token (prefer --token-file or CIT_TOKEN)")
      ->envname("CIT_TOKEN");
  app.add_option("--token-file", g.conn.token_file, "File whose first line is the bearer token")
      ->envname("CIT_TOKEN_FILE");
  app.add_flag("--insecure", g.conn.insecure, "Plain-text connection (debugging only)");
  app.add_option("--timeout", g.timeout_s, "Deadline of each call, seconds")->capture_default_str();
  app.add_flag("--json", g.json, "Machine-readable output: one JSON object per line");
  app.add_flag("--utc", g.utc, "Times in UTC (RFC 3339) instead of the local time zone");
  // Global options may follow the subcommand too (`dispatchctl fleet --json`): subcommands made
  // after this hand options they do not know to the main command.
  app.fallthrough();

  Action action;

  // watch
  WatchOptions w;
  auto* watch = app.add_subcommand("watch", "Stream alerts live (resumes after reconnects)");
  watch->footer(kExitCodesHelp);
  watch->add_option("--after", w.after,
                    "Resume after this event id (0: currently open alerts, then new events)");
  watch->add_option("--min-severity", w.min_severity, "low, medium, high or critical");
  watch->add_option("--vehicle", w.vehicles, "Only these vehicles (repeatable)");
  watch->add_option("--kind", w.kinds, "Only these alert kinds, e.g. PANIC (repeatable)");
  watch->add_option("--for", w.for_s, "Stop after this many seconds (default: run until killed)");
  watch->add_option("--count", w.count, "Stop after this many events");
  watch->add_option("--color", w.color, "Colour by severity: auto (on a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  watch->add_flag("--board", w.board,
                  "Full-screen board of unresolved alerts, most urgent first: Up/Down select, "
                  "a acknowledges, r resolves (with a comment), q quits");
  watch->add_flag("--no-bell", w.no_bell,
                  "No terminal bell for a new, escalated or returning critical alert");
  watch->callback([&] { action = [&] { return Watch(g, w); }; });

  // ack / resolve
  std::uint64_t alert_id = 0;
  std::string comment;
  for (bool resolve : {false, true}) {
    auto* cmd = app.add_subcommand(resolve ? "resolve" : "ack",
                                   resolve ? "Resolve an alert" : "Acknowledge an alert");
    cmd->footer(kExitCodesHelp);
    cmd->add_option("ALERT", alert_id, "Alert id")->required();
    cmd->add_option("-c,--comment", comment, "Why (stored with your name)");
    cmd->callback([&, resolve] {
      action = [&, resolve] { return AckOrResolve(g, resolve, alert_id, comment); };
    });
  }

  auto* alerts = app.add_subcommand("alerts", "Alert history (ListAlerts, ListAlertEvents)");
  alerts->footer(kExitCodesHelp);
  alerts->require_subcommand(1);
  AlertsListOptions al;
  auto* alerts_list =
      alerts->add_subcommand("list", "Alerts with their state and who handled them, oldest first");
  alerts_list->footer(kExitCodesHelp);
  alerts_list->add_option("--vehicle", al.vehicle, "Only this vehicle's alerts");
  alerts_list->add_option("--run", al.run, "Only this run's alerts");
  alerts_list->add_option("--state", al.states, "open, acknowledged or resolved (repeatable)");
  alerts_list->add_option("--min-severity", al.min_severity, "low, medium, high or critical");
  alerts_list->add_option("--kind", al.kinds, "Only these alert kinds (repeatable)");
  alerts_list->callback([&] { action = [&] { return AlertsList(g, al); }; });
  std::uint64_t history_id = 0;
  bool history_updates = false;
  auto* alerts_history = alerts->add_subcommand(
      "history", "Every event of one alert in order: raised, escalation steps, who acted");
  alerts_history->footer(kExitCodesHelp);
  alerts_history->add_option("ALERT", history_id, "Alert id")->required();
  alerts_history->add_flag("--updates", history_updates,
                           "Also the updates while the condition lasted (one per fix)");
  alerts_history->callback(
      [&] { action = [&] { return AlertHistory(g, history_id, history_updates); }; });

  auto* fleet = app.add_subcommand("fleet", "Table of vehicles: last fix, run, progress, alerts");
  fleet->footer(kExitCodesHelp);
  bool fleet_watch = false;
  std::vector<std::string> fleet_vehicles;
  std::uint64_t fleet_count = 0;
  fleet->add_flag("-w,--watch", fleet_watch,
                  "Follow the fleet: every vehicle once, then each change (WatchFleet)");
  fleet->add_option("--vehicle", fleet_vehicles, "With --watch: only these vehicles (repeatable)");
  fleet->add_option("-n,--count", fleet_count, "With --watch: stop after N updates");
  fleet->callback([&] {
    action = [&] { return fleet_watch ? FleetWatch(g, fleet_vehicles, fleet_count) : Fleet(g); };
  });

  auto* track = app.add_subcommand(
      "track", "A run's or a vehicle's stored records, one line each (any length: streamed)");
  track->footer(kExitCodesHelp);
  TrackOptions tr;
  track->add_option("--run", tr.run, "The run's track (its own time window)");
  track->add_option("--vehicle", tr.vehicle, "A vehicle's records between --from and --to");
  track->add_option("--from", tr.from, "With --vehicle: a day (UTC) or an RFC 3339 time");
  track->add_option("--to", tr.to, "With --vehicle: a day (to its end) or an RFC 3339 time");
  track->callback([&] { action = [&] { return Track(g, tr); }; });

  // plan
  auto* plan = app.add_subcommand("plan", "Create, inspect, dispatch and end run plans");
  plan->footer(kExitCodesHelp);
  plan->require_subcommand(1);
  std::string plan_file;
  std::string run_id;
  std::string vehicle_filter;
  auto* create = plan->add_subcommand("create", "Submit a run plan file (JSON or TOML)");
  create->add_option("FILE", plan_file, "Plan file")->required()->check(CLI::ExistingFile);
  bool force = false;
  const char* kForceHelp =
      "Accept a vehicle the server has never seen (no stored record, no earlier run)";
  create->add_flag("--force", force, kForceHelp);
  create->callback([&] { action = [&] { return PlanCreate(g, plan_file, false, "", force); }; });
  auto* update = plan->add_subcommand("update", "Replace a run's plan (new version)");
  update->add_option("FILE", plan_file, "Plan file")->required()->check(CLI::ExistingFile);
  update->add_option("-c,--comment", comment,
                     "Why (stored with your name; required once the run is dispatched)");
  update->add_flag("--force", force, kForceHelp);
  update->callback(
      [&] { action = [&] { return PlanCreate(g, plan_file, true, comment, force); }; });
  auto* show =
      plan->add_subcommand("show", "Show one run, its plan, its creator and every later change");
  show->add_option("RUN", run_id, "Run id")->required();
  show->callback([&] { action = [&] { return PlanShow(g, run_id); }; });
  auto* list = plan->add_subcommand("list", "List runs, in natural order of their ids");
  list->add_option("--vehicle", vehicle_filter, "Only this vehicle's runs");
  std::vector<std::string> state_filter;
  list->add_option("--state", state_filter,
                   "Only runs in this state: planned, dispatched, active, completed or aborted "
                   "(repeatable)");
  list->callback([&] { action = [&] { return PlanList(g, vehicle_filter, state_filter); }; });
  auto* dispatch = plan->add_subcommand("dispatch", "Dispatch a planned run (freezes its plan)");
  dispatch->add_option("RUN", run_id, "Run id")->required();
  dispatch->callback(
      [&] { action = [&] { return PlanChange(g, RunChange::kDispatch, run_id, ""); }; });
  for (bool abort : {true, false}) {
    auto* end = plan->add_subcommand(abort ? "abort" : "complete",
                                     abort ? "Abort a run" : "Mark a run completed");
    end->add_option("RUN", run_id, "Run id")->required();
    end->add_option(
        "-c,--comment", comment,
        abort ? "Why (stored with your name; required)" : "Why (stored with your name)");
    end->callback([&, abort] {
      action = [&, abort] {
        return PlanChange(g, abort ? RunChange::kAbort : RunChange::kComplete, run_id, comment);
      };
    });
  }
  PlanCheckOptions pc;
  auto* check = plan->add_subcommand(
      "check",
      "Evaluate a plan against a track with the server's rules, storing nothing: the alerts\n"
      "that would have been raised, with their times, and a per-stop timeline");
  check->add_option("PLAN", pc.plan, "Plan file (JSON or TOML), or the id of a stored run")
      ->required();
  check
      ->add_option("--track", pc.track_file,
                   "Track file: GPX, GeoJSON, CSV (time,lat,lon[,speed,track]) or NMEA "
                   "(RMC/GGA); at most 100,000 fixes")
      ->check(CLI::ExistingFile);
  check
      ->add_option("--format", pc.track_format,
                   "Track format: auto (by extension), gpx, "
                   "geojson, csv or nmea")
      ->capture_default_str();
  check->add_option("--run", pc.run, "Use a stored run's records as the track");
  check->callback([&] { action = [&] { return PlanCheck(g, pc); }; });
  for (auto* sub : plan->get_subcommands({})) sub->footer(kExitCodesHelp);

  // report (the period report; `audit report` is one run's)
  PeriodOptions po;
  auto* period = app.add_subcommand(
      "report",
      "Period report for management: runs, stop punctuality, alerts and response "
      "times, deviations, data completeness (one run: audit report)");
  period->add_option("--from", po.from, "Start: a month (2026-11), a UTC day or an RFC 3339 time")
      ->required();
  period
      ->add_option("--to", po.to,
                   "End: a month or day (its end: --from 2026-11 --to 2026-11 is November) "
                   "or an RFC 3339 time")
      ->required();
  period->add_option("--vehicle", po.vehicles, "Only these vehicles (repeatable)");
  period->add_option("--group", po.group_file, "File of vehicle ids (one a line): a group");
  period->add_option("-f,--format", po.format, "table, csv, json or html (charts, one file)")
      ->check(CLI::IsMember({"table", "csv", "json", "html"}))
      ->capture_default_str();
  period->add_option("-o,--output", po.output, "Write to this file instead of stdout");
  period->footer(kExitCodesHelp);
  period->callback([&] { action = [&] { return PeriodReport(g, po); }; });

  // audit
  auto* audit = app.add_subcommand("audit", "Reconstruct, export and verify runs");
  audit->footer(kExitCodesHelp);
  audit->require_subcommand(1);
  std::string format = "geojson";
  std::string output;
  auto* report = audit->add_subcommand("report", "Planned against actual for a run");
  report->add_option("RUN", run_id, "Run id")->required();
  auto* export_file =
      report->add_option("--export", output,
                         "Also write the run's export (as `audit export`) to this file, fetched "
                         "together with the report over one connection");
  report->add_option("-f,--format", format, "The --export's format: geojson, gpx or csv")
      ->check(CLI::IsMember({"geojson", "gpx", "csv"}))
      ->capture_default_str()
      ->needs(export_file);
  report->callback([&] { action = [&] { return AuditReport(g, run_id, format, output); }; });
  auto* exp = audit->add_subcommand("export", "Export a run's track as GeoJSON, GPX or CSV");
  exp->add_option("RUN", run_id, "Run id")->required();
  exp->add_option("-f,--format", format, "geojson, gpx or csv")
      ->check(CLI::IsMember({"geojson", "gpx", "csv"}))
      ->capture_default_str();
  exp->add_option("-o,--output", output, "Write to this file instead of stdout");
  exp->callback([&] { action = [&] { return AuditExport(g, run_id, format, output); }; });
  VerifyOptions vo;
  std::string target;
  auto* verify = audit->add_subcommand(
      "verify",
      "Recompute a run's record chain, plan log and alert events (or a vehicle's records) and "
      "check them against the signed checkpoints; exit 1 if anything is broken");
  verify->add_option("TARGET", target, "Run id or vehicle id (not with --identities)");
  verify->add_flag("--vehicle", vo.as_vehicle, "TARGET is a vehicle id");
  verify->add_flag("--identities", vo.identities,
                   "Check only the identity log (token/role changes) against the checkpoints; "
                   "every run or vehicle verification checks it too");
  verify
      ->add_option("--public-key", vo.public_key_files,
                   "Your own copy of the server's checkpoint public key (PEM): every checkpoint "
                   "must verify with it; repeat it with each instance's key when several share "
                   "a PostgreSQL database (each checkpoint must verify with one of them)")
      ->allow_extra_args(false)
      ->check(CLI::ExistingFile);
  verify
      ->add_option("--checkpoint", vo.checkpoint_file,
                   "A checkpoint you exported earlier (audit checkpoint -o FILE): the chains "
                   "must still match it")
      ->check(CLI::ExistingFile);
  verify->callback([&] { action = [&] { return AuditVerify(g, target, vo); }; });
  std::uint64_t checkpoint_id = 0;
  std::string checkpoint_out;
  std::string checkpoint_key;
  auto* checkpoint = audit->add_subcommand(
      "checkpoint",
      "Fetch a signed checkpoint of every chain head (default: the newest), to keep "
      "outside the server");
  checkpoint->add_option("ID", checkpoint_id, "Checkpoint id (0: the newest)");
  checkpoint->add_option("-o,--output", checkpoint_out, "Write to this file instead of stdout");
  checkpoint
      ->add_option("--public-key", checkpoint_key,
                   "Check its signature with your copy of the public key first")
      ->check(CLI::ExistingFile);
  checkpoint->callback([&] {
    action = [&] { return AuditCheckpoint(g, checkpoint_id, checkpoint_out, checkpoint_key); };
  });
  IdentitiesOptions io;
  auto* identities = audit->add_subcommand(
      "identities",
      "The identity log: operators, roles and token rotations as the server learned them at "
      "each start-up; with --at, who was in force then and who could acknowledge alerts");
  identities->add_option("--name", io.name, "Only this operator");
  identities->add_option("--at", io.at,
                         "A UTC day (2027-03-03) or an RFC 3339 time: the operators in force "
                         "then, with their roles");
  identities->callback([&] { action = [&] { return AuditIdentities(g, io); }; });
  for (auto* sub : audit->get_subcommands({})) sub->footer(kExitCodesHelp);

  // token
  auto* token = app.add_subcommand("token", "Make operator tokens and their hashes (offline)");
  token->require_subcommand(1);
  std::string token_name;
  std::string token_role = "operator";
  std::string token_text;
  auto* tnew = token->add_subcommand("new", "Generate a token and its token-file entry");
  tnew->add_option("--name", token_name, "Operator name recorded on their actions")->required();
  tnew->add_option("--role", token_role, "operator, dispatcher, auditor or admin")
      ->capture_default_str();
  tnew->callback([&] { action = [&] { return TokenNew(token_name, token_role); }; });
  auto* thash = token->add_subcommand("hash", "Print the SHA-256 of a token (argument or stdin)");
  thash->add_option("TOKEN", token_text, "The token (default: first line of stdin)");
  thash->callback([&] { action = [&] { return TokenHash(token_text); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ConfigError& e) {
    std::cerr << "dispatchctl: " << UnknownConfigKeyMessage(e.what()) << "\n";
    return kExitUsage;
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : static_cast<int>(kExitUsage);
  }
  if (!action) {
    std::cerr << app.help();
    return kExitUsage;
  }
  return action();
}

}  // namespace cit::ctl

#include "dispatchctl/plan_fetch.h"

#include "absl/strings/str_cat.h"

namespace cit::ctl {
namespace {

absl::Status StatusFrom(const grpc::Status& s, const std::string& what) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

}  // namespace

PlaceFinder::RunFetcher PlanFetcher(const Connection& conn) {
  return [&conn](const std::string& run_id, uint32_t version) -> absl::StatusOr<cit::v1::Run> {
    cit::v1::GetRunRequest req;
    req.set_run_id(run_id);
    cit::v1::Run run;
    {
      grpc::ClientContext ctx;
      conn.Prepare(ctx);
      const grpc::Status s = conn.dispatch().GetRun(&ctx, req, &run);
      if (!s.ok()) return StatusFrom(s, "GetRun");
    }
    if (version == 0 || run.version() == version) return run;
    // The plan changed after the alert: measure against the version in force then.
    cit::v1::RunHistory history;
    grpc::ClientContext ctx;
    conn.Prepare(ctx);
    const grpc::Status s = conn.dispatch().GetRunHistory(&ctx, req, &history);
    if (!s.ok()) return StatusFrom(s, "GetRunHistory");
    for (int i = history.events_size() - 1; i >= 0; --i) {
      if (history.events(i).run().version() == version) return history.events(i).run();
    }
    return absl::NotFoundError(absl::StrCat("plan version ", version, " is not in the history"));
  };
}

}  // namespace cit::ctl

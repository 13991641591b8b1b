#include "dispatch-server/store/plan_version_chain.h"

#include <fmt/format.h>

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "dispatch-server/store/record_hash.h"

namespace cit::dispatch {
namespace {

constexpr std::string_view kPlanDomain = "citwatch.plan.v1";

int64_t Nanos(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1'000'000'000 + t.nanos();
}

std::string EventName(const cit::v1::PlanEvent& e) {
  std::string action = cit::v1::PlanAction_Name(e.action());
  if (action.rfind("PLAN_ACTION_", 0) == 0) action = action.substr(12);
  return fmt::format("plan event {} (run {} v{} {} by {})", e.index(), e.run().plan().run_id(),
                     e.run().version(), action, e.actor());
}

}  // namespace

absl::StatusOr<PlanChainHead> LoadPlanChainHead(sqlite::Database& db) {
  absl::StatusOr<sqlite::Statement> q =
      db.Prepare("SELECT idx, hash FROM plan_events ORDER BY idx DESC LIMIT 1");
  if (!q.ok()) return q.status();
  PlanChainHead head{0, kChainGenesis};
  absl::StatusOr<bool> row = q->Step();
  if (!row.ok()) return row.status();
  if (*row) {
    head.length = static_cast<uint64_t>(q->ColumnInt64(0));
    head.head = q->ColumnBlob(1);
  }
  return head;
}

absl::StatusOr<ChainedPlanEvent> ChainPlanEvent(const PlanChainHead& head,
                                                cit::v1::PlanEvent event) {
  const uint64_t index = head.length + 1;
  event.set_index(index);
  ChainedPlanEvent out;
  out.body = SerializeDeterministic(event);
  absl::StatusOr<std::string> hash =
      ChainStep(head.head, CanonicalEntryBytes(kPlanDomain, index, 0, out.body));
  if (!hash.ok()) return hash.status();
  out.hash = *std::move(hash);
  out.event = std::move(event);
  return out;
}

absl::Status AppendPlanEvent(sqlite::Database& db, PlanChainHead& head, cit::v1::PlanEvent event) {
  absl::StatusOr<ChainedPlanEvent> chained = ChainPlanEvent(head, std::move(event));
  if (!chained.ok()) return chained.status();
  const cit::v1::PlanEvent& e = chained->event;
  const uint64_t index = e.index();
  absl::StatusOr<sqlite::Statement> ins = db.Prepare(
      "INSERT INTO plan_events (idx, run_id, version, action, actor, time_ns, body, hash) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!ins.ok()) return ins.status();
  ins->Bind(1, index)
      .Bind(2, e.run().plan().run_id())
      .Bind(3, e.run().version())
      .Bind(4, static_cast<int>(e.action()))
      .Bind(5, e.actor())
      .Bind(6, Nanos(e.time()))
      .Bind(7, sqlite::Blob(chained->body))
      .Bind(8, sqlite::Blob(chained->hash));
  if (absl::Status s = ins->Run(); !s.ok()) return s;
  head.length = index;
  head.head = std::move(chained->hash);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<cit::v1::PlanEvent>> ReadPlanHistory(sqlite::Database& db,
                                                                const std::string& run_id) {
  absl::StatusOr<sqlite::Statement> q =
      db.Prepare("SELECT body FROM plan_events WHERE run_id = ?1 ORDER BY idx");
  if (!q.ok()) return q.status();
  q->Bind(1, run_id);
  std::vector<cit::v1::PlanEvent> out;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    cit::v1::PlanEvent e;
    if (!e.ParseFromString(q->ColumnBlob(0))) {
      return absl::DataLossError(absl::StrCat("plan log entry of run ", run_id, " does not parse"));
    }
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<ChainReport> VerifyPlanChain(sqlite::Database& db,
                                            std::vector<ChainAnchor> anchors) {
  ChainWalk walk(kPlanChainName, std::move(anchors));
  absl::StatusOr<sqlite::Statement> q = db.Prepare(
      "SELECT idx, run_id, version, action, actor, time_ns, body, hash FROM plan_events "
      "ORDER BY idx");
  if (!q.ok()) return q.status();
  std::string head = kChainGenesis;
  uint64_t position = 0;
  std::string prev_name = "the first entry";
  while (!walk.failed()) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const uint64_t index = static_cast<uint64_t>(q->ColumnInt64(0));
    const uint64_t expected = position + 1;
    const std::string body = q->ColumnBlob(6);
    cit::v1::PlanEvent e;
    const bool parsed = e.ParseFromString(body);
    const std::string name = parsed ? EventName(e) : absl::StrCat("plan event ", index);
    if (index != expected) {
      walk.Fail(expected, absl::StrCat("plan event ", expected),
                absl::StrCat("deleted: the plan log jumps from ", prev_name, " to ", name));
      break;
    }
    if (!parsed) {
      walk.Fail(expected, name, "stored body does not parse");
      break;
    }
    std::string column;
    if (e.index() != index) {
      column = "idx";
    } else if (e.run().plan().run_id() != q->ColumnText(1)) {
      column = "run_id";
    } else if (static_cast<int64_t>(e.run().version()) != q->ColumnInt64(2)) {
      column = "version";
    } else if (static_cast<int64_t>(e.action()) != q->ColumnInt64(3)) {
      column = "action";
    } else if (e.actor() != q->ColumnText(4)) {
      column = fmt::format("actor (column \"{}\", body \"{}\")", q->ColumnText(4), e.actor());
    } else if (Nanos(e.time()) != q->ColumnInt64(5)) {
      column = "time_ns";
    }
    if (!column.empty()) {
      walk.Fail(expected, name, absl::StrCat("column ", column, " differs from the hashed body"));
      break;
    }
    absl::StatusOr<std::string> next =
        ChainStep(head, CanonicalEntryBytes(kPlanDomain, index, 0, body));
    if (!next.ok()) return next.status();
    if (*next != q->ColumnBlob(7)) {
      walk.Fail(expected, name,
                absl::StrCat("hash mismatch at chain position ", expected,
                             ": the entry (plan, actor, comment or time) was changed"));
      break;
    }
    head = *std::move(next);
    position = expected;
    prev_name = name;
    walk.Step(position, head);
  }
  return walk.Finish(position, [&](uint64_t first, uint64_t last, const ChainAnchor&) {
    return absl::StrCat("plan events ", first, "..", last, " (after ", prev_name, ")");
  });
}

absl::StatusOr<ChainReport> VerifyRunRows(sqlite::Database& db, const std::string& run_id) {
  ChainWalk walk(absl::StrCat("runs/", run_id), {});
  // The newest log entry of each version of the run.
  std::map<uint32_t, cit::v1::PlanEvent> logged;
  absl::StatusOr<std::vector<cit::v1::PlanEvent>> history = ReadPlanHistory(db, run_id);
  if (!history.ok()) return history.status();
  for (cit::v1::PlanEvent& e : *history) logged[e.run().version()] = std::move(e);
  absl::StatusOr<sqlite::Statement> q = db.Prepare(
      "SELECT version, vehicle_id, state, proto FROM runs WHERE run_id = ?1 ORDER BY version");
  if (!q.ok()) return q.status();
  q->Bind(1, run_id);
  uint64_t checked = 0;
  while (!walk.failed()) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const uint32_t version = static_cast<uint32_t>(q->ColumnInt64(0));
    const std::string name = fmt::format("run {} version {} (current row)", run_id, version);
    ++checked;
    cit::v1::Run run;
    if (!run.ParseFromString(q->ColumnBlob(3))) {
      walk.Fail(checked, name, "stored run does not parse");
      break;
    }
    auto it = logged.find(version);
    if (it == logged.end()) {
      walk.Fail(checked, name, "not in the plan log (inserted outside the server)");
      break;
    }
    if (run.plan().vehicle_id() != q->ColumnText(1) ||
        static_cast<int64_t>(run.state()) != q->ColumnInt64(2)) {
      walk.Fail(checked, name, "columns vehicle_id/state differ from the stored run");
      break;
    }
    if (std::string diff = DescribeProtoDifference(it->second.run(), run); !diff.empty()) {
      walk.Fail(checked, name,
                absl::StrCat("differs from plan event ", it->second.index(), " (", diff, ")"));
      break;
    }
    walk.Step(checked, "");
  }
  if (!walk.failed()) {
    // Every logged version must still have its row (the server shows what `runs` holds).
    absl::StatusOr<sqlite::Statement> count =
        db.Prepare("SELECT COUNT(*) FROM runs WHERE run_id = ?1");
    if (!count.ok()) return count.status();
    count->Bind(1, run_id);
    absl::StatusOr<bool> row = count->Step();
    if (!row.ok()) return row.status();
    if (*row && static_cast<uint64_t>(count->ColumnInt64(0)) != logged.size()) {
      walk.Fail(checked + 1, fmt::format("run {} (current rows)", run_id),
                fmt::format("{} version rows but the plan log has {} versions",
                            count->ColumnInt64(0), logged.size()));
    }
  }
  ChainReport r = walk.Finish(checked, [](uint64_t, uint64_t, const ChainAnchor&) { return ""; });
  r.head.clear();
  return r;
}

}  // namespace cit::dispatch

#include "dispatch-server/store/alert_event_chain.h"

#include <fmt/format.h>

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cit/v1/dispatch.pb.h"
#include "dispatch-server/store/record_hash.h"

namespace cit::dispatch {
namespace {

constexpr std::string_view kAlertDomain = "citwatch.alert_event.v1";

std::string Short(const std::string& enum_name, std::string_view prefix) {
  return enum_name.rfind(prefix, 0) == 0 ? enum_name.substr(prefix.size()) : enum_name;
}

std::string EventName(uint64_t event_id, const cit::v1::AlertEvent& e) {
  std::string what = Short(cit::v1::AlertEventType_Name(e.type()), "ALERT_EVENT_TYPE_");
  if (e.type() == cit::v1::ALERT_EVENT_TYPE_UNSPECIFIED) {
    what = Short(cit::v1::AlertState_Name(e.alert().state()), "ALERT_STATE_");
  }
  std::string out =
      fmt::format("alert event {} (alert {} {} {}", event_id, e.alert().alert_id(),
                  Short(cit::v1::AlertKind_Name(e.alert().kind()), "ALERT_KIND_"), what);
  if (!e.actor().empty() && e.actor() != "system") out += " by " + e.actor();
  return out + ")";
}

}  // namespace

absl::StatusOr<std::string> AlertEventHash(std::string_view prev, uint64_t index, uint64_t event_id,
                                           std::string_view body) {
  return ChainStep(prev, CanonicalEntryBytes(kAlertDomain, index, event_id, body));
}

absl::StatusOr<AlertChainHead> LoadAlertChainHead(sqlite::Database& db) {
  absl::StatusOr<sqlite::Statement> q = db.Prepare(
      "SELECT chain_index, hash FROM alert_events WHERE chain_index IS NOT NULL "
      "ORDER BY chain_index DESC LIMIT 1");
  if (!q.ok()) return q.status();
  AlertChainHead head{0, kChainGenesis};
  absl::StatusOr<bool> row = q->Step();
  if (!row.ok()) return row.status();
  if (*row) {
    head.length = static_cast<uint64_t>(q->ColumnInt64(0));
    head.head = q->ColumnBlob(1);
  }
  return head;
}

absl::StatusOr<uint64_t> SealUnchainedAlertEvents(sqlite::Database& db) {
  sqlite::Transaction tx(db);
  if (!tx.status().ok()) return tx.status();
  absl::StatusOr<AlertChainHead> head = LoadAlertChainHead(db);
  if (!head.ok()) return head.status();
  absl::StatusOr<sqlite::Statement> q = db.Prepare(
      "SELECT event_id, proto FROM alert_events WHERE chain_index IS NULL ORDER BY event_id");
  if (!q.ok()) return q.status();
  absl::StatusOr<sqlite::Statement> set =
      db.Prepare("UPDATE alert_events SET chain_index = ?1, hash = ?2 WHERE event_id = ?3");
  if (!set.ok()) return set.status();
  std::vector<std::pair<uint64_t, std::string>> rows;
  while (true) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    rows.emplace_back(static_cast<uint64_t>(q->ColumnInt64(0)), q->ColumnBlob(1));
  }
  for (const auto& [event_id, body] : rows) {
    absl::StatusOr<std::string> h = AlertEventHash(head->head, head->length + 1, event_id, body);
    if (!h.ok()) return h.status();
    set->Reset().Bind(1, head->length + 1).Bind(2, sqlite::Blob(*h)).Bind(3, event_id);
    if (absl::Status s = set->Run(); !s.ok()) return s;
    head->length += 1;
    head->head = *std::move(h);
  }
  if (absl::Status s = tx.Commit(); !s.ok()) return s;
  return rows.size();
}

absl::StatusOr<ChainReport> VerifyAlertChainRows(
    const std::function<absl::StatusOr<bool>(AlertChainRow&)>& next,
    std::vector<ChainAnchor> anchors) {
  ChainWalk walk(kAlertChainName, std::move(anchors));
  std::string head = kChainGenesis;
  uint64_t position = 0;
  uint64_t prev_event_id = 0;
  std::string prev_name = "the start";
  AlertChainRow row;
  while (!walk.failed()) {
    absl::StatusOr<bool> more = next(row);
    if (!more.ok()) return more.status();
    if (!*more) break;
    const uint64_t expected = position + 1;
    if (!row.chain_index) {
      walk.Fail(expected, absl::StrCat("alert event ", row.event_id),
                "not chained (inserted without a chain position)");
      break;
    }
    const uint64_t index = *row.chain_index;
    const uint64_t event_id = row.event_id;
    cit::v1::AlertEvent e;
    const bool parsed = e.ParseFromString(row.body);
    const std::string name =
        parsed ? EventName(event_id, e) : absl::StrCat("alert event ", event_id);
    if (index != expected) {
      const std::string missing = event_id == prev_event_id + 2
                                      ? absl::StrCat("alert event ", prev_event_id + 1)
                                      : absl::StrCat("alert event at chain position ", expected);
      walk.Fail(expected, missing,
                absl::StrCat("deleted: the log jumps from ", prev_name, " to ", name));
      break;
    }
    if (!parsed) {
      walk.Fail(expected, name, "stored body does not parse");
      break;
    }
    if (e.event_id() != event_id || e.alert().alert_id() != row.alert_id) {
      walk.Fail(expected, name, "columns event_id/alert_id differ from the hashed body");
      break;
    }
    absl::StatusOr<std::string> h = AlertEventHash(head, index, event_id, row.body);
    if (!h.ok()) return h.status();
    if (*h != row.hash) {
      walk.Fail(expected, name,
                absl::StrCat("hash mismatch at chain position ", expected,
                             ": the event (state, actor, comment, order) was changed"));
      break;
    }
    head = *std::move(h);
    position = expected;
    prev_event_id = event_id;
    prev_name = name;
    walk.Step(position, head);
  }
  return walk.Finish(position, [&](uint64_t first, uint64_t last, const ChainAnchor&) {
    return absl::StrCat("alert events at chain positions ", first, "..", last, " (after ",
                        prev_name, ")");
  });
}

absl::StatusOr<ChainReport> VerifyAlertChain(sqlite::Database& db,
                                             std::vector<ChainAnchor> anchors) {
  absl::StatusOr<sqlite::Statement> q = db.Prepare(
      "SELECT chain_index, event_id, alert_id, proto, hash FROM alert_events ORDER BY chain_index");
  if (!q.ok()) return q.status();
  return VerifyAlertChainRows(
      [&](AlertChainRow& row) -> absl::StatusOr<bool> {
        absl::StatusOr<bool> more = q->Step();
        if (!more.ok() || !*more) return more;
        row.chain_index = q->ColumnIsNull(0)
                              ? std::nullopt
                              : std::optional<uint64_t>(static_cast<uint64_t>(q->ColumnInt64(0)));
        row.event_id = static_cast<uint64_t>(q->ColumnInt64(1));
        row.alert_id = static_cast<uint64_t>(q->ColumnInt64(2));
        row.body = q->ColumnBlob(3);
        row.hash = q->ColumnBlob(4);
        return true;
      },
      std::move(anchors));
}

absl::StatusOr<ChainReport> VerifyAlertRows(sqlite::Database& db, const std::string& run_id) {
  ChainWalk walk(absl::StrCat("alerts/", run_id), {});
  // Newest event of each alert of the run, from the log.
  std::map<uint64_t, cit::v1::AlertEvent> logged;
  {
    absl::StatusOr<sqlite::Statement> q =
        db.Prepare("SELECT proto FROM alert_events ORDER BY chain_index");
    if (!q.ok()) return q.status();
    while (true) {
      absl::StatusOr<bool> row = q->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      cit::v1::AlertEvent e;
      if (!e.ParseFromString(q->ColumnBlob(0))) continue;  // VerifyAlertChain names it
      if (e.alert().run_id() != run_id) continue;
      const uint64_t id = e.alert().alert_id();
      logged[id] = std::move(e);
    }
  }
  absl::StatusOr<sqlite::Statement> q = db.Prepare(
      "SELECT alert_id, vehicle_id, kind, subject, state, severity, proto FROM alerts "
      "WHERE run_id = ?1 ORDER BY alert_id");
  if (!q.ok()) return q.status();
  q->Bind(1, run_id);
  uint64_t checked = 0;
  std::map<uint64_t, bool> seen;
  while (!walk.failed()) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const uint64_t id = static_cast<uint64_t>(q->ColumnInt64(0));
    const std::string name = fmt::format("alert {} (current row)", id);
    seen[id] = true;
    ++checked;
    cit::v1::Alert a;
    if (!a.ParseFromString(q->ColumnBlob(6))) {
      walk.Fail(checked, name, "stored alert does not parse");
      break;
    }
    auto it = logged.find(id);
    if (it == logged.end()) {
      walk.Fail(checked, name, "has no event in the alert-event log (inserted outside the server)");
      break;
    }
    if (a.vehicle_id() != q->ColumnText(1) || static_cast<int64_t>(a.kind()) != q->ColumnInt64(2) ||
        a.subject() != q->ColumnText(3) || static_cast<int64_t>(a.state()) != q->ColumnInt64(4) ||
        static_cast<int64_t>(a.severity()) != q->ColumnInt64(5)) {
      walk.Fail(checked, name, "columns (vehicle, kind, subject, state, severity) differ from it");
      break;
    }
    if (std::string diff = DescribeProtoDifference(it->second.alert(), a); !diff.empty()) {
      walk.Fail(
          checked, name,
          absl::StrCat("differs from its newest event ", it->second.event_id(), " (", diff, ")"));
      break;
    }
    walk.Step(checked, "");
  }
  if (!walk.failed()) {
    for (const auto& [id, e] : logged) {
      if (seen.count(id) == 0) {
        walk.Fail(
            checked + 1, fmt::format("alert {} (current row)", id),
            absl::StrCat("missing: the alert-event log has it (newest event ", e.event_id(), ")"));
        break;
      }
    }
  }
  ChainReport r = walk.Finish(checked, [](uint64_t, uint64_t, const ChainAnchor&) { return ""; });
  r.head.clear();
  return r;
}

}  // namespace cit::dispatch

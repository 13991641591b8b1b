// Verifying a run walks only the part of its vehicle's record chain between the signed
// checkpoints around the run (issue 16 §3): the work follows the run, not the truck's history,
// and every change to the run's records is still found. On both store backends
// (Backends/VerifyRunSpanTest.<case>/sqlite and /postgresql): on PostgreSQL the checkpoints
// list the chain heads read from it and the ledger verifies the chains it copies from it
// (postgres_chain_mirror.h).
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>

#include "dispatch-server/audit/audit_ledger.h"
#include "dispatch-server/audit/audit_trail.h"
#include "dispatch-server/audit/checkpoint_key.h"
#include "dispatch-server/audit/checkpoint_log.h"
#include "dispatch-server/audit/postgres_chain_mirror.h"
#include "dispatch-server/store/record_chain_check.h"
#include "tests/dispatch/store_backends.h"

namespace cit::dispatch {
namespace {

constexpr int64_t kT0 = 1'800'000'000;  // event time of seq 0, seconds
constexpr char kVehicle[] = "CIT-7";

CommittedRecord Fix(uint64_t seq) {
  CommittedRecord r;
  r.vehicle_id = kVehicle;
  r.record.set_seq(seq);
  r.record.mutable_event_time()->set_seconds(kT0 + static_cast<int64_t>(seq));
  r.record.set_agent_monotonic_ns(static_cast<int64_t>(seq) * 1000);
  r.record.mutable_fix()->set_lat_deg(47.0 + 1e-6 * static_cast<double>(seq));
  r.record.mutable_fix()->set_lon_deg(8.5);
  r.server_received_time = std::chrono::system_clock::time_point(std::chrono::seconds(kT0));
  return r;
}

int64_t Ns(uint64_t seq) { return (kT0 + static_cast<int64_t>(seq)) * 1'000'000'000; }

class VerifyRunSpanTest : public ::testing::TestWithParam<std::string> {
 protected:
  // 3,000 records of one truck, a signed checkpoint after each 1,000.
  void SetUp() override {
    ASSERT_TRUE(db_.OpenRunStore().ok());
    // The checkpoint log and ledger as the server opens them for the backend.
    auto trail = AuditTrail::Open({}, db_.path(), db_.pg() ? db_.conninfo() : "");
    ASSERT_TRUE(trail.ok()) << trail.status();
    trail_ = *std::move(trail);
    auto store = db_.OpenRecordStore();
    ASSERT_TRUE(store.ok()) << store.status();
    for (uint64_t first = 1; first <= 3000; first += 1000) {
      AppendBatch batch;
      for (uint64_t s = first; s < first + 1000; ++s) batch.records.push_back(Fix(s));
      ASSERT_TRUE((*store)->Append(batch).ok());
      ASSERT_TRUE(trail_->log().Append("interval", std::chrono::system_clock::now()).ok());
    }
    store->reset();
    ledger_ = trail_->ledger();
  }

  const cit::v1::ChainResult& Records(const cit::v1::VerifyChainResponse& v) {
    for (const auto& c : v.chains()) {
      if (c.chain() == std::string("records/") + kVehicle) return c;
    }
    ADD_FAILURE() << "no records chain";
    return v.chains(0);
  }

  // Changes the stored records past their append-only triggers (SQLite's and PostgreSQL's).
  void Tamper(const std::string& sql) {
    const std::string off = db_.pg() ? "ALTER TABLE records DISABLE TRIGGER USER;"
                                     : "DROP TRIGGER records_append_only_update;"
                                       "DROP TRIGGER records_append_only_delete;";
    absl::Status s = db_.Exec(off + sql);
    ASSERT_TRUE(s.ok()) << s;
  }

  cit::v1::VerifyChainResponse VerifyWindow(uint64_t from_seq, uint64_t to_seq) {
    const RecordTimeWindow window{Ns(from_seq), Ns(to_seq)};
    auto v = ledger_->Verify(kVehicle, "", nullptr, &window);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : cit::v1::VerifyChainResponse();
  }

  test::BackendDb db_{GetParam()};
  std::unique_ptr<AuditTrail> trail_;
  std::shared_ptr<AuditLedger> ledger_;
};

INSTANTIATE_TEST_SUITE_P(Backends, VerifyRunSpanTest, ::testing::Values("sqlite", "postgresql"),
                         test::BackendName);

TEST_P(VerifyRunSpanTest, ARunIsVerifiedBetweenTheCheckpointsAroundItNotFromTheFirstRecord) {
  const cit::v1::VerifyChainResponse run = VerifyWindow(1500, 1800);
  ASSERT_TRUE(run.intact()) << run.problem();
  const cit::v1::ChainResult& r = Records(run);
  EXPECT_EQ(r.first_position(), 1000u);  // the checkpoint after record 1,000
  EXPECT_EQ(r.length(), 2000u);          // the checkpoint after record 2,000
  EXPECT_EQ(r.entries_checked(), 1000u);

  // The whole truck: every record.
  auto whole = ledger_->Verify(kVehicle, "", nullptr);
  ASSERT_TRUE(whole.ok());
  EXPECT_TRUE(whole->intact());
  EXPECT_EQ(Records(*whole).first_position(), 0u);
  EXPECT_EQ(Records(*whole).entries_checked(), 3000u);

  // The latest records: after the last checkpoint to the chain's end (and its head row).
  const cit::v1::VerifyChainResponse tail = VerifyWindow(2990, 3100);
  ASSERT_TRUE(tail.intact()) << tail.problem();
  EXPECT_EQ(Records(tail).first_position(), 2000u);
  EXPECT_EQ(Records(tail).entries_checked(), 1000u);
}

TEST_P(VerifyRunSpanTest, AChangedRecordOfTheRunIsNamedAndOneOutsideItIsLeftToTheVehicleCheck) {
  Tamper(
      "UPDATE records SET lat_deg = 48.0 WHERE seq = 1650;"
      "UPDATE records SET lat_deg = 48.0 WHERE seq = 2500;");
  const cit::v1::VerifyChainResponse run = VerifyWindow(1500, 1800);
  EXPECT_FALSE(run.intact());
  EXPECT_EQ(run.first_bad_seq(), 1650u) << run.problem();
  // A run before the changed records: nothing of it changed.
  EXPECT_TRUE(VerifyWindow(100, 400).intact());
  auto whole = ledger_->Verify(kVehicle, "", nullptr);
  ASSERT_TRUE(whole.ok());
  EXPECT_FALSE(whole->intact());
  EXPECT_EQ(whole->first_bad_seq(), 1650u);
}

TEST_P(VerifyRunSpanTest, EveryRecordOfTheRunDeletedLeavesAHoleInsideTheSpan) {
  Tamper("DELETE FROM records WHERE seq BETWEEN 1500 AND 1800;");
  const cit::v1::VerifyChainResponse run = VerifyWindow(1500, 1800);
  EXPECT_FALSE(run.intact());
  EXPECT_EQ(run.first_bad_seq(), 1500u) << run.problem();
  EXPECT_NE(run.problem().find("deleted"), std::string::npos) << run.problem();
}

TEST_P(VerifyRunSpanTest, AHashChangedAtTheSpansEndIsFound) {
  // The last record before the checkpoint that closes the span.
  Tamper(db_.pg() ? "UPDATE records SET hash = decode(repeat('00', 32), 'hex') WHERE seq = 1999;"
                  : "UPDATE records SET hash = zeroblob(32) WHERE seq = 1999;");
  const cit::v1::VerifyChainResponse run = VerifyWindow(1500, 1800);
  EXPECT_FALSE(run.intact());
  EXPECT_EQ(run.first_bad_seq(), 1999u) << run.problem();
}

// A run's verification on PostgreSQL walks the plan log and the alert-event log copied from it
// too: intact as stored, and a change made there after the checkpoint is named.
class PostgresRunLogsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto runs = db_.OpenRunStore();
    ASSERT_TRUE(runs.ok()) << runs.status();
    cit::v1::Run run;
    run.mutable_plan()->set_run_id("R-1");
    run.mutable_plan()->set_vehicle_id(kVehicle);
    run.set_version(1);
    run.set_state(cit::v1::RUN_STATE_PLANNED);
    cit::v1::PlanEvent change;
    change.set_actor("dora");
    ASSERT_TRUE((*runs)->Save(run, change).ok());
    auto alerts = db_.OpenAlertStore();
    ASSERT_TRUE(alerts.ok()) << alerts.status();
    cit::v1::AlertEvent event;
    event.set_event_id(1);
    event.mutable_alert()->set_alert_id(1);
    event.mutable_alert()->set_vehicle_id(kVehicle);
    event.mutable_alert()->set_run_id("R-1");
    ASSERT_TRUE((*alerts)->Append(std::vector<cit::v1::AlertEvent>{event}).ok());
    auto store = db_.OpenRecordStore();
    ASSERT_TRUE(store.ok()) << store.status();
    AppendBatch batch;
    for (uint64_t s = 1; s <= 10; ++s) batch.records.push_back(Fix(s));
    ASSERT_TRUE((*store)->Append(batch).ok());

    auto trail = AuditTrail::Open({}, db_.path(), db_.conninfo());
    ASSERT_TRUE(trail.ok()) << trail.status();
    trail_ = *std::move(trail);
    auto signed_heads = trail_->log().Append("interval", std::chrono::system_clock::now());
    ASSERT_TRUE(signed_heads.ok()) << signed_heads.status();
    std::set<std::string> chains;
    for (const auto& h : signed_heads->checkpoint().heads()) chains.insert(h.chain());
    EXPECT_EQ(chains, (std::set<std::string>{std::string("records/") + kVehicle, "plans", "alerts",
                                             "identities"}));
    ledger_ = trail_->ledger();
  }

  cit::v1::VerifyChainResponse VerifyRun() {
    auto v = ledger_->Verify(kVehicle, "R-1", nullptr);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : cit::v1::VerifyChainResponse();
  }

  test::BackendDb db_{"postgresql"};
  std::unique_ptr<AuditTrail> trail_;
  std::shared_ptr<AuditLedger> ledger_;
};

TEST_F(PostgresRunLogsTest, TheRunsRecordsPlanLogAndAlertEventsVerify) {
  const cit::v1::VerifyChainResponse v = VerifyRun();
  EXPECT_TRUE(v.intact()) << v.problem();
  EXPECT_EQ(v.records_checked(), 10u);
  std::map<std::string, uint64_t> checked;
  for (const auto& c : v.chains()) checked[c.chain()] = c.entries_checked();
  EXPECT_EQ(checked["plans"], 1u);
  EXPECT_EQ(checked["alerts"], 1u);
  EXPECT_EQ(ledger_->LoggedRunVehicle("R-1").value_or(""), kVehicle);
}

TEST_F(PostgresRunLogsTest, APlanEventOrAlertEventChangedInPostgresqlIsNamed) {
  ASSERT_TRUE(db_.Exec("ALTER TABLE plan_events DISABLE TRIGGER USER;"
                       "UPDATE plan_events SET actor = 'mallory', hash = decode(repeat('00', 32), "
                       "'hex') WHERE idx = 1")
                  .ok());
  cit::v1::VerifyChainResponse v = VerifyRun();
  EXPECT_FALSE(v.intact());
  EXPECT_EQ(v.problem().rfind("plans: ", 0), 0u) << v.problem();
  ASSERT_TRUE(db_.Exec("ALTER TABLE alert_events DISABLE TRIGGER USER;"
                       "DELETE FROM alert_events")
                  .ok());
  v = VerifyRun();
  bool alerts_broken = false;
  for (const auto& c : v.chains()) alerts_broken |= c.chain() == "alerts" && !c.intact();
  EXPECT_TRUE(alerts_broken) << v.DebugString();
}

}  // namespace
}  // namespace cit::dispatch

// Verifying a run walks only the part of its vehicle's record chain between the signed
// checkpoints around the run (issue 16 §3): the work follows the run, not the truck's history,
// and every change to the run's records is still found.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <memory>
#include <string>

#include "dispatch-server/audit/audit_ledger.h"
#include "dispatch-server/audit/checkpoint_key.h"
#include "dispatch-server/audit/checkpoint_log.h"
#include "dispatch-server/store/record_chain_check.h"
#include "dispatch-server/store/sqlite_run_store.h"
#include "dispatch-server/store/sqlite_store.h"
#include "tests/support/test_env.h"

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

class VerifyRunSpanTest : public ::testing::Test {
 protected:
  // 3,000 records of one truck, a signed checkpoint after each 1,000.
  void SetUp() override {
    ASSERT_TRUE(SqliteRunStore::Open(db_).ok());
    auto key = CheckpointKey::Generate();
    ASSERT_TRUE(key.ok());
    auto log = CheckpointLog::Open(db_, *key);
    ASSERT_TRUE(log.ok()) << log.status();
    auto store = SqliteStore::Open(db_);
    ASSERT_TRUE(store.ok()) << store.status();
    for (uint64_t first = 1; first <= 3000; first += 1000) {
      AppendBatch batch;
      for (uint64_t s = first; s < first + 1000; ++s) batch.records.push_back(Fix(s));
      ASSERT_TRUE((*store)->Append(batch).ok());
      ASSERT_TRUE((*log)->Append("interval", std::chrono::system_clock::now()).ok());
    }
    store->reset();
    auto ledger = AuditLedger::Open(db_, *key);
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    ledger_ = *std::move(ledger);
  }

  const cit::v1::ChainResult& Records(const cit::v1::VerifyChainResponse& v) {
    for (const auto& c : v.chains()) {
      if (c.chain() == std::string("records/") + kVehicle) return c;
    }
    ADD_FAILURE() << "no records chain";
    return v.chains(0);
  }

  void Sql(const std::string& sql) {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(db_.c_str(), &h), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << err;
    sqlite3_free(err);
    sqlite3_close(h);
  }

  cit::v1::VerifyChainResponse VerifyWindow(uint64_t from_seq, uint64_t to_seq) {
    const RecordTimeWindow window{Ns(from_seq), Ns(to_seq)};
    auto v = ledger_->Verify(kVehicle, "", nullptr, &window);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : cit::v1::VerifyChainResponse();
  }

  test::TempDir dir_;
  std::filesystem::path db_ = dir_ / "dispatch.db";
  std::unique_ptr<AuditLedger> ledger_;
};

TEST_F(VerifyRunSpanTest, ARunIsVerifiedBetweenTheCheckpointsAroundItNotFromTheFirstRecord) {
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

TEST_F(VerifyRunSpanTest, AChangedRecordOfTheRunIsNamedAndOneOutsideItIsLeftToTheVehicleCheck) {
  Sql("DROP TRIGGER records_append_only_update;"
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

TEST_F(VerifyRunSpanTest, EveryRecordOfTheRunDeletedLeavesAHoleInsideTheSpan) {
  Sql("DROP TRIGGER records_append_only_delete;"
      "DELETE FROM records WHERE seq BETWEEN 1500 AND 1800;");
  const cit::v1::VerifyChainResponse run = VerifyWindow(1500, 1800);
  EXPECT_FALSE(run.intact());
  EXPECT_EQ(run.first_bad_seq(), 1500u) << run.problem();
  EXPECT_NE(run.problem().find("deleted"), std::string::npos) << run.problem();
}

TEST_F(VerifyRunSpanTest, AHashChangedAtTheSpansEndIsFound) {
  // The last record before the checkpoint that closes the span.
  Sql("DROP TRIGGER records_append_only_update;"
      "UPDATE records SET hash = zeroblob(32) WHERE seq = 1999;");
  const cit::v1::VerifyChainResponse run = VerifyWindow(1500, 1800);
  EXPECT_FALSE(run.intact());
  EXPECT_EQ(run.first_bad_seq(), 1999u) << run.problem();
}

}  // namespace
}  // namespace cit::dispatch

// The plans of the PostgreSQL store's per-vehicle reads other than the export scan
// (postgres_record_scan_test.cc): the replay reader's ForEach and Locate (the monitor's state
// rebuild on restart and on takeover), ReadBySeq and ReadByEventTime, on a realistic shape --
// several vehicles, thousands of records each, interleaved as a fleet writes them -- before the
// table is analyzed, after, and for a vehicle newer than the last ANALYZE (its statistics make it
// look rare, so every index starting with vehicle_id costs the same to the planner). Each query
// asks for the order of exactly one index and runs after kPgRecordScanSettingsSql (no sort, no
// bitmap scan), so that index's range scan is its only plan. Before, for the newer vehicle, ForEach
// (start lookup and rows), ReadByEventTime and Locate walked records_by_chain over the vehicle's
// whole chain and dropped all but the rows they wanted with a filter.
//
// VehiclesHeardSince (the start-up's list of vehicles heard within the warm-up) probes each
// vehicle's newest record once, in all three states.
//
// ForEachAfter, LastReceivedBefore and VerifyChain already read records_by_chain in its own order
// in all three states; they are not asserted here.
#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "dispatch-server/store/postgres_replay_reader.h"
#include "tests/dispatch/store_backends.h"
#include "tests/dispatch/stored_fix.h"

namespace cit::dispatch {
namespace {

constexpr int kVehicles = 6;
constexpr uint64_t kRecordsEach = 4000;
constexpr int64_t kBase = 1'800'000'000;  // test_records::Fix's event time of seq 0
constexpr int64_t kNs = 1'000'000'000;

class PostgresReadPlansTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (db_.conninfo().empty()) GTEST_SKIP() << "no PostgreSQL (the failure above says why)";
    auto store = db_.OpenRecordStore();
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    std::vector<std::string> fleet;
    for (int v = 1; v <= kVehicles; ++v) fleet.push_back("CIT-" + std::to_string(v));
    AppendRecords(fleet, kRecordsEach);
  }

  // `count` records for each of `vehicles`, interleaved, 500 seqs a batch.
  void AppendRecords(const std::vector<std::string>& vehicles, uint64_t count) {
    for (uint64_t first = 1; first <= count; first += 500) {
      AppendBatch batch;
      for (uint64_t seq = first; seq < first + 500 && seq <= count; ++seq) {
        for (const std::string& vehicle : vehicles) {
          batch.records.push_back(test_records::Fix(vehicle, seq));
        }
      }
      ASSERT_TRUE(store_->Append(batch).ok());
    }
  }

  void Analyze() {
    pqxx::connection c(db_.conninfo());
    pqxx::nontransaction t(c);
    t.exec("ANALYZE records");
  }

  // `explain` of `sql` with `params`, after `settings` (if any), printed.
  template <typename... Args>
  std::string Plan(const std::string& explain, const char* settings, const char* sql,
                   Args&&... params) {
    pqxx::connection c(db_.conninfo());
    pqxx::read_transaction t(c);
    if (settings != nullptr) t.exec(settings);
    std::string plan;
    for (const pqxx::row& row : t.exec_params(explain + " " + sql, std::forward<Args>(params)...)) {
      plan += row[0].as<std::string>() + "\n";
    }
    std::printf("%s", plan.c_str());
    return plan;
  }

  // ForEach's plan from event second `from`: the start from records_by_event_time, then the seq
  // range of records_pkey; no sort, no filter, the chain index never walked.
  void ExpectReplayReadsOneRangeOfEachIndex(const std::string& vehicle, int64_t from) {
    const std::string plan =
        Plan("EXPLAIN", kPgRecordScanSettingsSql, kPgReplayFromSql, vehicle, (kBase + from) * kNs);
    EXPECT_NE(plan.find("Index Only Scan using records_by_event_time"), std::string::npos) << plan;
    EXPECT_NE(plan.find("Index Scan using records_pkey"), std::string::npos) << plan;
    EXPECT_NE(plan.find("seq >= $0"), std::string::npos) << plan;
    ExpectNoWalkSortOrFilter(plan);
  }

  // ReadBySeq's, ReadByEventTime's and Locate's plans: one range scan of the index whose order
  // they ask for, that stops at the limit.
  void ExpectPointReadsUseTheirIndex(const std::string& vehicle, int64_t seq) {
    std::string plan = Plan("EXPLAIN", kPgRecordScanSettingsSql, kPgRecordsBySeqSql, vehicle, seq,
                            int64_t{1} << 62, int64_t{100});
    EXPECT_NE(plan.find("Index Scan using records_pkey"), std::string::npos) << plan;
    ExpectNoWalkSortOrFilter(plan);
    plan = Plan("EXPLAIN", kPgRecordScanSettingsSql, kPgRecordsByEventTimeSql, vehicle,
                (kBase + seq) * kNs, (kBase + 100'000) * kNs, int64_t{100});
    EXPECT_NE(plan.find("Index Scan using records_by_event_time"), std::string::npos) << plan;
    ExpectNoWalkSortOrFilter(plan);
    plan = Plan("EXPLAIN", kPgRecordScanSettingsSql, kPgLocateSql, vehicle, seq);
    EXPECT_NE(plan.find("Index Scan using records_pkey"), std::string::npos) << plan;
    ExpectNoWalkSortOrFilter(plan);
  }

  // VehiclesHeardSince's plan: per vehicle one backward step into records_by_event_time (the
  // LIMIT stops it); records never scanned whole.
  void ExpectHeardSinceProbesEachVehicleOnce(int64_t since) {
    const std::string plan =
        Plan("EXPLAIN", kPgRecordScanSettingsSql, kPgVehiclesHeardSinceSql, (kBase + since) * kNs);
    EXPECT_NE(plan.find("Index Only Scan Backward using records_by_event_time"), std::string::npos)
        << plan;
    EXPECT_NE(plan.find("Limit"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("Seq Scan on records"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("records_by_chain"), std::string::npos) << plan;
  }

  static void ExpectNoWalkSortOrFilter(const std::string& plan) {
    EXPECT_EQ(plan.find("records_by_chain"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("Sort"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("Filter"), std::string::npos) << plan;
    EXPECT_EQ(plan.find("Seq Scan"), std::string::npos) << plan;
  }

  dispatch::test::BackendDb db_{"postgresql"};
  std::unique_ptr<Store> store_;
};

TEST_F(PostgresReadPlansTest, OnAFreshTable) {
  ExpectReplayReadsOneRangeOfEachIndex("CIT-3", 3900);
  ExpectPointReadsUseTheirIndex("CIT-3", 3900);
  ExpectHeardSinceProbesEachVehicleOnce(3900);
}

TEST_F(PostgresReadPlansTest, OnAnAnalyzedTable) {
  Analyze();
  ExpectReplayReadsOneRangeOfEachIndex("CIT-3", 3900);
  ExpectPointReadsUseTheirIndex("CIT-3", 3900);
  ExpectHeardSinceProbesEachVehicleOnce(3900);
}

TEST_F(PostgresReadPlansTest, ForAVehicleNewerThanTheLastAnalyze) {
  Analyze();
  AppendRecords({"CIT-9"}, 20'000);
  ExpectReplayReadsOneRangeOfEachIndex("CIT-9", 19'000);
  ExpectPointReadsUseTheirIndex("CIT-9", 19'000);
  ExpectHeardSinceProbesEachVehicleOnce(19'000);
  // What the replay reads for the last 1,000 of 20,000 records (printed, for
  // docs/benchmarks.md).
  Plan("EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON)", kPgRecordScanSettingsSql, kPgReplayFromSql,
       std::string("CIT-9"), (kBase + 19'000) * kNs);
}

}  // namespace
}  // namespace cit::dispatch

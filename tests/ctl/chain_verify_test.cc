// `audit verify` logic against a real store, on both backends (Backends/ChainVerifyTest.<case>/
// sqlite and /postgresql): intact chains verify, and one record altered in the database (the
// SQLite file, or the PostgreSQL database as its superuser) is found and named.
#include <gtest/gtest.h>

#include "dispatch-server/audit/audit_service.h"
#include "dispatch-server/audit/store_audit_source.h"
#include "tests/ctl/scenario.h"
#include "tests/dispatch/store_backends.h"
#include "tests/support/test_env.h"

namespace cit::dispatch {
namespace {

namespace sc = cit::test::scenario;

// `bytes` as a blob literal of the backend's SQL.
std::string BlobLiteral(const test::BackendDb& db, const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : bytes) {
    hex += kHex[c >> 4];
    hex += kHex[c & 15];
  }
  return db.pg() ? "'\\x" + hex + "'::bytea" : "X'" + hex + "'";
}

class ChainVerifyTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    auditor_.reset();
    store_.reset();
    auto store = db_.OpenRecordStore();
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auditor_ = std::make_unique<Auditor>(std::make_shared<StoreAuditSource>(
        *store_,
        [](const std::string& id) -> absl::StatusOr<cit::v1::Run> {
          if (id != sc::kRun) return absl::NotFoundError("no run " + id);
          return sc::MakeRun();
        },
        nullptr));
  }
  void AppendScenario() {
    AppendBatch batch;
    for (const auto& r : sc::MakeRecords()) {
      batch.records.push_back(CommittedRecord{sc::kVehicle, r, std::chrono::system_clock::now()});
    }
    ASSERT_TRUE(store_->Append(batch).ok());
  }
  cit::v1::VerifyChainResponse VerifyRun() {
    cit::v1::VerifyChainRequest req;
    req.set_run_id(sc::kRun);
    auto v = auditor_->Verify(req);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : cit::v1::VerifyChainResponse();
  }

  test::BackendDb db_{GetParam()};
  std::unique_ptr<Store> store_;
  std::unique_ptr<Auditor> auditor_;
};

TEST_P(ChainVerifyTest, IntactChainVerifiesWithHeadAndCount) {
  AppendScenario();
  cit::v1::VerifyChainResponse v = VerifyRun();
  EXPECT_TRUE(v.intact());
  EXPECT_EQ(v.records_checked(), sc::MakeRecords().size());
  EXPECT_EQ(v.vehicle_id(), sc::kVehicle);
  EXPECT_EQ(v.chain_head().size(), 64u);
  // The run report carries the head of the run's own records: here all of them.
  auto report = auditor_->Report(sc::kRun);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->chain_head(), v.chain_head());
}

TEST_P(ChainVerifyTest, AlteredRecordInTheDatabaseIsNamed) {
  AppendScenario();
  store_.reset();
  auditor_.reset();
  // An insider with write access to the database moves fix seq 5 by ~100 m. The append-only
  // trigger must be dropped (disabled) first; the hash chain is what still catches it.
  cit::v1::Record forged = sc::MakeRecords()[4];
  ASSERT_EQ(forged.seq(), 5u);
  forged.mutable_fix()->set_lat_deg(forged.fix().lat_deg() + 0.001);
  std::string body;
  ASSERT_TRUE(forged.SerializeToString(&body));
  ASSERT_TRUE(db_.Exec(db_.pg() ? "ALTER TABLE records DISABLE TRIGGER USER"
                                : "DROP TRIGGER records_append_only_update")
                  .ok());
  ASSERT_TRUE(db_.Exec("UPDATE records SET body = " + BlobLiteral(db_, body) +
                       " WHERE vehicle_id = 'CIT-0001' AND seq = 5")
                  .ok());
  Reopen();
  cit::v1::VerifyChainResponse v = VerifyRun();
  EXPECT_FALSE(v.intact());
  EXPECT_EQ(v.first_bad_seq(), 5u);
  EXPECT_EQ(v.vehicle_id(), sc::kVehicle);
  EXPECT_EQ(v.records_checked(), 4u);
  EXPECT_FALSE(v.problem().empty());
}

TEST_P(ChainVerifyTest, UnknownVehicleIsNotFound) {
  cit::v1::VerifyChainRequest req;
  req.set_vehicle_id("CIT-9999");
  EXPECT_EQ(auditor_->Verify(req).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(ChainVerifyTest, ExportOfTheRunReadsItsRecordsFromTheStore) {
  AppendScenario();
  cit::v1::ExportRunRequest req;
  req.set_run_id(sc::kRun);
  req.set_format(cit::v1::EXPORT_FORMAT_CSV);
  auto doc = auditor_->Export(req);
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(std::count(doc->content().begin(), doc->content().end(), '\n'),
            static_cast<long>(sc::MakeRecords().size() + 1));
}

INSTANTIATE_TEST_SUITE_P(Backends, ChainVerifyTest, ::testing::Values("sqlite", "postgresql"),
                         test::BackendName);

}  // namespace
}  // namespace cit::dispatch

// The telemetry ingest end to end in process: real gRPC over loopback mTLS with certificates
// from deploy/make-certs.sh, a real SQLite file, the DispatchServer assembly.
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <mutex>
#include <thread>

#include "dispatch-server/server/dispatch_server.h"
#include "dispatch-server/store/sqlite_store.h"
#include "tests/dispatch/telemetry_test_client.h"
#include "tests/support/log_capture.h"
#include "tests/support/postgres_server.h"

namespace cit::dispatch {
namespace {

using test::Fixes;
using test::MakeFix;
using test::TelemetryTestClient;

// Records every committed batch, as the monitor would (enqueue only).
class RecordingObserver final : public RecordObserver {
 public:
  void OnAccepted(std::span<const CommittedRecord> batch) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const CommittedRecord& r : batch) seen_.emplace_back(r.vehicle_id, r.record.seq());
  }
  std::vector<std::pair<std::string, uint64_t>> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<std::string, uint64_t>> seen_;
};

// Every case runs on both store backends (issue 15): SQLite in the temp dir, and a fresh
// database of the process's own PostgreSQL (tests/support/postgres_server.h).
class IngestTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { certs_ = new test::TestCerts({"CIT-1", "CIT-2", "CIT-3"}); }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
  }

  void SetUp() override {
    if (GetParam() == "postgresql") {
      cit::test::PostgresServer* pg = cit::test::SharedPostgres();
      ASSERT_NE(pg, nullptr);
      absl::StatusOr<std::string> db = pg->CreateDatabase();
      ASSERT_TRUE(db.ok()) << db.status();
      postgres_connection_ = *db;
    }
    StartServer();
  }

  void StartServer(uint32_t max_batch_records = 1000, bool insecure_dev = false,
                   size_t max_batch_bytes = 1 << 20) {
    DispatchServerOptions o;
    o.telemetry_address = "127.0.0.1:0";
    o.operator_address = "127.0.0.1:0";
    o.metrics_address = "127.0.0.1:0";
    o.tls = {certs_->File("ca.crt"), certs_->File("server.crt"), certs_->File("server.key")};
    o.database_path = dir_ / "dispatch.db";
    if (!postgres_connection_.empty()) {
      o.store_backend = DispatchServerOptions::StoreBackend::kPostgresql;
      o.postgres_connection = postgres_connection_;
    }
    o.ingest.max_batch_records = max_batch_records;
    o.ingest.max_batch_bytes = max_batch_bytes;
    o.insecure_dev = insecure_dev;
    o.shutdown_grace = std::chrono::seconds(2);
    DispatchServer::Builder b(o);
    b.AddObserver(&observer_);
    auto server = b.Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  std::shared_ptr<grpc::Channel> Channel(const std::string& cert) {
    return certs_->Channel(server_->telemetry_port(), cert);
  }
  uint64_t Counter(const std::string& name, const MetricLabels& labels = {}) {
    return server_->metrics().GetCounter(name, "", labels).value();
  }
  uint64_t Rejects(const std::string& reason) {
    return Counter("cit_ingest_rejects_total", {{"reason", reason}});
  }

  static test::TestCerts* certs_;
  test::TempDir dir_;
  std::string postgres_connection_;  // empty: SQLite
  RecordingObserver observer_;
  std::unique_ptr<DispatchServer> server_;
};

test::TestCerts* IngestTest::certs_ = nullptr;

INSTANTIATE_TEST_SUITE_P(Backends, IngestTest, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST_P(IngestTest, HelloIsWelcomedAndBatchIsAckedAfterCommit) {
  TelemetryTestClient agent(Channel("CIT-1"));
  EXPECT_EQ(agent.Hello("CIT-1", 1), 0);
  EXPECT_EQ(agent.welcome().max_batch_records(), 1000u);
  ASSERT_TRUE(agent.Send(Fixes(1, 100)));
  ASSERT_TRUE(agent.WaitAck(100));
  // The ack means committed: the store has every record and the chain verifies.
  EXPECT_EQ(*server_->store().CountRecords("CIT-1"), 100u);
  auto v = server_->store().VerifyChain("CIT-1");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok) << v->detail;
  EXPECT_EQ(Counter("cit_ingest_records_stored_total"), 100u);
  EXPECT_TRUE(agent.Close().ok());
}

TEST_P(IngestTest, ReconnectAndResendStoresNothingTwiceAndFillsGaps) {
  {
    TelemetryTestClient agent(Channel("CIT-1"));
    ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
    ASSERT_TRUE(agent.Send(Fixes(1, 50)));
    ASSERT_TRUE(agent.WaitAck(50));
  }  // connection dropped without a goodbye
  TelemetryTestClient agent(Channel("CIT-1"));
  ASSERT_EQ(agent.Hello("CIT-1", 30), 50) << "resume after the highest stored seq";
  // An agent that missed the last acks resends from 30: 30..50 are duplicates.
  ASSERT_TRUE(agent.Send(Fixes(30, 80)));
  ASSERT_TRUE(agent.WaitAck(80));
  EXPECT_EQ(*server_->store().CountRecords("CIT-1"), 80u);
  EXPECT_EQ(Counter("cit_ingest_duplicates_total"), 21u);
  auto recs = server_->store().ReadBySeq("CIT-1", 1, 1000);
  ASSERT_TRUE(recs.ok());
  for (size_t i = 0; i < recs->size(); ++i) EXPECT_EQ((*recs)[i].record.seq(), i + 1);
  EXPECT_TRUE(server_->store().VerifyChain("CIT-1")->ok);
}

TEST_P(IngestTest, OutOfOrderBatchesAreStoredButAckWaitsForTheGap) {
  TelemetryTestClient agent(Channel("CIT-1"));
  ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
  // A panic event jumps the queue ahead of the backlog 1..4.
  cit::v1::RecordBatch urgent;
  *urgent.add_records() = MakeFix(5);
  urgent.mutable_records(0)->mutable_panic()->set_source("gpio:17");
  ASSERT_TRUE(agent.Send(urgent));
  ASSERT_TRUE(test::WaitFor([&] { return *server_->store().CountRecords("CIT-1") == 1; }));
  ASSERT_TRUE(agent.Send(Fixes(1, 4)));
  ASSERT_TRUE(agent.WaitAck(5));
  EXPECT_EQ(agent.acks().front(), 5u) << "no ack may cover 5 before 1..4 are stored";
  EXPECT_EQ(*server_->store().CountRecords("CIT-1"), 5u);
  // The observer saw the panic first (commit order), then the backlog.
  auto seen = observer_.seen();
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[0].second, 5u);
  EXPECT_EQ(seen[1].second, 1u);
  EXPECT_TRUE(server_->store().VerifyChain("CIT-1")->ok);
}

// An agent whose journal filled up thinned some fixes; its batch says which seqs are gone.
cit::v1::RecordBatch Thinned(uint64_t covers_from, std::initializer_list<uint64_t> seqs) {
  cit::v1::RecordBatch b;
  b.set_covers_from_seq(covers_from);
  for (uint64_t s : seqs) *b.add_records() = MakeFix(s);
  return b;
}

TEST_P(IngestTest, ThinnedBatchDeclaresItsGapsAndTheAckPassesThem) {
  TelemetryTestClient agent(Channel("CIT-1"));
  ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
  ASSERT_TRUE(agent.Send(Thinned(1, {1, 2, 5, 6, 9})));
  ASSERT_TRUE(agent.WaitAck(9)) << "3-4 and 7-8 were declared gone";
  EXPECT_EQ(*server_->store().CountRecords("CIT-1"), 5u);
  EXPECT_EQ(Counter("cit_ingest_gap_seqs_total"), 4u);
  EXPECT_EQ(Counter("cit_ingest_seq_gaps_total"), 2u);
  // Gap claims on the urgent channel are ignored: 11 is not declared gone by this batch.
  cit::v1::RecordBatch urgent = Thinned(10, {12});
  ASSERT_TRUE(agent.SendUrgent(urgent));
  ASSERT_TRUE(test::WaitFor([&] { return *server_->store().CountRecords("CIT-1") == 6; }));
  EXPECT_EQ(*server_->store().HighestContiguousSeq("CIT-1"), 9u);
  // A claim that does not describe its batch (records below covers_from_seq) is refused whole.
  ASSERT_TRUE(agent.Send(Thinned(20, {10, 21})));
  ASSERT_TRUE(test::WaitFor([&] { return *server_->store().CountRecords("CIT-1") == 8; }));
  EXPECT_EQ(*server_->store().HighestContiguousSeq("CIT-1"), 10u);
  EXPECT_EQ(Counter("cit_ingest_protocol_errors_total"), 1u);
  EXPECT_TRUE(server_->store().VerifyChain("CIT-1")->ok);
}

TEST_P(IngestTest, GapDeclaredAheadOfOlderRecordsJoinsTheWatermarkLaterEvenAfterRestart) {
  {
    TelemetryTestClient agent(Channel("CIT-1"));
    ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
    // 1-2 are not here yet (say, an earlier batch was lost with a stream); 4-5 are gone.
    ASSERT_TRUE(agent.Send(Thinned(3, {3, 6})));
    ASSERT_TRUE(test::WaitFor([&] { return *server_->store().CountRecords("CIT-1") == 2; }));
    EXPECT_EQ(*server_->store().HighestContiguousSeq("CIT-1"), 0u);
  }
  server_.reset();
  StartServer();
  TelemetryTestClient agent(Channel("CIT-1"));
  ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
  ASSERT_TRUE(agent.Send(Fixes(1, 2)));
  ASSERT_TRUE(agent.WaitAck(6)) << "the stored gap 4-5 joins once 1-2 arrive";
  EXPECT_EQ(*server_->store().CountRecords("CIT-1"), 4u);
}

TEST_P(IngestTest, UrgentCopyIsStoredOnceAndNotAckedAheadOfBacklog) {
  TelemetryTestClient agent(Channel("CIT-1"));
  ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
  EXPECT_TRUE(agent.welcome().accepts_urgent());
  cit::v1::RecordBatch urgent;
  *urgent.add_records() = MakeFix(3);
  urgent.mutable_records(0)->mutable_door()->set_door(1);
  urgent.mutable_records(0)->mutable_door()->set_state(cit::v1::DOOR_STATE_OPEN);
  ASSERT_TRUE(agent.SendUrgent(urgent));
  ASSERT_TRUE(test::WaitFor([&] { return *server_->store().CountRecords("CIT-1") == 1; }));
  cit::v1::RecordBatch in_order = Fixes(1, 4);
  *in_order.mutable_records(2) = urgent.records(0);  // the same record again, in seq order
  ASSERT_TRUE(agent.Send(in_order));
  ASSERT_TRUE(agent.WaitAck(4));
  EXPECT_EQ(agent.acks().front(), 4u);
  EXPECT_EQ(*server_->store().CountRecords("CIT-1"), 4u);
  EXPECT_EQ(Counter("cit_ingest_duplicates_total"), 1u);
  auto stored = server_->store().ReadBySeq("CIT-1", 3, 3);
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_TRUE((*stored)[0].record.has_door());
}

TEST_P(IngestTest, DuplicatesWithinAndAcrossBatchesAreDroppedAndCounted) {
  TelemetryTestClient agent(Channel("CIT-1"));
  ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
  cit::v1::RecordBatch b = Fixes(1, 3);
  *b.add_records() = MakeFix(3);  // same seq twice in one batch
  ASSERT_TRUE(agent.Send(b));
  ASSERT_TRUE(agent.Send(Fixes(2, 4)));  // 2, 3 again
  ASSERT_TRUE(agent.WaitAck(4));
  EXPECT_EQ(*server_->store().CountRecords("CIT-1"), 4u);
  EXPECT_EQ(Counter("cit_ingest_duplicates_total"), 3u);
  EXPECT_TRUE(agent.rejects().empty());
}

TEST_P(IngestTest, DescendingSeqWithinBatchIsRejectedAsBadSeq) {
  TelemetryTestClient agent(Channel("CIT-1"));
  ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
  cit::v1::RecordBatch b;
  *b.add_records() = MakeFix(2);
  *b.add_records() = MakeFix(1);
  ASSERT_TRUE(agent.Send(b));
  ASSERT_TRUE(agent.WaitAck(2));
  ASSERT_EQ(agent.rejects().size(), 1u);
  EXPECT_EQ(agent.rejects()[0].seq(), 1u);
  EXPECT_EQ(agent.rejects()[0].reason(), cit::v1::REJECT_REASON_BAD_SEQ);
  EXPECT_EQ(Rejects("BAD_SEQ"), 1u);
}

TEST_P(IngestTest, MalformedRecordsAreRejectedWithReasonWithoutHurtingNeighbours) {
  TelemetryTestClient agent(Channel("CIT-1"));
  TelemetryTestClient other(Channel("CIT-2"));
  ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
  ASSERT_EQ(other.Hello("CIT-2", 1), 0);
  cit::v1::RecordBatch b = Fixes(1, 6);
  b.mutable_records(1)->mutable_fix()->set_lat_deg(std::numeric_limits<double>::quiet_NaN());
  b.mutable_records(2)->mutable_fix()->set_lat_deg(200);
  b.mutable_records(3)->mutable_event_time()->set_seconds(0);              // 1970
  b.mutable_records(4)->mutable_event_time()->set_seconds(4'102'444'800);  // 2100
  ASSERT_TRUE(agent.Send(b));
  ASSERT_TRUE(other.Send(Fixes(1, 10)));
  ASSERT_TRUE(agent.WaitAck(6)) << "rejected records are acknowledged too";
  ASSERT_TRUE(other.WaitAck(10));
  ASSERT_EQ(agent.rejects().size(), 4u);
  EXPECT_EQ(agent.rejects()[0].seq(), 2u);
  EXPECT_EQ(agent.rejects()[0].reason(), cit::v1::REJECT_REASON_NON_FINITE);
  EXPECT_EQ(agent.rejects()[1].reason(), cit::v1::REJECT_REASON_OUT_OF_RANGE);
  EXPECT_EQ(agent.rejects()[2].reason(), cit::v1::REJECT_REASON_TIME_OUT_OF_RANGE);
  EXPECT_EQ(agent.rejects()[3].reason(), cit::v1::REJECT_REASON_TIME_OUT_OF_RANGE);
  EXPECT_EQ(Rejects("NON_FINITE"), 1u);
  EXPECT_EQ(Rejects("OUT_OF_RANGE"), 1u);
  EXPECT_EQ(Rejects("TIME_OUT_OF_RANGE"), 2u);
  EXPECT_EQ(*server_->store().CountRecords("CIT-1"), 2u);
  EXPECT_EQ(*server_->store().CountRecords("CIT-2"), 10u);
  // Nothing silently dropped: every refused record is in the reject log with its bytes.
  auto logged = server_->store().ReadRejects("CIT-1");
  ASSERT_TRUE(logged.ok());
  ASSERT_EQ(logged->size(), 4u);
  cit::v1::Record raw;
  ASSERT_TRUE(raw.ParseFromString((*logged)[1].raw));
  EXPECT_EQ(raw.fix().lat_deg(), 200);
  // The stream goes on.
  ASSERT_TRUE(agent.Send(Fixes(7, 8)));
  ASSERT_TRUE(agent.WaitAck(8));
  EXPECT_TRUE(agent.Close().ok());
}

// Small records, so that 100,000 of them stay under the 4 MiB gRPC message limit.
cit::v1::RecordBatch TinyRecords(uint64_t first, uint64_t count) {
  cit::v1::RecordBatch b;
  for (uint64_t s = first; s < first + count; ++s) {
    cit::v1::Record* r = b.add_records();
    r->set_seq(s);
    r->mutable_event_time()->set_seconds(1'700'000'000);
    r->mutable_heartbeat();
  }
  return b;
}

TEST_P(IngestTest, OversizeBatchEndsItsStreamAtOnceWhileOtherVehiclesAreServed) {
  server_.reset();
  StartServer(/*max_batch_records=*/10);
  TelemetryTestClient agent(Channel("CIT-1"));
  ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
  EXPECT_EQ(agent.welcome().max_batch_records(), 10u);
  ASSERT_TRUE(agent.Send(Fixes(1, 10))) << "at the limit: accepted";
  ASSERT_TRUE(agent.WaitAck(10));
  ASSERT_TRUE(agent.Send(Fixes(11, 21)));
  const grpc::Status st = agent.Drain();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(st.error_message(), ::testing::HasSubstr("11 records"));
  EXPECT_THAT(st.error_message(), ::testing::HasSubstr("ingest.max_batch_records = 10"));
  EXPECT_TRUE(agent.rejects().empty()) << "nothing of the batch is processed or acknowledged";
  EXPECT_EQ(Counter("cit_ingest_batches_refused_total", {{"limit", "records"}}), 1u);
  EXPECT_EQ(*server_->store().CountRecords("CIT-1"), 10u);
  // The agent reconnects and sends what the Welcome allows.
  TelemetryTestClient again(Channel("CIT-1"));
  ASSERT_EQ(again.Hello("CIT-1", 11), 10);
  ASSERT_TRUE(again.Send(Fixes(11, 20)));
  ASSERT_TRUE(again.WaitAck(20));
}

TEST_P(IngestTest, HugeBatchesAreRefusedBeforeAnyPerRecordWorkAndDoNotStallOthers) {
  // Two vehicles each send 100,000 records (~2.3 MB, under the gRPC message limit): once per
  // gRPC callback thread. A third vehicle is served meanwhile, and both huge streams end with a
  // status that names the limit.
  TelemetryTestClient big1(Channel("CIT-1"));
  TelemetryTestClient big2(Channel("CIT-2"));
  ASSERT_EQ(big1.Hello("CIT-1", 1), 0);
  ASSERT_EQ(big2.Hello("CIT-2", 1), 0);
  const cit::v1::RecordBatch huge = TinyRecords(1, 100'000);
  ASSERT_GT(huge.ByteSizeLong(), 1u << 20) << "over both limits; the count is checked first";
  ASSERT_TRUE(big1.Send(huge));
  ASSERT_TRUE(big2.Send(huge));
  TelemetryTestClient small(Channel("CIT-3"));
  ASSERT_EQ(small.Hello("CIT-3", 1), 0);
  ASSERT_TRUE(small.Send(Fixes(1, 5)));
  ASSERT_TRUE(small.WaitAck(5));
  for (TelemetryTestClient* c : {&big1, &big2}) {
    const grpc::Status st = c->Drain();
    EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_THAT(st.error_message(), ::testing::HasSubstr("100000 records"));
    EXPECT_THAT(st.error_message(), ::testing::HasSubstr("ingest.max_batch_records = 1000"));
  }
  EXPECT_EQ(Counter("cit_ingest_batches_refused_total", {{"limit", "records"}}), 2u);
  EXPECT_EQ(Counter("cit_ingest_records_received_total"), 5u) << "huge batches never got in";
  EXPECT_EQ(*server_->store().CountRecords("CIT-1"), 0u);
}

TEST_P(IngestTest, BatchOverTheByteLimitIsRefusedByBytes) {
  server_.reset();
  StartServer(/*max_batch_records=*/1000, /*insecure_dev=*/false, /*max_batch_bytes=*/4096);
  TelemetryTestClient agent(Channel("CIT-1"));
  ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
  cit::v1::RecordBatch b = Fixes(1, 2);
  b.mutable_records(0)->set_vehicle_id(std::string(5000, 'x'));
  ASSERT_TRUE(agent.Send(b));
  const grpc::Status st = agent.Drain();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(st.error_message(), ::testing::HasSubstr("ingest.max_batch_bytes = 4096"));
  EXPECT_EQ(Counter("cit_ingest_batches_refused_total", {{"limit", "bytes"}}), 1u);
}

TEST_P(IngestTest, LargeBatchWithinARaisedLimitIsProcessedWhole) {
  server_.reset();
  StartServer(/*max_batch_records=*/100'000, /*insecure_dev=*/false,
              /*max_batch_bytes=*/4 << 20);
  TelemetryTestClient agent(Channel("CIT-1"));
  ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
  ASSERT_TRUE(agent.Send(TinyRecords(1, 100'000)));
  ASSERT_TRUE(agent.WaitAck(100'000));
  EXPECT_EQ(*server_->store().CountRecords("CIT-1"), 100'000u);
  EXPECT_TRUE(agent.rejects().empty());
}

TEST_P(IngestTest, AgentTimeBeyondNanosecondRangeIsRefusedNotStoredWrapped) {
  TelemetryTestClient agent(Channel("CIT-1"));
  ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
  cit::v1::RecordBatch b = Fixes(1, 2);
  b.mutable_records(1)->mutable_agent_time()->set_seconds(std::numeric_limits<int64_t>::max());
  ASSERT_TRUE(agent.Send(b));
  ASSERT_TRUE(agent.WaitAck(2));
  ASSERT_EQ(agent.rejects().size(), 1u) << "was stored with agent_time -1,000,000,000 ns";
  EXPECT_EQ(agent.rejects()[0].seq(), 2u);
  EXPECT_EQ(agent.rejects()[0].reason(), cit::v1::REJECT_REASON_TIME_OUT_OF_RANGE);
  EXPECT_THAT(agent.rejects()[0].detail(), ::testing::HasSubstr("agent_time.seconds"));
  EXPECT_EQ(*server_->store().CountRecords("CIT-1"), 1u);
}

TEST_P(IngestTest, HelloClaimingAnotherVehicleIsPermissionDenied) {
  TelemetryTestClient agent(Channel("CIT-1"));
  EXPECT_EQ(agent.Hello("CIT-2", 1), -1);
  EXPECT_EQ(agent.Drain().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Counter("cit_ingest_identity_mismatch_total"), 1u);
}

TEST_P(IngestTest, IdentityMismatchFloodIsCountedExactlyButLoggedBounded) {
  test::LogCapture log;
  constexpr int kStreams = 300;
  auto channel = Channel("CIT-1");
  for (int i = 0; i < kStreams; ++i) {
    TelemetryTestClient agent(channel);
    ASSERT_EQ(agent.Hello("CIT-2", 1), -1);
    ASSERT_EQ(agent.Drain().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  EXPECT_EQ(Counter("cit_ingest_stream_refusals_total", {{"reason", "identity_mismatch"}}),
            static_cast<uint64_t>(kStreams));
  EXPECT_EQ(Counter("cit_ingest_identity_mismatch_total"), static_cast<uint64_t>(kStreams));
  EXPECT_EQ(log.CountContaining("event=identity_mismatch"), RefusalLogOptions{}.burst);
}

TEST_P(IngestTest, RecordClaimingAnotherVehicleIsRefusedAndNotStored) {
  TelemetryTestClient agent(Channel("CIT-1"));
  ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
  cit::v1::RecordBatch b = Fixes(1, 2);
  b.mutable_records(1)->set_vehicle_id("CIT-2");
  ASSERT_TRUE(agent.Send(b));
  ASSERT_TRUE(agent.WaitAck(2));
  ASSERT_EQ(agent.rejects().size(), 1u);
  EXPECT_EQ(agent.rejects()[0].reason(), cit::v1::REJECT_REASON_WRONG_VEHICLE);
  EXPECT_EQ(*server_->store().CountRecords("CIT-2"), 0u);
  EXPECT_EQ(Rejects("WRONG_VEHICLE"), 1u);
}

TEST_P(IngestTest, CertificateFromUnknownCaIsRefused) {
  TelemetryTestClient agent(Channel("FOREIGN-1"));
  EXPECT_EQ(agent.Hello("FOREIGN-1", 1), -1);
  EXPECT_FALSE(agent.Drain().ok());
  EXPECT_TRUE(server_->store().ListVehicles()->empty());
}

TEST_P(IngestTest, ExpiredCertificateIsRefused) {
  TelemetryTestClient agent(Channel("EXPIRED-1"));
  EXPECT_EQ(agent.Hello("EXPIRED-1", 1), -1);
  EXPECT_FALSE(agent.Drain().ok());
}

TEST_P(IngestTest, ClientWithoutCertificateIsRefused) {
  TelemetryTestClient agent(Channel(""));
  EXPECT_EQ(agent.Hello("CIT-1", 1), -1);
  EXPECT_FALSE(agent.Drain().ok());
}

TEST_P(IngestTest, NewStreamReplacesOldOneWhichEndsAborted) {
  TelemetryTestClient first(Channel("CIT-1"));
  ASSERT_EQ(first.Hello("CIT-1", 1), 0);
  ASSERT_TRUE(first.Send(Fixes(1, 5)));
  ASSERT_TRUE(first.WaitAck(5));
  TelemetryTestClient second(Channel("CIT-1"));
  ASSERT_EQ(second.Hello("CIT-1", 6), 5);
  EXPECT_EQ(first.Drain().error_code(), grpc::StatusCode::ABORTED);
  ASSERT_TRUE(second.Send(Fixes(6, 7)));
  ASSERT_TRUE(second.WaitAck(7));
  EXPECT_EQ(Counter("cit_ingest_streams_replaced_total"), 1u);
}

TEST_P(IngestTest, InsecureDevTakesVehicleFromHello) {
  server_.reset();
  StartServer(1000, /*insecure_dev=*/true);
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->telemetry_port()),
                                     grpc::InsecureChannelCredentials());
  {
    TelemetryTestClient agent(channel);
    ASSERT_EQ(agent.Hello("DEV-7", 1), 0);
    ASSERT_TRUE(agent.Send(Fixes(1, 3)));
    ASSERT_TRUE(agent.WaitAck(3));
  }
  EXPECT_EQ(*server_->store().CountRecords("DEV-7"), 3u);
  TelemetryTestClient nameless(channel);
  EXPECT_EQ(nameless.Hello("", 1), -1);
  EXPECT_EQ(nameless.Drain().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_P(IngestTest, BatchBeforeHelloEndsStreamWithFailedPrecondition) {
  TelemetryTestClient agent(Channel("CIT-1"));
  ASSERT_TRUE(agent.Send(Fixes(1, 1)));
  EXPECT_EQ(agent.Drain().error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Counter("cit_ingest_protocol_errors_total"), 1u);
}

TEST_P(IngestTest, ShutdownCommitsAndAcksWhatWasReceivedThenEndsStreams) {
  TelemetryTestClient agent(Channel("CIT-1"));
  ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
  ASSERT_TRUE(agent.Send(Fixes(1, 200)));
  // Received and committed; the ack may or may not be on its way yet.
  ASSERT_TRUE(test::WaitFor([&] { return *server_->store().CountRecords("CIT-1") == 200; }));
  std::thread stopper([&] { server_->Shutdown(); });
  grpc::Status st = agent.Drain();
  stopper.join();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(agent.acked(), 200u) << "every committed record is acked before the stream ends";
  EXPECT_EQ(*server_->store().CountRecords("CIT-1"), 200u);
}

TEST_P(IngestTest, SecondServerOnATakenPortRefusesToStart) {
  DispatchServerOptions o;
  o.telemetry_address = "127.0.0.1:" + std::to_string(server_->telemetry_port());
  o.operator_address = "127.0.0.1:0";
  o.metrics_address = "";
  o.insecure_dev = true;
  o.database_path = dir_ / "second.db";
  auto second = DispatchServer::Builder(o).Start();
  ASSERT_FALSE(second.ok()) << "two servers would share the port (SO_REUSEPORT)";
  EXPECT_THAT(std::string(second.status().message()), ::testing::HasSubstr("cannot listen"));
}

TEST_P(IngestTest, MetricsPortServesPrometheusText) {
  TelemetryTestClient agent(Channel("CIT-1"));
  ASSERT_EQ(agent.Hello("CIT-1", 1), 0);
  ASSERT_TRUE(agent.Send(Fixes(1, 3)));
  ASSERT_TRUE(agent.WaitAck(3));
  std::string text = server_->metrics().Render();
  EXPECT_NE(text.find("cit_ingest_records_stored_total 3"), std::string::npos) << text;
  EXPECT_NE(text.find("cit_connected_vehicles 1"), std::string::npos);
  EXPECT_NE(text.find("# TYPE cit_ingest_commit_seconds histogram"), std::string::npos);
  // And over HTTP.
  std::string out = (dir_ / "metrics.txt").string();
  std::string cmd =
      "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(server_->metrics_port()) +
      " && printf 'GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' >&3 && cat <&3 > " + out;
  ASSERT_EQ(std::system(("bash -c \"" + cmd + "\"").c_str()), 0);
  std::string http = test::ReadFile(out);
  EXPECT_EQ(http.rfind("HTTP/1.1 200 OK", 0), 0u) << http;
  EXPECT_NE(http.find("cit_ingest_records_stored_total 3"), std::string::npos);
}

TEST_P(IngestTest, HealthServiceReportsServingOnBothPorts) {
  for (int port : {server_->telemetry_port(), server_->operator_port()}) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = certs_->Read("ca.crt");
    if (port == server_->telemetry_port()) {
      o.pem_private_key = certs_->Read("CIT-3.key");
      o.pem_cert_chain = certs_->Read("CIT-3.crt");
    }
    auto channel =
        grpc::CreateChannel("localhost:" + std::to_string(port), grpc::SslCredentials(o));
    // grpc.health.v1.Health/Check with an empty request (service ""), via the generic stub:
    // Debian ships no generated health headers. SERVING encodes as field 1 = 1: 08 01.
    grpc::GenericStub stub(channel);
    grpc::CompletionQueue cq;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Slice empty("", 0);
    grpc::ByteBuffer request(&empty, 1), response;
    auto call = stub.PrepareUnaryCall(&ctx, "/grpc.health.v1.Health/Check", request, &cq);
    call->StartCall();
    grpc::Status st;
    call->Finish(&response, &st, reinterpret_cast<void*>(1));
    void* tag = nullptr;
    bool ok = false;
    ASSERT_TRUE(cq.Next(&tag, &ok));
    ASSERT_TRUE(st.ok()) << port << ": " << st.error_message();
    std::vector<grpc::Slice> slices;
    ASSERT_TRUE(response.Dump(&slices).ok());
    std::string bytes;
    for (const auto& sl : slices)
      bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
    EXPECT_EQ(bytes, std::string("\x08\x01", 2)) << "SERVING";
  }
}

}  // namespace
}  // namespace cit::dispatch
